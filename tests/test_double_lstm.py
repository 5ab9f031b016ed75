"""The Double-LSTM decoder against a reference built from torch's own `nn.LSTMCell` (today's eager loop, Appendix A):
same outputs and gradients, old checkpoints load, generation's step-by-step path, gradcheck, autocast."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from hf_awd import SequenceVAE
from hf_awd.model.modeling_sequence_vae import token_log_likelihood

from .conftest import tiny_config
from .test_model import mixed_length_batch

# The Double-LSTM parameters of every checkpoint so far: (name, shape) for embedding E, latent D, hidden H.
E, D, H = 16, 4, 24
CHECKPOINT_KEYS = {
    "decoder.predict_cell.weight_ih": (4 * H, D), "decoder.predict_cell.weight_hh": (4 * H, H),
    "decoder.predict_cell.bias_ih": (4 * H,), "decoder.predict_cell.bias_hh": (4 * H,),
    "decoder.update_cell.weight_ih": (4 * H, E + D), "decoder.update_cell.weight_hh": (4 * H, H),
    "decoder.update_cell.bias_ih": (4 * H,), "decoder.update_cell.bias_hh": (4 * H,),
}


def reference_decoder(decoder, embeddings, z, state):
    """Appendix A with fresh torch `nn.LSTMCell`s that use the decoder's parameter tensors: per step, the predict
    cell reads z, then the update cell reads [embedding_t; z]. -> outputs (B, T, H), (h, c)."""
    predict = nn.LSTMCell(z.size(1), H).to(z.dtype)
    update = nn.LSTMCell(embeddings.size(2) + z.size(1), H).to(z.dtype)
    predict_params = {name: param for name, param in decoder.predict_cell.named_parameters()}
    update_params = {name: param for name, param in decoder.update_cell.named_parameters()}
    outputs = []
    for t in range(embeddings.size(1)):
        state = functional_call(predict, predict_params, (z, state))
        state = functional_call(update, update_params, (torch.cat([embeddings[:, t], z], dim=1), state))
        outputs.append(state[0])
    return torch.stack(outputs, dim=1), state


def reference_decode(model, input_ids, z, drop_mask=None, state=None):
    """`SequenceVAE.decode` spelled out over `reference_decoder`: word dropout, h0 = W z, the output layer."""
    embeddings = model.embedding(input_ids)
    if drop_mask is not None:
        embeddings = embeddings * (1.0 - drop_mask).unsqueeze(-1)
    if state is None:
        h0 = model.latent_to_state(z)
        state = (h0, torch.zeros_like(h0))
    hidden, state = reference_decoder(model.decoder, embeddings, z, state)
    return model.lm_head(hidden), state


def loss_and_gradients(model, decode, input_ids, attention_mask, z, drop_mask):
    """Training's masked reconstruction loss (right padding ignored) plus the final state, and the gradients of
    every parameter and of z."""
    model.zero_grad()
    z = z.detach().requires_grad_()
    logits, (h, c) = decode(model, input_ids[:, :-1], z, drop_mask)
    nll = -token_log_likelihood(logits, input_ids[:, 1:], attention_mask[:, 1:].float()).sum()
    (nll + h.sum() + 0.5 * c.sum()).backward()
    gradients = {name: param.grad.clone() for name, param in model.named_parameters() if param.grad is not None}
    return logits.detach(), (h.detach(), c.detach()), {**gradients, "z": z.grad}


@pytest.mark.parametrize("lengths, drop", [([1], False), ([6], False), ([0], False), ([5, 1, 9, 3], False),
                                           ([5, 1, 9, 3], True), ([20] * 3, True)])
def test_decode_matches_two_lstm_cells_with_gradients(lengths, drop):
    """Batch 1, T = 1 (`<bos>` only: `[0]` words), right-padded mixed lengths, a drop mask as in training."""
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).train()
    input_ids, attention_mask = mixed_length_batch(lengths)
    z = torch.randn(len(lengths), D)
    drop_mask = None
    if drop:
        drop_mask = (torch.rand(input_ids[:, :-1].shape) < 0.3).float() * attention_mask[:, 1:]
        drop_mask[:, 0] = 0
    fast = loss_and_gradients(model, lambda m, ids, z, drop: m.decode(ids, z, drop_mask=drop), input_ids, attention_mask, z, drop_mask)
    reference = loss_and_gradients(model, reference_decode, input_ids, attention_mask, z, drop_mask)
    torch.testing.assert_close(fast[0], reference[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast[1], reference[1], atol=1e-5, rtol=1e-5)
    assert fast[2].keys() == reference[2].keys() and {"z", "embedding.weight", *CHECKPOINT_KEYS} <= fast[2].keys()
    for name in reference[2]:
        torch.testing.assert_close(fast[2][name], reference[2][name], atol=1e-5, rtol=1e-5, msg=name)


def test_decoder_gradients_of_embeddings_state_and_z_match_from_any_state():
    """Directly on the decoder, from a nonzero (h, c) as generation continues a state: outputs, final state and the
    gradients of the embeddings, z, h0 and c0."""
    torch.manual_seed(1)
    decoder = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).decoder
    inputs = [torch.randn(3, 7, E), torch.randn(3, D), torch.randn(3, H), torch.randn(3, H)]
    weights = torch.randn(3, 7, H)
    results = []
    for decode in (decoder, lambda *a: reference_decoder(decoder, *a)):
        leaves = [t.clone().requires_grad_() for t in inputs]
        outputs, (h, c) = decode(leaves[0], leaves[1], (leaves[2], leaves[3]))
        gradients = torch.autograd.grad((outputs * weights).sum() + 2 * h.sum() - c.sum(), leaves)
        results.append((outputs, h, c, *gradients))
    for fast, reference in zip(*results):
        torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-5)


def test_gradcheck_float64():
    decoder = SequenceVAE(tiny_config(embedding_size=3, latent_size=2, decoder_hidden_size=4)).decoder.double()
    names = [name for name, _ in decoder.named_parameters()]

    def decode(embeddings, z, h0, c0, *params):
        outputs, (_, c) = functional_call(decoder, dict(zip(names, params)), (embeddings, z, (h0, c0)))
        return outputs, c

    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)
              for shape in [(2, 3, 3), (2, 2), (2, 4), (2, 4)]]
    params = [p.detach().clone().requires_grad_() for p in decoder.parameters()]
    assert torch.autograd.gradcheck(decode, (*inputs, *params))


def test_checkpoint_with_todays_keys_loads_and_decodes_as_two_lstm_cells():
    """A state dict with the Double-LSTM's parameter names (torch's own LSTMCell's, prefixed) loads strictly, and
    the loaded decoder computes what those cells compute."""
    torch.manual_seed(2)
    model = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).eval()
    decoder_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith("decoder.")}
    assert decoder_shapes == CHECKPOINT_KEYS
    cells = {"predict_cell": nn.LSTMCell(D, H), "update_cell": nn.LSTMCell(E + D, H)}
    state_dict = dict(model.state_dict())
    state_dict.update({f"decoder.{cell}.{name}": value for cell, module in cells.items()
                       for name, value in module.state_dict().items()})
    model.load_state_dict(state_dict, strict=True)
    embeddings, z, h0 = torch.randn(2, 5, E), torch.randn(2, D), torch.randn(2, H)
    state = (h0, torch.zeros_like(h0))
    expected = []
    for t in range(5):
        state = cells["update_cell"](torch.cat([embeddings[:, t], z], dim=1), cells["predict_cell"](z, state))
        expected.append(state[0])
    with torch.no_grad():
        outputs, _ = model.decoder(embeddings, z, (h0, torch.zeros_like(h0)))
    torch.testing.assert_close(outputs, torch.stack(expected, dim=1), atol=1e-5, rtol=1e-5)


def test_generation_steps_one_token_at_a_time_like_the_reference():
    """generate()'s path: forward(z=, cache=) with one token and the previous (h, c), without gradients."""
    torch.manual_seed(3)
    model = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).eval()
    input_ids, _ = mixed_length_batch([6, 6])
    z = torch.randn(2, D)
    with torch.no_grad():
        expected, _ = reference_decode(model, input_ids, z)
        cache, steps = None, []
        for t in range(input_ids.size(1)):
            output = model(input_ids[:, t : t + 1], z=z, cache=cache)
            cache = output.cache
            steps.append(output.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), expected, atol=1e-5, rtol=1e-5)


def test_bfloat16_autocast_runs_forward_and_backward_close_to_float32():
    torch.manual_seed(4)
    model = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).train()
    input_ids, _ = mixed_length_batch([5, 8, 2])
    z = torch.randn(3, D)
    reference, _ = reference_decode(model, input_ids, z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model.decode(input_ids, z)
        loss = logits.float().logsumexp(-1).sum()
    loss.backward()
    assert logits.dtype == torch.bfloat16 and model.decoder.update_cell.weight_hh.grad.dtype == torch.float32
    assert all(torch.isfinite(p.grad).all() for p in model.decoder.parameters())
    torch.testing.assert_close(logits.float(), reference, atol=0.1, rtol=0.05)


def test_torch_compile_leaves_the_recurrence_eager_and_exact():
    """`--torch_compile` compiles the model; the recurrence runs outside the graph, with the same gradients."""
    torch.manual_seed(5)
    model = SequenceVAE(tiny_config(embedding_size=E, latent_size=D, decoder_hidden_size=H)).train()
    input_ids, _ = mixed_length_batch([4, 2])
    z = torch.randn(2, D)
    compiled = torch.compile(lambda m, ids, z: m.decode(ids, z), backend="aot_eager")
    gradients = []
    for decode in (compiled, reference_decode):
        model.zero_grad()
        logits, _ = decode(model, input_ids, z)
        logits.pow(2).mean().backward()
        gradients.append([p.grad.clone() for p in model.decoder.parameters()])
    for fast, reference in zip(*gradients):
        torch.testing.assert_close(fast, reference, atol=1e-5, rtol=1e-5)
