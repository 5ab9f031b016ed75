"""The Transformer decoder: causal, every dropout mode, KV-cached generation equal to uncached, save/load."""

import json

import pytest
import torch
from transformers import AutoModel

from hf_awd import SequenceVAE

from .conftest import run_without_hf_awd, tiny_config


def transformer(**overrides) -> SequenceVAE:
    torch.manual_seed(0)
    return SequenceVAE(tiny_config(decoder_type="transformer", **overrides))


def sentences(batch=3, length=10) -> torch.Tensor:
    input_ids = torch.randint(4, 50, (batch, length))
    input_ids[:, 0], input_ids[:, -1] = 2, 3
    return input_ids


def test_changing_a_future_token_never_changes_an_earlier_logit():
    model = transformer().eval()
    z, input_ids = torch.randn(2, 4), sentences(2, 9)
    logits, _ = model.decode(input_ids, z)
    for position in range(1, input_ids.size(1)):
        changed = input_ids.clone()
        changed[:, position] = 4 + (changed[:, position] - 3) % 46  # another word
        changed_logits, _ = model.decode(changed, z)
        assert torch.equal(changed_logits[:, :position], logits[:, :position]), position
        assert not torch.allclose(changed_logits[:, position], logits[:, position])


def test_z_conditions_every_position():
    model = transformer().eval()
    input_ids = sentences(1, 8)
    first, _ = model.decode(input_ids, torch.zeros(1, 4))
    second, _ = model.decode(input_ids, torch.ones(1, 4))
    assert (first - second).abs().amax(dim=-1).min() > 0


@pytest.mark.parametrize("mode", ["none", "uniform", "adversarial"])
def test_trains_with_every_word_dropout_mode(mode):
    model = transformer(word_dropout=mode, word_dropout_rate=0.3 if mode != "none" else 0.0).train()
    input_ids = sentences(4, 12)  # 10 words each: AWD drops exactly round(0.3 * 10) = 3
    output = model(input_ids=input_ids)
    output.loss.backward()
    assert torch.isfinite(output.loss) and output.logits.shape == (4, 11, 50)
    dropped = output.drop_mask.sum(dim=1)
    if mode == "adversarial":
        assert dropped.tolist() == [3.0] * 4
        assert model.adversary.lstm.weight_ih_l0.grad.abs().sum() > 0
    elif mode == "none":
        assert dropped.sum() == 0
    assert output.drop_mask[:, 0].sum() == 0  # <bos> is never dropped
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_cached_decoding_equals_teacher_forcing():
    model = transformer().eval()
    z, input_ids = torch.randn(2, 4), sentences(2, 9)
    full, _ = model.decode(input_ids, z)
    pieces, state = [], None
    for start, end in ((0, 3), (3, 4), (4, 9)):
        logits, state = model.decode(input_ids[:, start:end], z, state=state)
        pieces.append(logits)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("options", [{"do_sample": False}, {"num_beams": 3}, {"do_sample": True, "top_k": 5}])
def test_cached_generation_equals_uncached(options):
    model = transformer().eval()
    z = torch.randn(3, 4)
    outputs = []
    for use_cache in (True, False):
        torch.manual_seed(1)
        outputs.append(model.generate(z=z, max_new_tokens=12, use_cache=use_cache, **options))
    assert torch.equal(*outputs)
    assert outputs[0].shape[0] == 3 and (outputs[0][:, 0] == 2).all()


def test_too_many_positions_is_a_clear_error():
    model = transformer(max_position_embeddings=8).eval()
    with pytest.raises(ValueError, match="max_position_embeddings=8"):
        model.decode(sentences(1, 9)[:, :-1], torch.randn(1, 4))


def test_invalid_head_count_is_a_clear_error():
    with pytest.raises(ValueError, match="decoder_attention_heads=5 must divide decoder_hidden_size=24"):
        tiny_config(decoder_type="transformer", decoder_attention_heads=5)


def test_round_trip_through_auto_classes_and_trust_remote_code(tmp_path):
    model = transformer(word_dropout="adversarial").eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    z, input_ids = torch.randn(2, 4), sentences(2, 9)
    assert loaded.config.decoder_type == "transformer"
    assert torch.equal(model.decode(input_ids, z)[0], loaded.decode(input_ids, z)[0])
    expected = model.generate(z=z, max_new_tokens=8, do_sample=False).tolist()
    script = f"""
import json, torch
from transformers import AutoModel
model = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
print(json.dumps(model.generate(z=torch.tensor({z.tolist()!r}), max_new_tokens=8, do_sample=False).tolist()))
"""
    result = run_without_hf_awd(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
