"""Generation: decoding from latent codes, reconstruct / interpolate / explore, pipelines, remote code."""

import copy
import importlib.util
import json
import re

import pytest
import torch
from transformers import pipeline

from hf_awd import SequenceVAE
from hf_awd.data import build_word_tokenizer, encode_sentences, pad_batch

from .conftest import REPO_ROOT, run_without_hf_awd, tiny_config

SENTENCES = ["the cat sat on the mat .", "a dog ran in the park .", "the cat ran .", "a bird flew over the house ."]


@pytest.fixture(scope="module")
def tokenizer():
    return build_word_tokenizer(SENTENCES, vocab_size=50, min_frequency=1)


@pytest.fixture(scope="module")
def model(tokenizer):
    """A tiny autoencoder overfit on SENTENCES (KL weight 0, so z carries each sentence): decodes end at <eos>."""
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer), word_dropout="none"))
    batch = pad_batch(encode_sentences(tokenizer, SENTENCES), tokenizer.pad_token_id)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(200):
        optimizer.zero_grad()
        model(**batch).reconstruction_nll.mean().backward()
        optimizer.step()
    return model.eval()


def strip_padding(row: torch.Tensor, pad: int) -> list[int]:
    ids = row.tolist()
    while ids and ids[-1] == pad:
        ids.pop()
    return ids


def greedy_by_hand(model, z: torch.Tensor, max_new_tokens: int) -> list[int]:
    """Reference greedy decoding of one code z (D,) with model.decode, feeding the state step by step."""
    ids, state = [model.config.bos_token_id], None
    for _ in range(max_new_tokens):
        logits, state = model.decode(torch.tensor([ids[-1:]]), z[None], state=state)
        ids.append(int(logits[0, -1].argmax()))
        if ids[-1] == model.config.eos_token_id:
            break
    return ids


def test_generation_config_has_special_tokens_and_sentence_length(model, tmp_path):
    config = model.generation_config
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (2, 3, 0)
    assert config.max_new_tokens == 50
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "generation_config.json").read_text())
    assert saved["max_new_tokens"] == 50
    # A checkpoint saved before the default existed gets it on loading.
    del saved["max_new_tokens"]
    (tmp_path / "generation_config.json").write_text(json.dumps(saved))
    assert SequenceVAE.from_pretrained(tmp_path).generation_config.max_new_tokens == 50


def test_greedy_is_deterministic_stops_at_eos_and_matches_step_by_step_decoding(model, tokenizer):
    z = model.encode_texts(SENTENCES, tokenizer).mean
    first, second = model.generate(z=z, max_new_tokens=30), model.generate(z=z, max_new_tokens=30)
    assert torch.equal(first, second)
    assert torch.equal(model.generate(z=z, max_new_tokens=30, num_beams=1, do_sample=False), first)
    assert first.shape[1] < 31  # every row ended before the length limit
    for row, code in zip(first, z):
        ids = strip_padding(row, model.config.pad_token_id)
        assert ids[0] == model.config.bos_token_id and ids[-1] == model.config.eos_token_id
        assert ids.count(model.config.eos_token_id) == 1
        assert ids == greedy_by_hand(model, code, 30)
    decoded = tokenizer.batch_decode(first[:, 1:], skip_special_tokens=True)
    assert model.reconstruct(SENTENCES, tokenizer) == [text.strip() for text in decoded]


def test_beam_search_reorders_the_recurrent_state(model, tokenizer):
    """Beam scores (sum of log-probabilities, length_penalty=0) equal a teacher-forced rescoring of each returned
    sequence, which fails if the (h, c) rows are not moved along with their beams."""
    z = model.encode_texts(SENTENCES[:2], tokenizer).mean
    beams = model.generate(z=z, num_beams=3, num_return_sequences=3, length_penalty=0.0, max_new_tokens=20,
                           return_dict_in_generate=True, output_scores=True)
    eos = model.config.eos_token_id
    for row, code, score in zip(beams.sequences, z.repeat_interleave(3, dim=0), beams.sequences_scores):
        ids = strip_padding(row, model.config.pad_token_id)
        ids = ids[: ids.index(eos) + 1] if eos in ids else ids
        logits, _ = model.decode(torch.tensor([ids[:-1]]), code[None])
        log_likelihood = logits.log_softmax(-1)[0, torch.arange(len(ids) - 1), ids[1:]].sum()
        assert torch.allclose(log_likelihood, score, atol=1e-4)


def test_sampling_with_a_fixed_seed_is_reproducible(model, tokenizer):
    z = model.encode_texts(SENTENCES, tokenizer).mean
    options = dict(do_sample=True, temperature=5.0, top_k=10, top_p=0.99, max_new_tokens=15)
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        runs.append(model.generate(z=z, **options))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    torch.manual_seed(3)
    prior = model.generate(num_samples=5, max_new_tokens=15)
    torch.manual_seed(3)
    assert torch.equal(prior, model.generate(num_samples=5, max_new_tokens=15)) and prior.shape[0] == 5


def test_batch_and_single_results_agree(model, tokenizer):
    z = model.encode_texts(SENTENCES, tokenizer).mean
    batch = model.generate(z=z, max_new_tokens=30)
    for row, code in zip(batch, z):
        single = model.generate(z=code[None], max_new_tokens=30)[0]
        assert strip_padding(row, 0) == strip_padding(single, 0)
    assert model.reconstruct(SENTENCES, tokenizer) == [model.reconstruct(text, tokenizer)[0] for text in SENTENCES]


def test_prompt_is_continued_and_given_back(model, tokenizer):
    z = model.encode_texts(SENTENCES[:1], tokenizer).mean
    prompt = tokenizer(["the cat"], return_tensors="pt")["input_ids"]  # <bos> the cat: a prompt, no <eos>
    assert prompt[0, 0] == tokenizer.bos_token_id and prompt[0, -1] != tokenizer.eos_token_id
    out = model.generate(prompt, z=z, max_new_tokens=10)
    assert torch.equal(out[:, : prompt.shape[1]], prompt)
    logits, _ = model.decode(prompt, z)
    assert out[0, prompt.shape[1]] == logits[0, -1].argmax()


def test_generate_takes_the_tokenizer_output_as_it_is(model, tokenizer):
    """`generate(**tokenizer(text))`: lists and the attention mask are accepted, as tensors are."""
    torch.manual_seed(0)
    z = torch.randn(1, model.config.latent_size)
    expected = model.generate(tokenizer("the cat", return_tensors="pt")["input_ids"], z=z)
    assert torch.equal(model.generate(**tokenizer("the cat"), z=z), expected)
    assert torch.equal(model.generate(**tokenizer(["the cat"], return_tensors="pt"), z=z), expected)


def test_a_prompt_ending_in_eos_is_not_decoded_past(model, tokenizer):
    """Tokenizers saved before the text handling of issue 15 add <eos>: decoding continues the words, not <eos>, and
    the returned prompt holds <pad> where the <eos> was, so decoded text does not read "the cat <eos> sat"."""
    z = model.encode_texts(SENTENCES[:1], tokenizer).mean
    words = tokenizer(["the cat"], return_tensors="pt")["input_ids"]
    with_eos = torch.cat([words, torch.tensor([[tokenizer.eos_token_id]])], dim=1)
    out, plain = model.generate(with_eos, z=z, max_new_tokens=10), model.generate(words, z=z, max_new_tokens=10)
    assert out.shape[1] == plain.shape[1] + 1 and out[0, words.shape[1]] == tokenizer.pad_token_id
    assert torch.equal(out[:, with_eos.shape[1]:], plain[:, words.shape[1]:])  # the same continuation
    assert tokenizer.eos_token_id not in out[0, : with_eos.shape[1]].tolist()


def test_unk_is_never_decoded_by_default(model, tokenizer):
    """A model whose likeliest word is always <unk> still decodes words: the saved generation config suppresses
    <unk>; `suppress_tokens=None` (or []) lets it through."""
    loud = copy.deepcopy(model)
    head = torch.nn.Linear(loud.config.decoder_hidden_size, loud.config.vocab_size)  # a bias: <unk> +100 everywhere
    with torch.no_grad():
        head.weight.copy_(loud.lm_head.weight)
        head.bias.zero_()[tokenizer.unk_token_id] = 100.0
    loud.lm_head = head
    assert loud.generation_config.suppress_tokens == [tokenizer.unk_token_id]
    torch.manual_seed(0)
    z = torch.randn(8, loud.config.latent_size)
    assert tokenizer.unk_token_id not in loud.generate(z=z).flatten().tolist()
    assert tokenizer.unk_token_id in loud.generate(z=z, suppress_tokens=None).flatten().tolist()


def test_encode_texts_matches_encode(model, tokenizer):
    posterior = model.encode_texts(SENTENCES, tokenizer)
    batch = pad_batch(encode_sentences(tokenizer, SENTENCES), tokenizer.pad_token_id)
    mean, logvar = model.encode(batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(posterior.mean, mean) and torch.allclose(posterior.logvar, logvar)
    assert posterior.sample is None and len(posterior.to_tuple()) == 2
    drawn = model.encode_texts(SENTENCES[0], tokenizer, sample=True)
    assert drawn.sample.shape == drawn.mean.shape == (1, model.config.latent_size)
    assert not torch.equal(drawn.sample, drawn.mean) and len(drawn.to_tuple()) == 3


def spy_on_codes(model, monkeypatch) -> list[torch.Tensor]:
    """Record the z of every generate() call."""
    codes, generate = [], model.generate
    monkeypatch.setattr(model, "generate", lambda **kwargs: codes.append(kwargs["z"]) or generate(**kwargs))
    return codes


def test_interpolate_walks_between_the_posterior_means(model, tokenizer, monkeypatch):
    means = model.encode_texts([SENTENCES[0], SENTENCES[3]], tokenizer).mean
    codes = spy_on_codes(model, monkeypatch)
    path = model.interpolate(SENTENCES[0], SENTENCES[3], tokenizer, num_steps=3)
    assert len(path) == 3 and all(isinstance(sentence, str) for sentence in path)
    expected = torch.stack([means[0] + t * (means[1] - means[0]) for t in (0.25, 0.5, 0.75)])
    assert torch.allclose(codes[-1], expected, atol=1e-6)

    with_ends = model.interpolate(SENTENCES[0], SENTENCES[3], tokenizer, num_steps=3, include_endpoints=True)
    assert with_ends[1:-1] == path and len(with_ends) == 5
    assert torch.allclose(codes[-1][0], means[0], atol=1e-6) and torch.allclose(codes[-1][-1], means[1], atol=1e-6)
    assert with_ends[0] == model.reconstruct(SENTENCES[0], tokenizer)[0]

    paths = model.interpolate(SENTENCES[:2], SENTENCES[2:], tokenizer, num_steps=2)
    assert paths == [model.interpolate(s, t, tokenizer, num_steps=2) for s, t in zip(SENTENCES[:2], SENTENCES[2:])]


def test_explore_decodes_posterior_samples(model, tokenizer, monkeypatch):
    codes = spy_on_codes(model, monkeypatch)
    torch.manual_seed(0)
    sentences = model.explore(SENTENCES[1], tokenizer, n=4)
    torch.manual_seed(0)
    assert model.explore(SENTENCES[1], tokenizer, n=4) == sentences and len(sentences) == 4
    posterior = model.encode_texts(SENTENCES[1], tokenizer)
    assert codes[-1].shape == (4, model.config.latent_size)
    # Draws from N(mean, sigma^2): all different, and within a few standard deviations of the mean.
    assert len({tuple(code.tolist()) for code in codes[-1]}) == 4
    assert bool(((codes[-1] - posterior.mean).abs() < 6 * (0.5 * posterior.logvar).exp()).all())


def test_explore_samples_codes_with_the_posterior_spread(tokenizer, monkeypatch):
    """2,000 codes from explore() against q(z|x) itself: per dimension, their mean is the posterior mean and their
    standard deviation exp(logvar / 2), on a posterior whose log-variances are set far from 0 (-3 to 2)."""
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(vocab_size=len(tokenizer), word_dropout="none")).eval()
    with torch.no_grad():
        model.to_posterior.bias[model.config.latent_size:] = torch.tensor([-3.0, -1.0, 1.0, 2.0])
    posterior = model.encode_texts(SENTENCES[1], tokenizer)
    codes = spy_on_codes(model, monkeypatch)
    model.explore(SENTENCES[1], tokenizer, n=2000, max_new_tokens=1)
    std = (0.5 * posterior.logvar[0]).exp()
    assert std.max() / std.min() > 5  # exp(logvar) would be visibly different from exp(logvar / 2)
    assert torch.allclose(codes[-1].mean(dim=0), posterior.mean[0], atol=4 * std.max().item() / 2000**0.5)
    assert torch.allclose(codes[-1].std(dim=0), std, rtol=0.08)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, t: m.encode_texts(["a cat", "  "], t), "index 1"),
        (lambda m, t: m.reconstruct([], t), "no text"),
        (lambda m, t: m.interpolate("", "a cat", t), "source: text at index 0"),
        (lambda m, t: m.interpolate("a cat", " ", t), "target: text at index 0"),
        (lambda m, t: m.interpolate("a cat", "a dog", t, num_steps=0), "num_steps must be an integer >= 1"),
        (lambda m, t: m.interpolate(["a cat"], ["a dog", "a bird"], t), "1 source texts but 2 target texts"),
        (lambda m, t: m.explore("a cat", t, n=0), "n must be an integer >= 1"),
        (lambda m, t: m.explore(["a cat"], t), "one text"),
        (lambda m, t: m.generate(z=torch.zeros(2, 3)), "z must have shape"),
        (lambda m, t: m.generate(z=torch.zeros(2, 4), num_samples=2), "either z or num_samples"),
        (lambda m, t: m.generate(num_samples=0), "num_samples must be a positive integer"),
        (lambda m, t: m.generate(torch.tensor([[2, 4], [2, 5]]), z=torch.zeros(3, 4)), "2 prompts for 3"),
        (lambda m, t: m.generate(torch.tensor([[2, 4, 5], [2, 4, 0]])), "unpadded prompts"),
    ],
)
def test_bad_input_is_a_clear_error(model, tokenizer, call, message):
    with pytest.raises(ValueError, match=message):
        call(model, tokenizer)


def test_text_generation_pipeline(model, tokenizer):
    generator = pipeline("text-generation", model=model, tokenizer=tokenizer)
    torch.manual_seed(0)
    sample = generator("", do_sample=False, max_new_tokens=20)[0]["generated_text"]
    assert sample.strip() and "<" not in sample
    continuation = generator("the cat", do_sample=False, max_new_tokens=20, return_full_text=False)
    new_text = continuation[0]["generated_text"]
    assert new_text.strip() and "<" not in new_text
    # The full text is the prompt and its continuation with a space between them ("the cat sat", not "the catsat"):
    # the tokenizer puts a space before every word, the first of a continuation included.
    full_text = generator("the cat", do_sample=False, max_new_tokens=20)[0]["generated_text"]
    assert full_text == "the cat" + new_text and new_text.startswith(" ") and not new_text.startswith("  ")


def test_generation_with_trust_remote_code_where_hf_awd_is_not_importable(model, tokenizer, tmp_path):
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"]["AutoModelForCausalLM"] == (
        "modeling_sequence_vae.SequenceVAE"
    )
    for source in tmp_path.glob("*.py"):  # the copied code must not need hf_awd
        assert not re.search(r"^\s*(from|import)\s+hf_awd", source.read_text(), re.MULTILINE), source.name
    expected = model.reconstruct(SENTENCES, tokenizer)
    script = f"""
import importlib.util, json
from transformers import AutoModel, AutoTokenizer, pipeline
model = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)  # config.json has auto_map
generator = pipeline("text-generation", model={str(tmp_path)!r}, trust_remote_code=True)
text = generator("the cat", do_sample=False, max_new_tokens=5)[0]["generated_text"]
print(json.dumps([model.reconstruct({SENTENCES!r}, tokenizer), text]))
"""
    result = run_without_hf_awd(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    reconstructions, text = json.loads(result.stdout.strip().splitlines()[-1])
    assert reconstructions == expected and text.startswith("the cat")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["generate", "interpolate", "evaluate"])
def test_scripts_report_a_missing_checkpoint_in_one_line(name, tmp_path):
    argv = [str(tmp_path / "missing")] + (["sample"] if name == "generate" else [])
    with pytest.raises(SystemExit, match=r"^error: no checkpoint at .*missing' \(expected a folder with config.json\)$"):
        load_script(name).main(argv)
    # A Hub id goes through the same loader: offline, it fails at once, saying so.
    argv[0] = "someone/sequence-vae"
    with pytest.raises(SystemExit, match=r"^error: Could not load checkpoint 'someone/sequence-vae': the Hugging Face "
                                         r"Hub cannot be reached \(offline\)"):
        load_script(name).main(argv)


def test_scripts_end_to_end(model, tokenizer, tmp_path, capsys):
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    load_script("generate").main([str(tmp_path / "model"), "reconstruct", *SENTENCES[:2]])
    assert capsys.readouterr().out.splitlines() == [
        line for text, sentence in zip(SENTENCES, model.reconstruct(SENTENCES[:2], tokenizer))
        for line in (f"x: {text}", f"   -> {sentence}")
    ]
    (tmp_path / "sentences.txt").write_text("\n".join(SENTENCES * 2))
    load_script("interpolate").main([
        str(tmp_path / "model"), "--train_file", str(tmp_path / "sentences.txt"), "--test_file",
        str(tmp_path / "sentences.txt"), "--num_pairs", "3", "--num_steps", "2", "--output_dir", str(tmp_path / "out"),
    ])
    record = json.loads((tmp_path / "out" / "interpolation_scores.json").read_text())
    assert [row["step"] for row in record["table"]["steps"]] == [1, 2] and len(record["paths"]) == 3
    assert all(len(path["interpolations"]) == 2 for path in record["paths"])
    assert (tmp_path / "out" / "interpolation_scores.png").stat().st_size > 0
    assert "Example 3" in capsys.readouterr().out


def test_scripts_warn_on_empty_or_all_unk_decodes(model, tokenizer, tmp_path, monkeypatch, capsys):
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    capsys.readouterr()  # the progress bars of saving
    monkeypatch.setattr(SequenceVAE, "decode_latents", lambda self, z, tokenizer, **kw: ["", "<unk> <unk> .", "a cat"])
    load_script("generate").main([str(tmp_path), "sample", "--num_samples", "3"])
    printed = capsys.readouterr()
    assert printed.out.splitlines() == ["z ~ N(0, I): ", "z ~ N(0, I): <unk> <unk> .", "z ~ N(0, I): a cat"]
    assert "warning: 2 of 3 decoded sentences are empty or nothing but <unk>" in printed.err.splitlines()[-1]


def test_decoded_text_keeps_unknown_words(model, tokenizer, monkeypatch):
    """Only <bos>/<eos>/padding are stripped: skip_special_tokens would silently delete every <unk>."""
    unk = tokenizer.unk_token_id
    fixed = torch.tensor([[2, 4, unk, 3, 0]])
    monkeypatch.setattr(model, "generate", lambda **kwargs: fixed)
    text = model.decode_latents(torch.zeros(1, model.config.latent_size), tokenizer)[0]
    assert text == f"{tokenizer.convert_ids_to_tokens(4)} <unk>"
