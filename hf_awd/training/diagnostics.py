"""Per-batch training statistics: what the training log shows of the VAE and of the adversary's learning.

The adversary's statistics read its Gaussians N(mu_t, sigma_t^2), not the sampled scores: sampled scores look like
N(0, 1) whether or not the adversary has learned anything, while the spread of mu_t over a sentence's words against
sigma_t says whether its drops target particular words.
"""

import torch

from ..model.adversary import smallest_k_mask


@torch.no_grad()
def training_statistics(outputs, attention_mask: torch.Tensor, kl_weight: float) -> dict[str, torch.Tensor]:
    """Scalars to average into the training log. outputs: the batch's `SequenceVAEOutput`; attention_mask (B, L)."""
    words = attention_mask[:, 1:].bool().clone()
    words[:, 0] = False  # <bos> is never dropped; words are the eligible decoder inputs
    stats = {
        "reconstruction": outputs.reconstruction_nll.mean(),
        "kl": outputs.kl.mean(),
        "neg_elbo": (outputs.reconstruction_nll + outputs.kl).mean(),
        "kl_weight": torch.tensor(float(kl_weight)),
        "drop_fraction": outputs.drop_mask.sum() / words.sum().clamp(min=1),
    }
    if outputs.adversary_score_mean is not None:
        stats.update(adversary_statistics(outputs, words))
    return stats


@torch.no_grad()
def adversary_statistics(outputs, words: torch.Tensor) -> dict[str, torch.Tensor]:
    """The adversary's view of a batch (B, T tensors of `outputs`; words (B, T) bool, the droppable inputs).

    adversary_mean_spread: std of mu_t over a sentence's words, averaged over sentences with two or more words. Near
        0 against adversary_sigma, the drops are as good as uniform.
    adversary_sigma: mean sigma_t over words.
    drop_agreement: fraction of the dropped words that a second, independent draw of scores also drops;
        drop_agreement_chance is its value for uniformly random drops (sum K^2/T / sum K). Above chance, the
        adversary concentrates its drops on particular words.
    score_l1: l1 norm of each sentence's sampled scores over its words, averaged (the paper's Figure 3, left).
    """
    mean, std = outputs.adversary_score_mean, (0.5 * outputs.adversary_score_logvar).exp()
    count = words.sum(dim=1)
    several = count >= 2
    centred = (mean - (mean * words).sum(dim=1, keepdim=True) / count.clamp(min=1).unsqueeze(1)) * words
    spread = (centred.pow(2).sum(dim=1) / count.clamp(min=1)).sqrt()

    dropped = outputs.drop_mask.detach()
    k = dropped.sum(dim=1)
    redrawn = smallest_k_mask(mean + std * torch.randn_like(mean), k.long(), words)
    return {
        "adversary_mean_spread": spread[several].mean() if bool(several.any()) else spread.new_zeros(()),
        "adversary_sigma": std[words].mean(),
        "drop_agreement": (dropped * redrawn).sum() / k.sum().clamp(min=1),
        "drop_agreement_chance": (k.pow(2) / count.clamp(min=1)).sum() / k.sum().clamp(min=1),
        "adversary_regularizer": outputs.adversary_regularizer.mean(),
        "score_l1": (outputs.adversary_scores.abs() * words).sum(dim=1).mean(),
    }
