"""The Double-LSTM decoder's recurrence (Appendix A of the AWD paper) as one autograd Function, the way cuDNN runs an
LSTM: the backward loop computes only what is sequential, and the weight gradients come in bulk afterwards.

With the input projections computed for all steps beforehand (P from z, U_t from [embedding_t; z], each with both
of its cell's biases), step t is

    h'_t, c'_t = cell(P + h_{t-1} W_p^T, c_{t-1})       predict cell
    h_t, c_t = cell(U_t + h'_t W_u^T, c'_t)              update cell

where W_p, W_u are the cells' `weight_hh` (4H, H) and cell(gates, c) splits the gates into i, f, g, o (the order of
`nn.LSTMCell`), c_new = sigmoid(f) c + sigmoid(i) tanh(g), h_new = sigmoid(o) tanh(c_new).

Autograd through two `nn.LSTMCell`s per step records a few dozen nodes per step and multiplies out every step's
weight gradients separately (rank-B products, each added into a full (4H, H) gradient). Here the backward loop runs
only gate gradients -> (dh, dc) per step, then each weight gradient is one product over all T * B rows.

Only torch: this file is copied next to checkpoints for `trust_remote_code`.
"""

from typing import NamedTuple

import torch


class CellTrace(NamedTuple):
    """What one cell computed at every step, saved for the backward pass: gate activations (sigmoid(i), sigmoid(f),
    tanh(g), sigmoid(o)) (T, B, 4H); c, tanh(c), h (T, B, H)."""

    gates: torch.Tensor
    c: torch.Tensor
    tanh_c: torch.Tensor
    h: torch.Tensor

    @classmethod
    def empty(cls, like: torch.Tensor, steps: int, batch: int, hidden: int) -> "CellTrace":
        return cls(like.new_empty(steps, batch, 4 * hidden), *(like.new_empty(steps, batch, hidden) for _ in range(3)))

    def step(self, t: int) -> "CellTrace":
        return CellTrace(*(buffer[t] for buffer in self))


def lstm_cell(pre_activations: torch.Tensor, c_prev: torch.Tensor, out: CellTrace):
    """One LSTM cell update, written into `out` (one step of a `CellTrace`). pre_activations (B, 4H), c_prev (B, H)."""
    hidden = c_prev.size(1)
    # sigmoid over all four gates, then tanh over g: two kernels instead of four chunked ones.
    torch.sigmoid(pre_activations, out=out.gates)
    torch.tanh(pre_activations[:, 2 * hidden : 3 * hidden], out=out.gates[:, 2 * hidden : 3 * hidden])
    i, f, g, o = out.gates.chunk(4, dim=1)
    torch.addcmul(f * c_prev, i, g, out=out.c)
    torch.tanh(out.c, out=out.tanh_c)
    torch.mul(o, out.tanh_c, out=out.h)


def gate_gradient_factors(trace: CellTrace, c_prev: torch.Tensor):
    """For all steps at once, the factors that turn (dh, dc) into gate gradients, so that the backward loop does two
    multiplications per cell: dc += dh * through_h, then d(pre-activations) = per_gate * [dc, dc, dc, dh].
    trace: (T, B, .), c_prev (T, B, H) -> per_gate (T, B, 4H), through_h (T, B, H)."""
    i, f, g, o = trace.gates.chunk(4, dim=-1)
    per_gate = torch.cat(
        [g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), trace.tanh_c * o * (1 - o)], dim=-1
    )
    through_h = o * (1 - trace.tanh_c * trace.tanh_c)
    return per_gate, through_h


def lstm_cell_backward(dh, dc, per_gate, through_h, forget_gate, out: torch.Tensor) -> torch.Tensor:
    """Gradients into one cell's outputs dh, dc (B, H) -> its pre-activation gradients, written into `out` (B, 4H),
    and returns dc_prev (B, H). per_gate (B, 4H), through_h (B, H): from `gate_gradient_factors`."""
    batch, hidden = dc.shape
    dc = torch.addcmul(dc, dh, through_h)
    torch.mul(per_gate[:, : 3 * hidden].view(batch, 3, hidden), dc.unsqueeze(1),
              out=out[:, : 3 * hidden].view(batch, 3, hidden))
    torch.mul(per_gate[:, 3 * hidden :], dh, out=out[:, 3 * hidden :])
    return dc * forget_gate


class DoubleLSTMRecurrence(torch.autograd.Function):
    """predict_input (B, 4H), update_inputs (T, B, 4H), h0, c0 (B, H), predict_weight, update_weight (4H, H), all of
    one dtype -> the update cell's h at every step (T, B, H) and its last c (B, H)."""

    @staticmethod
    def forward(ctx, predict_input, update_inputs, h0, c0, predict_weight, update_weight):
        steps, batch, hidden = update_inputs.size(0), h0.size(0), h0.size(1)
        predict, update = (CellTrace.empty(h0, steps, batch, hidden) for _ in range(2))
        pre_activations = h0.new_empty(batch, 4 * hidden)
        h, c = h0, c0
        for t in range(steps):
            torch.addmm(predict_input, h, predict_weight.t(), out=pre_activations)
            lstm_cell(pre_activations, c, predict.step(t))
            torch.addmm(update_inputs[t], predict.h[t], update_weight.t(), out=pre_activations)
            lstm_cell(pre_activations, predict.c[t], update.step(t))
            h, c = update.h[t], update.c[t]
        ctx.save_for_backward(h0, c0, predict_weight, update_weight, *predict, *update)
        return update.h, update.c[-1]

    @staticmethod
    def backward(ctx, grad_h, grad_last_c):
        h0, c0, predict_weight, update_weight, *traces = ctx.saved_tensors
        predict, update = CellTrace(*traces[:4]), CellTrace(*traces[4:])
        # The state each step starts from: (h0, c0), then the update cell's previous outputs.
        h_before, c_before = torch.cat([h0[None], update.h[:-1]]), torch.cat([c0[None], update.c[:-1]])
        predict_factors = gate_gradient_factors(predict, c_before)
        update_factors = gate_gradient_factors(update, predict.c)
        predict_forget, update_forget = predict.gates.chunk(4, dim=-1)[1], update.gates.chunk(4, dim=-1)[1]
        # Gradient reaching h_{t-1} from the output at step t-1 (none reaches h0 that way).
        grad_h_before = torch.cat([torch.zeros_like(grad_h[:1]), grad_h[:-1]])
        grad_predict, grad_update = torch.empty_like(predict.gates), torch.empty_like(update.gates)
        dh, dc = grad_h[-1], grad_last_c
        for t in reversed(range(grad_h.size(0))):
            dc = lstm_cell_backward(dh, dc, update_factors[0][t], update_factors[1][t], update_forget[t], grad_update[t])
            dh = grad_update[t] @ update_weight
            dc = lstm_cell_backward(dh, dc, predict_factors[0][t], predict_factors[1][t], predict_forget[t],
                                    grad_predict[t])
            dh = torch.addmm(grad_h_before[t], grad_predict[t], predict_weight)
        grad_predict_weight = grad_predict.flatten(0, 1).t() @ h_before.flatten(0, 1)
        grad_update_weight = grad_update.flatten(0, 1).t() @ predict.h.flatten(0, 1)
        return grad_predict.sum(dim=0), grad_update, dh, dc, grad_predict_weight, grad_update_weight


# torch.compile (`--torch_compile`) would unroll the loop over T and recompile for every sentence length.
@torch.compiler.disable
def double_lstm(predict_input, update_inputs, h0, c0, predict_weight, update_weight):
    """See `DoubleLSTMRecurrence`: -> the update cell's h at every step (T, B, H) and its last c (B, H)."""
    return DoubleLSTMRecurrence.apply(predict_input, update_inputs, h0, c0, predict_weight, update_weight)
