"""The evaluation loop (token counting, IW-NLL vs -ELBO, its figures against closed forms) and early stopping in
AWDTrainer."""

import math

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from hf_awd import AWDTrainer, AWDTrainingArguments, SequenceVAE
from hf_awd.data import build_word_tokenizer, encode_sentences
from hf_awd.evaluation import evaluate_sequence_vae
from hf_awd.training import trainer as trainer_module

from .conftest import tiny_config

SENTENCES = ["the cat sat on the mat", "a dog ran", "the red dog sat in the park", "a cat ran on the mat"]


def make_dataset(tokenizer, sentences=SENTENCES):
    input_ids = encode_sentences(tokenizer, sentences)
    return Dataset.from_dict({"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids]})


def make_loader(tokenizer, batch_size=3):
    return DataLoader(make_dataset(tokenizer), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))


def test_token_counting_and_iw_nll_decreases_with_k_below_neg_elbo():
    tokenizer = build_word_tokenizer(SENTENCES, min_frequency=1)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer)))
    with torch.no_grad():  # posterior means away from 0, so the ELBO is clearly loose (KL ~ 2 nats)
        model.to_posterior.bias[: model.config.latent_size] = 1.0
    loader = make_loader(tokenizer)
    nll = {k: sum(evaluate_sequence_vae(model, loader, iw_samples=k, seed=s)["nll"] for s in range(5)) / 5
           for k in (1, 10, 200)}
    metrics = evaluate_sequence_vae(model, loader, iw_samples=200)
    # words + <eos> per sentence: 6+1, 3+1, 7+1, 6+1
    assert metrics["num_tokens"] == 26 and metrics["num_sentences"] == 4
    assert nll[1] > nll[10] > nll[200]  # k = 1 is the ELBO itself; more samples tighten the bound
    assert metrics["nll"] < metrics["neg_elbo"] - 0.5
    assert abs(metrics["ppl"] - torch.tensor(metrics["nll"] * 4 / 26).exp().item()) < 1e-3


def test_iw_nll_is_exact_when_posterior_is_the_prior_and_decoder_ignores_z():
    tokenizer = build_word_tokenizer(SENTENCES, min_frequency=1)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer)))
    with torch.no_grad():  # q(z|x) = N(0, I) and no path from z to the decoder
        for module in (model.to_posterior, model.latent_to_state):
            for param in module.parameters():
                param.zero_()
        model.decoder.predict_cell.weight_ih.zero_()
        model.decoder.update_cell.weight_ih[:, model.config.embedding_size :].zero_()
    metrics = evaluate_sequence_vae(model, make_loader(tokenizer), iw_samples=7)
    assert metrics["kl"] == 0 and metrics["active_units"] == 0
    assert abs(metrics["nll"] - metrics["neg_elbo"]) < 1e-4
    assert abs(metrics["nll"] - metrics["reconstruction"]) < 1e-4


def test_early_stopping_stops_and_keeps_the_best_checkpoint(tmp_path, monkeypatch):
    """Validation -ELBO scripted as 10, 8, 9, 9.5, ...: with patience 2, training stops after step 4 and the model
    at the end holds checkpoint-2's (averaged) weights."""
    scripted = iter([10.0, 8.0, 9.0, 9.5, 7.0, 6.0, 5.0, 4.0])

    def fake_evaluate(model, dataloader, **kwargs):
        return {"neg_elbo": next(scripted)}

    monkeypatch.setattr(trainer_module, "evaluate_sequence_vae", fake_evaluate)
    tokenizer = build_word_tokenizer(SENTENCES, min_frequency=1)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer)))
    args = AWDTrainingArguments(
        output_dir=str(tmp_path), max_steps=8, per_device_train_batch_size=2, eval_strategy="steps", eval_steps=1,
        save_strategy="steps", save_steps=1, save_total_limit=None, early_stopping_patience=2, report_to="none",
        disable_tqdm=True, use_cpu=True,
    )
    trainer = AWDTrainer(model=model, args=args, train_dataset=make_dataset(tokenizer),
                         eval_dataset=make_dataset(tokenizer), data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    assert trainer.state.global_step == 4
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-2")
    best = load_file(f"{trainer.state.best_model_checkpoint}/model.safetensors")
    for name, param in model.named_parameters():
        assert torch.equal(param.detach(), best[name]), name


def test_polyak_average_is_what_checkpoints_hold(tmp_path):
    tokenizer = build_word_tokenizer(SENTENCES, min_frequency=1)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer)))
    args = AWDTrainingArguments(
        output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=2, eval_strategy="no",
        save_strategy="steps", save_steps=3, load_best_model_at_end=False, report_to="none", disable_tqdm=True,
        use_cpu=True, learning_rate=0.05,
    )
    trainer = AWDTrainer(model=model, args=args, train_dataset=make_dataset(tokenizer),
                         data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    saved = load_file(tmp_path / "checkpoint-3" / "model.safetensors")
    online = load_file(tmp_path / "checkpoint-3" / "online_model.safetensors")
    name = "lm_head.weight"
    assert not torch.equal(saved[name], online[name])  # averaged != online after 3 steps
    assert torch.equal(model.state_dict()[name], saved[name])  # the final model is the average


class KnownGaussianModel(torch.nn.Module):
    """A stand-in for SequenceVAE with closed-form answers. Sentence n (its id in input_ids[:, 1]) has the posterior
    q(z|x_n) = N(mean[n], diag exp(logvar[n])) and log p(x_n|z) = log N(x_n; W z + b, 0.5^2 I), a linear-Gaussian
    model: its exact log p(x_n) is log N(x_n; b, W W^T + 0.5^2 I). W = Q diag(1.5, 0.8, 0), Q orthogonal, so the true
    posterior is diagonal and z_3 is unused. q is the true posterior, its means shifted by N(0, 0.1^2) (0.05^2 for z_3,
    which stays inactive) and its log-variances raised by U(0, 1), so means, variances and the per-sentence spread all
    differ from N(0, I)."""

    def __init__(self, count, generator):
        super().__init__()
        f64 = dict(generator=generator, dtype=torch.float64)
        scales = torch.tensor([1.5, 0.8, 0.0], dtype=torch.float64)
        self.W = torch.linalg.qr(torch.randn(3, 3, **f64))[0] * scales
        self.b, self.sigma = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64), 0.5
        self.x = torch.randn(count, 3, **f64) @ self.W.T + self.b + self.sigma * torch.randn(count, 3, **f64)
        true_var = 1 / (1 + scales**2 / self.sigma**2)
        true_mean = true_var * ((self.x - self.b) @ self.W) / self.sigma**2
        self.mean = true_mean + torch.randn(count, 3, **f64) * torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)
        self.logvar = true_var.log() + torch.rand(count, 3, **f64)
        self.exact_log_px = torch.distributions.MultivariateNormal(
            self.b, self.W @ self.W.T + self.sigma**2 * torch.eye(3, dtype=torch.float64)).log_prob(self.x)
        self.device = torch.device("cpu")

    def encode(self, input_ids, attention_mask):
        return self.mean[input_ids[:, 1]], self.logvar[input_ids[:, 1]]

    def log_likelihood(self, input_ids, attention_mask, z):
        return torch.distributions.Normal(z @ self.W.T + self.b, self.sigma).log_prob(self.x[input_ids[:, 1]]).sum(-1)

    def expected_reconstruction(self):
        """E_q[-log p(x|z)] per sentence, in closed form."""
        squared_error = (self.x - self.mean @ self.W.T - self.b).pow(2).sum(-1)
        residual = squared_error + (self.logvar.exp() * self.W.pow(2).sum(0)).sum(-1)  # E_q |W (z - mean)|^2
        return 1.5 * math.log(2 * math.pi * self.sigma**2) + residual / (2 * self.sigma**2)


def known_gaussian_split(count=1000, batch_size=100):
    """The model and a loader of `count` sentences <bos> n w... <eos> with 1 to 4 words (plus <eos>: 2 to 5 tokens)."""
    model = KnownGaussianModel(count, torch.Generator().manual_seed(0))
    rows = []
    for n in range(count):
        words = 1 + n % 4
        input_ids = torch.tensor([2, n] + [7] * (words - 1) + [3] + [0] * (4 - words))
        attention_mask = torch.tensor([1] * (words + 2) + [0] * (4 - words))
        rows.append({"input_ids": input_ids, "attention_mask": attention_mask})
    return model, DataLoader(rows, batch_size=batch_size)


def test_evaluation_figures_of_a_posterior_far_from_the_prior_match_closed_forms():
    """-ELBO, KL, IW-NLL and PPL against the linear-Gaussian closed forms (sampling error bounded by 4 standard errors
    of an independent Monte Carlo draw), active units against the variance of the posterior means by hand."""
    model, loader = known_gaussian_split()
    metrics = evaluate_sequence_vae(model, loader, iw_samples=50)
    q = torch.distributions.Normal(model.mean, (0.5 * model.logvar).exp())
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert metrics["kl"] == pytest.approx(kl.mean().item(), rel=1e-5)
    torch.manual_seed(0)
    draws = -model.log_likelihood(torch.stack([torch.tensor([2, n]) for n in range(1000)]), None, q.sample())
    standard_error = draws.std().item() / math.sqrt(1000)
    reconstruction = model.expected_reconstruction().mean().item()
    assert abs(metrics["reconstruction"] - reconstruction) < 4 * standard_error
    assert metrics["neg_elbo"] == pytest.approx(metrics["reconstruction"] + metrics["kl"], rel=1e-6)
    # 50 samples from an over-dispersed q: the IW bound is within 0.02 nats of the exact -log p(x)
    assert metrics["nll"] == pytest.approx(-model.exact_log_px.mean().item(), abs=0.02)
    assert metrics["num_tokens"] == 250 * (2 + 3 + 4 + 5)
    assert metrics["ppl"] == pytest.approx(math.exp(metrics["nll"] * 1000 / metrics["num_tokens"]), rel=1e-5)
    assert metrics["ppl_elbo"] == pytest.approx(math.exp(metrics["neg_elbo"] * 1000 / metrics["num_tokens"]), rel=1e-5)
    assert metrics["active_units"] == int((model.mean.var(dim=0, correction=0) > 0.01).sum()) == 2


def test_evaluation_mutual_information_matches_an_independent_estimate():
    """MI of the split against the same estimator written out with torch.distributions, averaged over 20 independent
    draws: mean_n [log q(z_n|x_n) - log (1/N) sum_m q(z_n|x_m)], z_n ~ q(z|x_n). One draw's standard deviation is
    ~0.025 nats."""
    model, loader = known_gaussian_split()
    metrics = evaluate_sequence_vae(model, loader)
    q = torch.distributions.Normal(model.mean, (0.5 * model.logvar).exp())
    torch.manual_seed(1)
    estimates = []
    for _ in range(20):
        z = q.sample()
        dense = q.log_prob(z[:, None]).sum(-1)  # (N, N): log q(z_n | x_m)
        estimates.append((dense.diagonal() - (torch.logsumexp(dense, dim=1) - math.log(len(z)))).mean().item())
    assert metrics["mutual_information"] == pytest.approx(sum(estimates) / 20, abs=0.1)
    assert metrics["mutual_information"] > 1.0  # far from a collapsed posterior's 0


def test_evaluation_is_seeded_whatever_the_global_random_state():
    """Two evaluations after different global seeds give the same figures, MI included (its own generator)."""
    model, loader = known_gaussian_split(count=200)
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        runs.append(evaluate_sequence_vae(model, loader, iw_samples=3))
    assert runs[0] == runs[1]
