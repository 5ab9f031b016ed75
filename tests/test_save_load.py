"""Checkpoints: save -> AutoModel round trip, trust_remote_code without hf_awd, AutoTokenizer round trip."""

import json

import torch
from transformers import AutoModel, AutoTokenizer

from hf_awd import SequenceVAE
from hf_awd.data import build_word_tokenizer, encode_sentences

from .conftest import run_without_hf_awd, tiny_config

SENTENCES = ["the cat sat on the mat .", "a dog ran in the park .", "the cat ran ."]


def test_automodel_round_trip_gives_identical_outputs(tmp_path):
    model = SequenceVAE(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is SequenceVAE
    input_ids = torch.tensor([[2, 5, 6, 7, 3], [2, 8, 3, 0, 0]])
    z = torch.randn(2, model.config.latent_size)
    saved, reloaded = model.state_dict(), loaded.state_dict()
    assert saved.keys() == reloaded.keys() and all(torch.equal(saved[k], reloaded[k]) for k in saved)
    # Same weights; the packed LSTM kernels may round differently between two calls (seen under OMP_NUM_THREADS=1).
    torch.testing.assert_close(model.decode(input_ids, z)[0], loaded.decode(input_ids, z)[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(model.encode(input_ids)[0], loaded.encode(input_ids)[0], rtol=0, atol=1e-6)


def test_trust_remote_code_loads_where_hf_awd_is_not_importable(tmp_path):
    model = SequenceVAE(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_sequence_vae.SequenceVAE"
    input_ids = [[2, 5, 6, 7, 3]]
    expected = model.encode(torch.tensor(input_ids))[0].tolist()
    script = f"""
import importlib.util, json, sys, torch
from transformers import AutoModel
model = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
print(json.dumps(model.encode(torch.tensor({input_ids}))[0].tolist()))
"""
    result = run_without_hf_awd(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.allclose(torch.tensor(json.loads(result.stdout.strip().splitlines()[-1])), torch.tensor(expected))


def test_autotokenizer_round_trip(tmp_path):
    tokenizer = build_word_tokenizer(SENTENCES, vocab_size=100, min_frequency=1)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    for name in ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id"):
        assert getattr(loaded, name) == getattr(tokenizer, name)
    assert [loaded.pad_token_id, loaded.unk_token_id, loaded.bos_token_id, loaded.eos_token_id] == [0, 1, 2, 3]
    assert encode_sentences(loaded, SENTENCES) == encode_sentences(tokenizer, SENTENCES)
    ids = loaded("The cat sat.")["input_ids"]  # lowercased and split; <bos> added by the post-processor
    assert ids == [2, *(loaded.convert_tokens_to_ids(word) for word in ("the", "cat", "sat", "."))]
    assert loaded.decode(ids, skip_special_tokens=True) == " the cat sat."  # detokenised, a space before each word
    assert loaded("zebra")["input_ids"][1] == loaded.unk_token_id


def test_literal_special_tokens_in_the_corpus_keep_their_ids():
    """PTB writes unknown words as "<unk>": it must map to the special id, and ids must stay below len(tokenizer)."""
    tokenizer = build_word_tokenizer(["a <unk> b", "a b c <unk>", "a"], vocab_size=100, min_frequency=1)
    assert tokenizer.unk_token_id == 1 and max(tokenizer.get_vocab().values()) == len(tokenizer) - 1
    assert encode_sentences(tokenizer, ["a <unk> zz"]) == [[2, tokenizer.convert_tokens_to_ids("a"), 1, 1, 3]]
