import math

import numpy as np
import pytest
import torch

import hf_awd.evaluation.metrics as M
from hf_awd.evaluation.metrics import (
    active_units,
    gaussian_kl,
    iw_log_likelihood,
    log_normal,
    mutual_information,
    perplexity,
)

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- closed forms

def test_gaussian_kl_matches_torch_distributions():
    g = gen(0)
    mu, logvar = torch.randn(3, 4, 5, generator=g, dtype=F64), torch.randn(3, 4, 5, generator=g, dtype=F64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    out = gaussian_kl(mu, logvar)
    assert out.shape == (3, 4) and out.dtype == F64
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert torch.all(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)) == 0)  # q = prior


def test_log_normal_matches_torch_distributions_and_broadcasts():
    g = gen(1)
    z = torch.randn(6, 7, 4, generator=g, dtype=F64)  # (B, k, D) samples
    mu, logvar = torch.randn(6, 1, 4, generator=g, dtype=F64), torch.randn(6, 1, 4, generator=g, dtype=F64)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    out = log_normal(z, mu, logvar)
    assert out.shape == (6, 7) and out.dtype == F64
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- mutual information

def _true_mi_mixture_1d(means, sd):
    """I(X;Z) = H(Z) - H(Z|X) for X uniform over `means`, Z|X=x ~ N(x, sd^2), by trapezoid on a fine grid."""
    grid = np.linspace(min(means) - 12 * sd, max(means) + 12 * sd, 200_001)
    pz = np.mean([np.exp(-0.5 * ((grid - m) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)) for m in means], axis=0)
    integrand = np.where(pz > 0, pz * np.log(np.where(pz > 0, pz, 1.0)), 0.0)
    h_z = -np.trapezoid(integrand, grid)
    h_z_given_x = 0.5 * np.log(2 * np.pi * np.e * sd**2)
    return h_z - h_z_given_x


def _stratified_z(mu, logvar, reps):
    """z for `reps` stacked copies of (mu, logvar): per input, the reps normal quantiles (i + 0.5) / reps instead
    of random draws, i.e. a low-variance z ~ q(z|x), so the tests can be small and tight."""
    u = (torch.arange(reps, dtype=mu.dtype) + 0.5) / reps
    eps = torch.special.ndtri(u)[:, None, None].expand(reps, *mu.shape).reshape(-1, mu.shape[-1])
    return mu.repeat(reps, 1) + torch.exp(0.5 * logvar).repeat(reps, 1) * eps


def test_mi_matches_numerical_integration():
    means, sd = [-3.0, 0.0, 3.0], 1.0
    true_mi = _true_mi_mixture_1d(means, sd)
    assert 0.5 < true_mi < math.log(3)  # overlapping components: strictly between 0 and log N
    # 3 equiprobable inputs, each repeated: the set's aggregate posterior IS the true mixture, only MC noise remains
    mu1 = torch.tensor(means, dtype=F64).unsqueeze(1)
    logvar1 = torch.full_like(mu1, 2 * math.log(sd))
    mu, logvar = mu1.repeat(1000, 1), logvar1.repeat(1000, 1)
    mi = mutual_information(mu, logvar, generator=gen(0))  # random z: MC sd ~ 0.007 at 3000 rows
    assert mi.dim() == 0 and mi.dtype == F64
    assert abs(mi.item() - true_mi) < 0.03, (mi.item(), true_mi)
    mi = mutual_information(mu, logvar, z=_stratified_z(mu1, logvar1, 1000))  # quadrature-like z: tighter
    assert abs(mi.item() - true_mi) < 0.003, (mi.item(), true_mi)


def test_mi_zero_when_posterior_ignores_x():
    # every x gets the same posterior N(1.5, e^-1) -> q(z) = q(z|x), I(X;Z) = 0
    mu1, logvar1 = torch.full((1, 1), 1.5, dtype=F64), torch.full((1, 1), -1.0, dtype=F64)
    mu, logvar = mu1.repeat(4000, 1), logvar1.repeat(4000, 1)
    # random z: both terms use the same z_n, so the estimate is exactly 0 whatever the draws
    assert abs(mutual_information(mu, logvar, generator=gen(1)).item()) < 1e-12
    mu, logvar = mu1.repeat(1000, 1), logvar1.repeat(1000, 1)
    assert abs(mutual_information(mu, logvar, z=_stratified_z(mu1, logvar1, 1000)).item()) < 0.01


def test_mi_log_n_for_separated_tiny_posteriors():
    # 4 inputs with far-apart, near-deterministic codes: Z identifies X, so I(X;Z) = H(X) = log 4
    centers = torch.tensor([[0.0], [10.0], [20.0], [30.0]], dtype=F64)
    logvar1 = torch.full_like(centers, 2 * math.log(1e-2))
    mu, logvar = centers.repeat(1000, 1), logvar1.repeat(1000, 1)
    # random z: same MC noise as above, sd ~ 0.011 (the tiny variance does not shrink it)
    assert abs(mutual_information(mu, logvar, generator=gen(2)).item() - math.log(4)) < 0.05
    mu, logvar = centers.repeat(250, 1), logvar1.repeat(250, 1)
    mi = mutual_information(mu, logvar, z=_stratified_z(centers, logvar1, 250))
    assert abs(mi.item() - math.log(4)) < 0.01, mi.item()
    # float32 too: tiny variances must not break the log-density (no cancellation in (z - mu) / sd)
    mi32 = mutual_information(mu.float(), logvar.float(), z=_stratified_z(centers, logvar1, 250).float())
    assert mi32.dtype == torch.float32 and abs(mi32.item() - math.log(4)) < 0.01


def test_mi_chunking_and_sampling_consistency(monkeypatch):
    g = gen(3)
    mu, logvar = torch.randn(301, 3, generator=g, dtype=F64), torch.randn(301, 3, generator=g, dtype=F64) * 0.5
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen(7), dtype=F64)
    # explicit z == z drawn internally from the same generator state
    full = mutual_information(mu, logvar, z=z)
    torch.testing.assert_close(mutual_information(mu, logvar, generator=gen(7)), full, rtol=0, atol=1e-12)
    # chunked (1 row and a ragged 7 rows per block) == unchunked
    for elems in (1, 7 * 301 * 3):
        monkeypatch.setitem(M._MI_CHUNK_ELEMS, "cpu", elems)
        torch.testing.assert_close(mutual_information(mu, logvar, z=z), full, rtol=0, atol=1e-12)
    # and against a dense N x N reference
    dense = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z[:, None]).sum(-1)  # (N, N)
    log_qz = torch.logsumexp(dense, 1) - math.log(301)
    # the same z_n in both terms: log q(z_n | x_n) is the diagonal of the dense matrix
    torch.testing.assert_close(full, (dense.diagonal() - log_qz).mean(), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- importance-weighted log-likelihood

def test_iw_exact_when_q_is_prior_and_decoder_ignores_z():
    g = gen(4)
    B, D = 5, 3
    log_px = -10 * torch.rand(B, generator=g, dtype=F64)  # the (z-independent) log p(x)
    mu, logvar = torch.zeros(B, D, dtype=F64), torch.zeros(B, D, dtype=F64)
    for k in (1, 5, 100):
        z = torch.randn(B, k, D, generator=g, dtype=F64)  # z ~ q = p(z): every weight is exactly p(x)
        out = iw_log_likelihood(log_px[:, None].expand(B, k), z, mu, logvar)
        assert out.shape == (B,) and out.dtype == F64
        torch.testing.assert_close(out, log_px, rtol=0, atol=1e-12)


class LinearGaussian:
    """z ~ N(0, I_D), x | z ~ N(W z + b, sig^2 I). W has orthogonal columns so the true posterior is diagonal."""

    def __init__(self, B, g, D=2, Dx=3, sig=0.5):
        Q, _ = torch.linalg.qr(torch.randn(Dx, D, generator=g, dtype=F64))
        self.s = torch.tensor([1.5, 0.8], dtype=F64)[:D]
        self.W, self.b = Q * self.s, torch.tensor([0.3, -1.0, 0.5], dtype=F64)[:Dx]
        self.sig, self.D, self.Dx = sig, D, Dx
        z0 = torch.randn(B, D, generator=g, dtype=F64)
        self.x = z0 @ self.W.T + self.b + sig * torch.randn(B, Dx, generator=g, dtype=F64)
        cov = self.W @ self.W.T + sig**2 * torch.eye(Dx, dtype=F64)
        self.exact = torch.distributions.MultivariateNormal(self.b, cov).log_prob(self.x)  # (B,)
        var = 1 / (1 + self.s**2 / sig**2)  # posterior variance per dim (W^T W = diag(s^2))
        self.post_mu = var * ((self.x - self.b) @ self.W) / sig**2
        self.post_logvar = var.log().expand(B, D)

    def log_px_given_z(self, z):  # z: (B, k, D) -> (B, k)
        return torch.distributions.Normal(z @ self.W.T + self.b, self.sig).log_prob(self.x[:, None]).sum(-1)

    def elbo(self, mu, logvar):  # closed form: E_q log p(x|z) - KL(q || p)
        resid = ((self.x - mu @ self.W.T - self.b) ** 2).sum(-1) + (logvar.exp() * self.s**2).sum(-1)
        exp_loglik = -0.5 * self.Dx * math.log(2 * math.pi * self.sig**2) - 0.5 * resid / self.sig**2
        return exp_loglik - gaussian_kl(mu, logvar)

    def iw(self, mu, logvar, k, g):
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * torch.randn(mu.shape[0], k, self.D, generator=g, dtype=F64)
        return iw_log_likelihood(self.log_px_given_z(z), z, mu, logvar)


def test_iw_exact_with_true_posterior():
    # q(z|x) = p(z|x) -> p(x|z)p(z)/q(z|x) = p(x) for every z; "log p(x|z) - KL" would not be exact here
    g = gen(5)
    m = LinearGaussian(64, g)
    for k in (1, 7):
        torch.testing.assert_close(m.iw(m.post_mu, m.post_logvar, k, g), m.exact, rtol=0, atol=1e-10)


def test_iw_between_elbo_and_exact_and_tightens_with_k():
    g = gen(6)
    B = 2000
    m = LinearGaussian(B, g)
    mu, logvar = m.post_mu + 0.3, m.post_logvar + 0.7  # a wrong (shifted, over-dispersed) posterior
    elbo = m.elbo(mu, logvar)
    gap_elbo = (m.exact - elbo).mean().item()
    assert gap_elbo > 0.5  # non-trivial toy: the ELBO is loose

    def se(v):
        return v.std().item() / math.sqrt(B)

    gaps = {}
    for k in (1, 10, 1000):
        iw = m.iw(mu, logvar, k, g)
        gap = m.exact - iw
        gaps[k] = gap.mean().item()
        assert gaps[k] > -4 * se(gap), (k, gaps[k])  # IW_k <= log p(x) on average
        assert (iw - elbo).mean().item() > -4 * se(iw - elbo), k  # ELBO <= IW_k on average
        if k == 1:  # IW_1 is an unbiased estimate of the ELBO
            assert abs((iw - elbo).mean().item()) < 4 * se(iw - elbo)
    assert gap_elbo > gaps[10] > gaps[1000]  # monotonically closer to log p(x)
    assert gaps[10] < 0.5 * gap_elbo and gaps[1000] < 0.02, gaps


# ----------------------------------------------------------------------------- active units, perplexity

def test_active_units():
    g = gen(8)
    N = 1000
    mu = torch.zeros(N, 5)
    mu[:, 0] = torch.randn(N, generator=g)  # variance ~1: active
    mu[:, 3] = torch.randn(N, generator=g)  # variance ~1: active
    mu[:, 1] = 2.0  # constant: inactive
    mu[:, 4] = 1e-2 * torch.randn(N, generator=g)  # variance ~1e-4: inactive
    au = active_units(mu)
    assert au.dim() == 0 and not au.is_floating_point() and au.item() == 2
    assert active_units(mu, threshold=2.0).item() == 0


def test_active_units_uses_population_variance():
    mu = torch.tensor([[-0.15], [0.15]], dtype=F64)  # population var 0.0225, sample var 0.045
    assert active_units(mu, threshold=0.03).item() == 0
    assert active_units(mu, threshold=0.02).item() == 1
    # the definition is strict (Var > threshold): a variance of exactly 0.25 is not above 0.25
    assert active_units(torch.tensor([[-0.5], [0.5]], dtype=F64), threshold=0.25).item() == 0


def test_perplexity():
    assert perplexity(3 * math.log(4), 3) == pytest.approx(4.0, rel=1e-12)
    assert perplexity(torch.tensor(3 * math.log(4), dtype=F64), torch.tensor(3)) == pytest.approx(4.0, rel=1e-12)
    assert isinstance(perplexity(0.0, 10), float) and perplexity(0.0, 10) == 1.0


# ----------------------------------------------------------------------------- device agnosticism

DEVICES = ["meta"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_outputs_stay_on_input_device(device):
    # "meta" checks that nothing silently moves to CPU without needing an accelerator
    mu, logvar = torch.zeros(50, 4, device=device), torch.zeros(50, 4, device=device)
    z = torch.zeros(50, 3, 4, device=device)
    outs = [
        gaussian_kl(mu, logvar),
        log_normal(z, mu[:, None], logvar[:, None]),
        iw_log_likelihood(torch.zeros(50, 3, device=device), z, mu, logvar),
        mutual_information(mu, logvar, generator=gen(0)),  # CPU generator, input on `device`
        active_units(mu),
    ]
    assert all(o.device.type == device for o in outs)
