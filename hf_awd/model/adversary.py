"""The AWD adversary: learns which decoder inputs to drop (Miladinović et al., 2022, Sections 4.2-4.3).

A unidirectional LSTM over x gives a Gaussian N(mu_i, sigma_i^2) per token; scores s_i are sampled with the
reparameterisation trick, and exactly K = round(R * T) eligible tokens with the smallest scores are dropped. The
forward pass uses that discrete 0/1 mask; the backward pass uses the Euclidean projection of -s onto
{y in [0, 1]^T : sum(y) = K}, a stochastic-softmax-trick relaxation of top-K (Paulus et al., 2020), straight-through.
A gradient-reversal layer in front of the mask makes the adversary minimise the ELBO that the VAE maximises.
"""

from dataclasses import dataclass

import torch
from torch import nn


def num_words_to_drop(num_eligible: torch.Tensor, rate: float) -> torch.Tensor:
    """K = round(R * T) per sequence, rounding halves up (the paper's "closest integer"). (B,) -> (B,) long.

    1e-9 absorbs the binary representation of a decimal rate (0.35 * 90 is 31.499999999999996 in floating point, and
    must round to 32); R * T for a rate of up to 8 decimals is otherwise at least 1e-8 away from a half."""
    return torch.floor(num_eligible.to(torch.float64) * rate + 0.5 + 1e-9).long()


def smallest_k_mask(scores: torch.Tensor, k: torch.Tensor, eligible: torch.Tensor) -> torch.Tensor:
    """1.0 at the k[b] eligible positions of row b with the smallest scores, 0.0 elsewhere.

    scores: (B, T) float; k: (B,) long; eligible: (B, T) bool. Returns (B, T) float.
    """
    masked = scores.masked_fill(~eligible, float("inf"))
    rank = masked.argsort(dim=1).argsort(dim=1)  # rank[b, t] = position of t in ascending order
    return ((rank < k.unsqueeze(1)) & eligible).to(scores.dtype)


def capped_simplex_projection(x: torch.Tensor, k: torch.Tensor, eligible: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of x onto {y in [0, 1]^T : sum(y) = k, y = 0 off `eligible`}.

    The solution is y = clamp(x + nu, 0, 1) for a scalar nu per row with s(nu) = k, where s(nu) = the sum over the
    eligible i of clamp(x_i + nu, 0, 1) is nondecreasing and linear between its knots {-x_i, 1 - x_i}. Evaluating s
    at every knot at once (a (B, 2T, T) tensor: a handful of kernels, no iteration, which matters on a GPU) brackets
    nu between two consecutive knots; there the unclamped coordinates are fixed and nu has a closed form, computed
    with autograd so that the gradient is the projection's exact Jacobian (identity minus the mean over the
    unclamped coordinates). x: (B, T); k: (B,) with 0 <= k <= eligible.sum(1); eligible: (B, T) bool.
    """
    target = k.to(x.dtype)
    with torch.no_grad():
        knots = torch.cat([-x, 1 - x], dim=1)  # (B, 2T); knots of ineligible positions are just more sample points
        totals = ((x.unsqueeze(1) + knots.unsqueeze(2)).clamp(0, 1) * eligible.unsqueeze(1)).sum(dim=2)
        below = knots.masked_fill(totals > target.unsqueeze(1), -torch.inf).amax(dim=1)  # last with s <= k
        above = knots.masked_fill(totals < target.unsqueeze(1), torch.inf).amin(dim=1)  # first with s >= k
        # below < above: s crosses k between these consecutive knots, where the unclamped set is fixed.
        # below >= above: s = k on all of [above, below] (no coordinate moves there).
        shifted = x + ((below + above) / 2).unsqueeze(1)
        free = eligible & (shifted > 0) & (shifted < 1)
        saturated = eligible & (shifted >= 1)
    num_free = free.sum(dim=1)
    nu = (target - saturated.sum(dim=1) - (x * free).sum(dim=1)) / num_free.clamp(min=1)
    # Clamped coordinates are constants: the gradient flows through the unclamped ones (and nu) only.
    return torch.where(free, (x + nu.unsqueeze(1)).clamp(0, 1), saturated.to(x.dtype))


class GradientReversal(torch.autograd.Function):
    """Identity forward, negated gradient backward (Ganin et al., 2016)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output


@dataclass
class AdversaryOutput:
    """drop_mask: (B, T) 0/1 in value, carrying the reversed straight-through gradient; score_mean, score_logvar,
    scores: (B, T); regularizer: (B,) sum over eligible tokens of KL(N(mu_i, sigma_i^2) || N(0, 1))."""

    drop_mask: torch.Tensor
    scores: torch.Tensor
    score_mean: torch.Tensor
    score_logvar: torch.Tensor
    regularizer: torch.Tensor


class AdversarialWordDropout(nn.Module):
    """Adversary A_psi: own embedding, unidirectional LSTM, linear head to (mu_i, log sigma_i^2) per token."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, padding_idx: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, eligible: torch.Tensor, rate: float) -> AdversaryOutput:
        """input_ids: (B, T) decoder inputs; eligible: (B, T) bool, the tokens that may be dropped."""
        hidden, _ = self.lstm(self.embedding(input_ids))
        score_mean, score_logvar = self.head(hidden).unbind(dim=-1)
        scores = score_mean + torch.randn_like(score_mean) * (0.5 * score_logvar).exp()
        k = num_words_to_drop(eligible.sum(dim=1), rate)
        hard = smallest_k_mask(scores.detach(), k, eligible)
        soft = capped_simplex_projection(-scores, k, eligible)  # small score -> large drop probability
        drop_mask = GradientReversal.apply(hard + (soft - soft.detach()))  # exactly 0/1 forward
        kl = 0.5 * (score_mean.pow(2) + score_logvar.exp() - 1.0 - score_logvar)
        return AdversaryOutput(
            drop_mask=drop_mask,
            scores=scores,
            score_mean=score_mean,
            score_logvar=score_logvar,
            regularizer=(kl * eligible).sum(dim=1),
        )
