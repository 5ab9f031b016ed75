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
    """I(X;Z) of Hoffman & Johnson (2016), as He et al. (2019) report it, with the aggregate posterior of the WHOLE
    evaluation set (Li et al. 2019 / Optimus) rather than of a mini-batch:

        I ~ mean_n [log q(z_n|x_n) - log q(z_n)],   z_n ~ q(z|x_n),   q(z) = (1/N) sum_m q(z|x_m).

    Both terms use the same z_n, so the estimate is exactly 0 when all posteriors are equal (a collapsed model):
    estimating E log q(z|x) in closed form and E log q(z) with samples, as He et al.'s `calc_mi` does, leaves their
    independent noise in the difference (+0.10 nats on average on a simulated collapsed posterior with N = 3,761,
    D = 32, which made MI exceed KL).

    mu, logvar: (N, D); z: optional (N, D) samples, z[n] ~ q(z|x_n), drawn with `generator` when not given. It is the
    MI of the empirical distribution of the N inputs, so it is capped at log N; pass the whole split. The N x N
    density matrix is computed in row chunks so memory stays bounded for N ~ 50k. Returns a scalar.
    """
    N, D = mu.shape
    if z is None:
        # draw on the generator's own device (a CPU generator cannot feed CUDA randn), then move
        dev = generator.device if generator is not None else mu.device
        eps = torch.randn(mu.shape, generator=generator, device=dev, dtype=mu.dtype).to(mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
    log_q_own = log_normal(z, mu, logvar)  # (N,) log q(z_n | x_n)
    # log N(z_n; mu_m, var_m) for all (n, m), same formula as log_normal but laid out (D, rows, N) so the
    # innermost axis is the long N axis (a (rows, N, D) broadcast with small D vectorises ~5x worse on CPU)
    mu_t = mu.T.contiguous().unsqueeze(1)  # (D, 1, N)
    inv_std_t = torch.exp(-0.5 * logvar).T.contiguous().unsqueeze(1)  # (D, 1, N)
    log_norm = -0.5 * (D * _LOG_2PI + logvar.sum(-1))  # (N,) normalising constant of each posterior
    rows = max(1, _MI_CHUNK_ELEMS.get(mu.device.type, _MI_CHUNK_ELEMS_DEFAULT) // (N * D))
    log_q_aggregate = torch.cat([
        torch.logsumexp(log_norm - 0.5 * ((zc.T.unsqueeze(2) - mu_t) * inv_std_t).square().sum(0), dim=1)
        for zc in z.split(rows)  # zc: (rows, D) -> (D, rows, 1) against (D, 1, N) -> (rows, N) -> (rows,)
    ]) - math.log(N)
    return (log_q_own - log_q_aggregate).mean()


def active_units(mu: Tensor, threshold: float = 0.01) -> Tensor:
    """Number of dims d with Var_n(mu[n, d]) > threshold (population covariance of the posterior means over x,
    as Burda et al. / He et al.). mu: (N, D) -> scalar int tensor."""
    return (mu.var(dim=0, correction=0) > threshold).sum()


def perplexity(total_nll, num_tokens) -> float:
    """exp(total NLL in nats / number of predicted tokens).
    total_nll: float or 0-dim tensor, summed over every predicted token (incl. EOS if it is predicted);
    num_tokens: int or 0-dim tensor, the count of those tokens."""
    return math.exp(float(total_nll) / float(num_tokens))
