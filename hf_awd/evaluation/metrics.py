"""
Evaluation metrics for sequence VAEs, as pure tensor functions.

No model code lives here: the evaluation loop gathers per-sentence posterior parameters
(mu, logvar), sampled latents and decoder log-likelihoods over a split and calls these.
Everything is batched, runs on whatever device/dtype the inputs live on (float64 included),
and all log-densities are in nats.
"""

import math

import torch
from torch import Tensor

_LOG_2PI = math.log(2 * math.pi)
# max elements of one (D, rows, N) block in mutual_information, per device type, so memory stays bounded for
# N ~ 50k instead of materialising N x N x D. CPU: 8 MB float64 blocks are cache-friendly yet few enough that
# per-op threading overhead stays small; accelerators: few, large kernels (launch overhead dominates otherwise)
_MI_CHUNK_ELEMS = {"cpu": 2**20}
_MI_CHUNK_ELEMS_DEFAULT = 2**25


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over the last dim. mu, logvar: (..., D) -> (...)"""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag exp(logvar)) summed over last dim; broadcasts.
    z, mu, logvar: broadcastable (..., D) -> (...)"""
    # (z - mu)^2 * exp(-logvar) rather than / exp(logvar): no overflow/underflow detour for tiny variances
    return -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def iw_log_likelihood(log_px_given_z: Tensor, z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Importance-weighted estimate of log p(x) from k samples z ~ q(z|x).
    log_px_given_z: (B, k) log p(x|z_j); z: (B, k, D); mu, logvar: (B, D). Returns (B,):
    logsumexp_j[log p(x|z_j) + log p(z_j) - log q(z_j|x)] - log k, with p(z) = N(0, I).
    (This is the IWAE weight; do NOT use log p(x|z) - KL as some public code does.)
    It is a stochastic lower bound: E[IW_k] <= log p(x), increasing in k, IW_1 averages to the ELBO."""
    k = z.size(1)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))  # (B, k) standard normal prior
    log_qz = log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1))  # (B, k), posterior of each row's own x
    log_w = log_px_given_z + log_pz - log_qz
    return torch.logsumexp(log_w, dim=1) - math.log(k)  # log of the mean weight, stably


def mutual_information(
    mu: Tensor, logvar: Tensor, z: Tensor | None = None, generator: torch.Generator | None = None
) -> Tensor:
    """I(X;Z) estimate of Hoffman & Johnson (2016) as in Dieng et al. 2019 / He et al. 2019 `calc_mi`, but with the
    aggregate posterior over the WHOLE evaluation set passed in (Li et al. 2019 / Optimus style):
    E_x E_{q(z|x)} log q(z|x) - E_{x} E_{q(z|x)} log q(z), where the first term is exact for diagonal Gaussians
    (-0.5*D*log(2*pi) - 0.5*sum(1 + logvar)) and the second uses one z_n ~ q(z|x_n) per row (drawn with `generator`
    unless given) and log q(z_n) = logsumexp_m log N(z_n; mu_m, var_m) - log N. mu, logvar: (N, D). Returns a scalar.
    Compute the N x N log-density matrix in row chunks so memory stays bounded for N ~ 50k.
    z: optional (N, D) samples, z[n] ~ q(z|x_n). This is the MI of the empirical distribution of the N inputs, so it
    is capped at ~log N and for small N (a mini-batch) it is a noisy, biased stand-in for the population value;
    pass the whole split. With random z its MC sd is O(1/sqrt(N)) (~0.5*sqrt(2D/N) when posteriors barely overlap)."""
    N, D = mu.shape
    # E_x[-H(q(z|x))]: closed form for a diagonal Gaussian, so no sampling noise in this term
    neg_entropy = (-0.5 * D * _LOG_2PI - 0.5 * (1.0 + logvar).sum(-1)).mean()
    if z is None:
        # draw on the generator's own device (a CPU generator cannot feed CUDA randn), then move
        dev = generator.device if generator is not None else mu.device
        eps = torch.randn(mu.shape, generator=generator, device=dev, dtype=mu.dtype).to(mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
    # log N(z_n; mu_m, var_m) for all (n, m), same formula as log_normal but laid out (D, rows, N) so the
    # innermost axis is the long N axis (a (rows, N, D) broadcast with small D vectorises ~5x worse on CPU)
    mu_t = mu.T.contiguous().unsqueeze(1)  # (D, 1, N)
    inv_std_t = torch.exp(-0.5 * logvar).T.contiguous().unsqueeze(1)  # (D, 1, N)
    log_norm = -0.5 * (D * _LOG_2PI + logvar.sum(-1))  # (N,) normalising constant of each posterior
    rows = max(1, _MI_CHUNK_ELEMS.get(mu.device.type, _MI_CHUNK_ELEMS_DEFAULT) // (N * D))
    log_qz = torch.cat([
        torch.logsumexp(log_norm - 0.5 * ((zc.T.unsqueeze(2) - mu_t) * inv_std_t).square().sum(0), dim=1)
        for zc in z.split(rows)  # zc: (rows, D) -> (D, rows, 1) against (D, 1, N) -> (rows, N) -> (rows,)
    ]) - math.log(N)  # q(z) = (1/N) sum_m q(z|x_m)
    return neg_entropy - log_qz.mean()


def active_units(mu: Tensor, threshold: float = 0.01) -> Tensor:
    """Number of dims d with Var_n(mu[n, d]) > threshold (population covariance of the posterior means over x,
    as Burda et al. / He et al.). mu: (N, D) -> scalar int tensor."""
    return (mu.var(dim=0, correction=0) > threshold).sum()


def perplexity(total_nll, num_tokens) -> float:
    """exp(total NLL in nats / number of predicted tokens).
    total_nll: float or 0-dim tensor, summed over every predicted token (incl. EOS if it is predicted);
    num_tokens: int or 0-dim tensor, the count of those tokens."""
    return math.exp(float(total_nll) / float(num_tokens))
