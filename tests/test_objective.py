"""The training objective and the two players' optimisation, checked against values computed by hand."""

import io
import math

import pytest
import torch
from datasets import Dataset
from torch.distributions import Normal, kl_divergence
from transformers import DataCollatorWithPadding

from hf_awd import AWDTrainer, AWDTrainingArguments, SequenceVAE, SequenceVAEConfig
from hf_awd.data import build_word_tokenizer, encode_sentences
from hf_awd.evaluation.metrics import mutual_information
from hf_awd.training import ModelArguments, NonFiniteLossError, TrainingObjective, TwoPlayerOptimizer

from .conftest import tiny_config
from .test_model import mixed_length_batch

TEXTS = ["the cat sat on the mat .", "a dog ran in the park .", "the cat ran .", "a bird flew over the house ."] * 4


def tiny_trainer(tmp_path, model=None, **options):
    tokenizer = build_word_tokenizer(TEXTS, vocab_size=50, min_frequency=1)
    ids = encode_sentences(tokenizer, TEXTS)
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]})
    settings = dict(output_dir=str(tmp_path), per_device_train_batch_size=4, report_to="none", eval_strategy="no",
                    save_strategy="no", load_best_model_at_end=False, disable_tqdm=True, seed=0, logging_steps=1)
    args = AWDTrainingArguments(**{**settings, **options})
    model = model or SequenceVAE(tiny_config(vocab_size=len(tokenizer)))
    evaluated = dataset if args.eval_strategy != "no" else None  # evaluation, when on, reads the training sentences
    return AWDTrainer(model=model, args=args, train_dataset=dataset, eval_dataset=evaluated,
                      data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)


# ---- the objective ----

def test_model_loss_is_the_papers_plain_objective_by_hand():
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(word_dropout="adversarial", word_dropout_rate=0.4, adversary_kl_weight=2.5)).train()
    with torch.no_grad():  # the adversary's Gaussians away from N(0, 1), so that its regulariser counts (~0.7 a word)
        model.adversary.head.bias.copy_(torch.tensor([1.0, -1.0]))
        # and q(z|x) away from N(0, I) (KL ~ 1 nat a dimension), so that the KL weighs in the loss at rel=1e-5
        latent = model.config.latent_size
        model.to_posterior.bias.copy_(torch.tensor([1.0] * latent + [-1.0] * latent))
    input_ids, attention_mask = mixed_length_batch([3, 6, 5])
    out = model(input_ids, attention_mask)
    # reconstruction: -sum_t log softmax(logits_t)[x_{t+1}] over real targets
    log_probs = out.logits.log_softmax(-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    reconstruction = -(log_probs * attention_mask[:, 1:]).sum(dim=1)
    posterior = Normal(out.posterior_mean, (0.5 * out.posterior_logvar).exp())
    kl = kl_divergence(posterior, Normal(0.0, 1.0)).sum(dim=1)
    words = attention_mask[:, 1:].bool().clone()
    words[:, 0] = False
    scores = Normal(out.adversary_score_mean, (0.5 * out.adversary_score_logvar).exp())
    regularizer = 2.5 * (kl_divergence(scores, Normal(0.0, 1.0)) * words).sum(dim=1)
    expected = (reconstruction + kl + regularizer).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.kl_per_dimension.sum(dim=1).tolist() == pytest.approx(kl.tolist(), abs=1e-6)
    assert out.kl.tolist() == pytest.approx(kl.tolist(), abs=1e-6)


def test_kl_schedule_is_the_authors_linear_increase():
    objective = TrainingObjective(kl_start_weight=0.1, kl_annealing_steps=30000)
    for step in (0, 1, 1000, 12345, 29999):
        assert objective.kl_weight(step) == pytest.approx(0.1 + 3e-5 * step)
    assert objective.kl_weight(30000) == objective.kl_weight(45000) == 1.0


@pytest.mark.parametrize("beta, free_bits, step, adversary_kl_weight",
                         [(1.0, 0.0, 500, 1.0), (0.5, 0.3, 0, 0.0), (1.0, 2.0, 100, 3.0), (2.0, 0.1, 7, 0.5)])
def test_trainer_loss_applies_the_kl_weight_free_bits_and_lambda_by_hand(tmp_path, beta, free_bits, step,
                                                                         adversary_kl_weight):
    """KL term: sum_d max(free bits, batch mean of KL_d), KL_d from torch.distributions; regulariser: lambda times the
    sum over words of KL(N(mu_t, sigma_t^2) || N(0, 1)), also from torch.distributions."""
    tokenizer_size = len(build_word_tokenizer(TEXTS, vocab_size=50, min_frequency=1))
    model = SequenceVAE(tiny_config(vocab_size=tokenizer_size, adversary_kl_weight=adversary_kl_weight))
    with torch.no_grad():  # the adversary's Gaussians away from N(0, 1), so that its regulariser counts (~0.7 a word)
        model.adversary.head.bias.copy_(torch.tensor([1.0, -1.0]))
    trainer = tiny_trainer(tmp_path, model=model, beta=beta, free_bits=free_bits, kl_start_weight=0.2,
                           kl_annealing_steps=1000)
    trainer.state.global_step = step
    input_ids, attention_mask = mixed_length_batch([4, 2, 6], vocab_size=tokenizer_size)
    torch.manual_seed(3)
    loss, out = trainer.compute_loss(trainer.model.train(), {"input_ids": input_ids, "attention_mask": attention_mask},
                                     return_outputs=True)
    weight = beta * min(1.0, 0.2 + 0.8 * step / 1000)
    posterior = Normal(out.posterior_mean.detach(), (0.5 * out.posterior_logvar.detach()).exp())
    per_dimension = kl_divergence(posterior, Normal(0.0, 1.0))
    kl_term = sum(max(free_bits, per_dimension[:, d].mean().item()) for d in range(per_dimension.shape[1]))
    words = attention_mask[:, 1:].bool().clone()
    words[:, 0] = False
    scores = Normal(out.adversary_score_mean.detach(), (0.5 * out.adversary_score_logvar.detach()).exp())
    regularizer = adversary_kl_weight * (kl_divergence(scores, Normal(0.0, 1.0)) * words).sum(dim=1).mean().item()
    expected = out.reconstruction_nll.mean().item() + weight * kl_term + regularizer
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert trainer._train_statistics["kl_weight"][-1].item() == pytest.approx(weight)


def test_a_non_finite_loss_stops_training_naming_the_step_and_keeps_the_last_checkpoint(tmp_path):
    trainer = tiny_trainer(tmp_path, optim="sgd", learning_rate=1e30, max_grad_norm=0.0, max_steps=20,
                           save_strategy="steps", save_steps=1, polyak_decay=0.0)
    with pytest.raises(NonFiniteLossError, match=r"at step \d+") as caught:
        trainer.train()
    step = int(caught.value.args[0].split("at step ")[1].split(";")[0])
    last = SequenceVAE.from_pretrained(tmp_path / f"checkpoint-{step - 1}")
    assert all(torch.isfinite(param).all() for param in last.parameters())
    assert not (tmp_path / f"checkpoint-{step}").exists()


def test_a_time_budget_stops_training_evaluated_and_saved(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=1000, max_train_minutes=1e-6, save_strategy="steps", save_steps=500)
    trainer.train()
    assert trainer.state.global_step == 1
    assert (tmp_path / "checkpoint-1" / "model.safetensors").exists()


# ---- the two players' optimisers ----

def test_each_player_has_its_own_optimizer_learning_rate_and_decay(tmp_path):
    trainer = tiny_trainer(tmp_path, optim="sgd", learning_rate=1.0, adversary_learning_rate=0.01, lr_decay=0.5,
                           num_train_epochs=3)
    optimizer = trainer.create_optimizer()
    scheduler = trainer.create_scheduler(12, optimizer)
    names = {param: name for name, param in trainer.model.named_parameters()}
    vae_sgd, adversary_adam = optimizer.players["vae"], optimizer.players["adversary"]
    assert type(vae_sgd) is torch.optim.SGD and type(adversary_adam) is torch.optim.Adam
    vae_names = {names[p] for group in vae_sgd.param_groups for p in group["params"]}
    adversary_names = {names[p] for group in adversary_adam.param_groups for p in group["params"]}
    assert adversary_names == {name for name in names.values() if name.startswith("adversary.")}
    assert vae_names == set(names.values()) - adversary_names
    # 16 sentences / batch 4 = 4 steps per epoch: the VAE's LR halves after each epoch, the adversary's stays.
    seen = []
    for _ in range(9):
        seen.append((vae_sgd.param_groups[0]["lr"], adversary_adam.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
    assert seen == [(1.0, 0.01)] * 4 + [(0.5, 0.01)] * 4 + [(0.25, 0.01)]


def test_a_zero_adversary_learning_rate_freezes_the_adversary_and_a_negative_one_is_refused(tmp_path):
    trainer = tiny_trainer(tmp_path, adversary_learning_rate=0.0, max_steps=3)
    before = {name: param.detach().clone() for name, param in trainer.model.named_parameters()}
    trainer.train()
    online = dict(trainer.model.named_parameters())  # training ended: the online weights are back in the model
    moved = {name for name, value in before.items() if not torch.equal(value, online[name])}
    assert moved and not any(name.startswith("adversary.") for name in moved)
    with pytest.raises(ValueError, match="adversary_learning_rate must be >= 0"):
        AWDTrainingArguments(output_dir=str(tmp_path), adversary_learning_rate=-1e-3)


def test_sgd_step_is_plain_gradient_descent_and_adam_steps_the_adversary():
    model = SequenceVAE(tiny_config())
    vae = [p for n, p in model.named_parameters() if not n.startswith("adversary.")]
    adversary = [p for n, p in model.named_parameters() if n.startswith("adversary.")]
    optimizer = TwoPlayerOptimizer({"vae": torch.optim.SGD(vae, lr=0.5), "adversary": torch.optim.Adam(adversary, lr=0.1)})
    before = {id(p): p.detach().clone() for p in model.parameters()}
    for param in model.parameters():
        param.grad = torch.full_like(param, 2.0)
    optimizer.step()
    for param in vae:
        assert torch.allclose(param, before[id(param)] - 0.5 * 2.0)
    for param in adversary:  # Adam's first step moves every coordinate by lr in the gradient's opposite direction
        assert torch.allclose(param, before[id(param)] - 0.1, atol=1e-6)


def test_two_player_optimizer_state_round_trips_through_a_checkpoint():
    def build(model):
        vae = [p for n, p in model.named_parameters() if not n.startswith("adversary.")]
        adversary = [p for n, p in model.named_parameters() if n.startswith("adversary.")]
        return TwoPlayerOptimizer({"vae": torch.optim.SGD(vae, lr=0.1, momentum=0.9),
                                   "adversary": torch.optim.Adam(adversary, lr=0.01)})

    def train_step(model, optimizer, seed):
        torch.manual_seed(seed)
        optimizer.zero_grad()
        model(*mixed_length_batch([3, 5])).loss.backward()
        optimizer.step()

    torch.manual_seed(0)
    model = SequenceVAE(tiny_config()).train()
    optimizer = build(model)
    train_step(model, optimizer, 1)
    copy = SequenceVAE(tiny_config()).train()
    copy.load_state_dict(model.state_dict())
    restored = build(copy)
    saved = io.BytesIO()  # as the Trainer's checkpoint does: through torch.save, not sharing the state's tensors
    torch.save(optimizer.state_dict(), saved)
    restored.load_state_dict(torch.load(io.BytesIO(saved.getvalue())))
    train_step(model, optimizer, 2)
    train_step(copy, restored, 2)
    for (name, a), b in zip(model.named_parameters(), copy.parameters()):
        assert torch.equal(a, b), name


# ---- model options come from the config ----

def test_model_options_default_to_the_config_and_reject_shape_changes_for_a_checkpoint():
    config = SequenceVAEConfig()
    assert ModelArguments().config_overrides() == {}
    assert ModelArguments(decoder_hidden_size=64).config_overrides() == {"decoder_hidden_size": 64}
    assert ModelArguments(model_name_or_path="x", word_dropout_rate=0.4).config_overrides() == {"word_dropout_rate": 0.4}
    with pytest.raises(ValueError, match="decoder_hidden_size cannot change for an existing model"):
        ModelArguments(model_name_or_path="x", decoder_hidden_size=64)
    with pytest.raises(ValueError, match="initialization must be one of"):
        ModelArguments(initialization="zeros")
    assert config.decoder_hidden_size == 256 and config.word_dropout == "adversarial"


def test_authors_initialisation_is_uniform_with_their_bounds():
    model = SequenceVAE(tiny_config(initialization="authors"))
    for name, param in model.named_parameters():
        bound = 0.1 if name in ("embedding.weight", "adversary.embedding.weight") else 0.01
        assert param.abs().max() <= bound, name
        assert param.abs().max() > bound / 2, name  # filled, not left at zero


# ---- mutual information ----

def test_mutual_information_is_zero_for_a_collapsed_posterior():
    generator = torch.Generator().manual_seed(0)
    for seed in range(3):
        mu = torch.zeros(3761, 32, dtype=torch.float64)
        logvar = torch.zeros(3761, 32, dtype=torch.float64)
        assert abs(mutual_information(mu, logvar, generator=generator.manual_seed(seed)).item()) < 0.02
    # collapsed to any shared posterior, not only the prior
    mu, logvar = torch.full((500, 4), 0.7, dtype=torch.float64), torch.full((500, 4), -1.3, dtype=torch.float64)
    assert abs(mutual_information(mu, logvar, generator=generator).item()) < 0.02


@pytest.mark.parametrize("spread", [0.5, 1.0, 2.0])
def test_mutual_information_matches_the_gaussian_closed_form(spread):
    # x ~ N(0, s^2) and q(z|x) = N(x, 1): I(X; Z) = 1/2 log(1 + s^2)
    generator = torch.Generator().manual_seed(1)
    mu = torch.randn(4000, 1, generator=generator, dtype=torch.float64) * spread
    logvar = torch.zeros(4000, 1, dtype=torch.float64)
    estimate = mutual_information(mu, logvar, generator=generator).item()
    assert estimate == pytest.approx(0.5 * math.log(1 + spread**2), abs=0.03)


def test_mutual_information_does_not_exceed_kl_on_a_trained_model(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=40, learning_rate=0.01, kl_start_weight=0.0, kl_annealing_steps=1000,
                           polyak_decay=0.0)
    trainer.train()
    metrics = trainer.evaluate(trainer.train_dataset)
    assert metrics["eval_kl"] > 0.1  # z is in use, so the bound is not trivially 0 <= 0
    assert metrics["eval_mutual_information"] <= metrics["eval_kl"] + 0.02
