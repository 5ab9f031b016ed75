"""The evaluation loop (token counting, IW-NLL vs -ELBO) and early stopping in AWDTrainer."""

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
