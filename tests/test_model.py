"""The sequence VAE, its word dropout and the AWD adversary."""

import copy
import itertools
import math
from fractions import Fraction

import pytest
import torch

from hf_awd import SequenceVAE, SequenceVAEConfig
from hf_awd.model.adversary import capped_simplex_projection, num_words_to_drop, smallest_k_mask

from .conftest import tiny_config


def mixed_length_batch(lengths, vocab_size=50, seed=0):
    """`<bos> words <eos>` rows of the given word counts, right-padded with 0."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths) + 2
    input_ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        input_ids[row, 0] = 2
        input_ids[row, 1 : n + 1] = torch.randint(4, vocab_size, (n,), generator=generator)
        input_ids[row, n + 1] = 3
    return input_ids, input_ids.ne(0).long()


@pytest.mark.parametrize("rate", [0.2, 0.3, 0.5])
def test_adversarial_mask_drops_exactly_round_rt_words_never_padding(rate):
    lengths = [1, 2, 3, 5, 7, 10, 13, 20]
    input_ids, attention_mask = mixed_length_batch(lengths)
    model = SequenceVAE(tiny_config(word_dropout="adversarial", word_dropout_rate=rate)).train()
    for _ in range(5):
        drop_mask = model(input_ids, attention_mask).drop_mask.detach()
        assert set(drop_mask.unique().tolist()) <= {0.0, 1.0}
        for row, n in enumerate(lengths):
            expected = int(rate * n + 0.5)  # round half up, T = the row's own word count
            assert drop_mask[row].sum().item() == expected
            assert drop_mask[row, 0] == 0  # <bos> is never dropped
            assert drop_mask[row, n + 1 :].sum() == 0  # padding is never dropped


def test_num_words_to_drop_rounds_half_up():
    assert num_words_to_drop(torch.tensor([0, 1, 2, 5, 10]), 0.3).tolist() == [0, 0, 1, 2, 3]
    assert num_words_to_drop(torch.tensor([5]), 0.5).tolist() == [3]


@pytest.mark.parametrize("rate", [round(0.05 * i, 2) for i in range(1, 20)] + [0.29])
def test_num_words_to_drop_rounds_the_decimal_rate_half_up_exactly(rate):
    """Against exact rational arithmetic: R * T = 31.5 for R = 0.35, T = 90 must give 32, although 0.35 is stored as
    0.34999999999999997 in binary."""
    exact = [math.floor(Fraction(str(rate)) * t + Fraction(1, 2)) for t in range(301)]
    assert num_words_to_drop(torch.arange(301), rate).tolist() == exact


def test_smallest_k_mask_picks_the_smallest_eligible_scores():
    scores = torch.tensor([[0.5, -2.0, 1.0, -1.0, -9.0]])
    eligible = torch.tensor([[True, True, True, True, False]])
    mask = smallest_k_mask(scores, torch.tensor([2]), eligible)
    assert mask.tolist() == [[0, 1, 0, 1, 0]] and mask.dtype == scores.dtype  # a float mask, as documented


def test_capped_simplex_projection_is_feasible_and_matches_its_jacobian():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 9, generator=generator, dtype=torch.float64, requires_grad=True)
    eligible = torch.ones(4, 9, dtype=torch.bool)
    eligible[1, 6:] = False
    k = torch.tensor([2, 3, 1, 4])
    y = capped_simplex_projection(x, k, eligible)
    assert torch.allclose(y.sum(dim=1), k.double(), atol=1e-6)
    assert y.min() >= 0 and y.max() <= 1 and y[1, 6:].abs().sum() == 0
    # The closed-form re-solve gives the projection's exact Jacobian: check it against finite differences.
    assert torch.autograd.gradcheck(lambda t: capped_simplex_projection(t, k, eligible), (x,))


def brute_force_capped_simplex_projection(x: list[float], k: int):
    """Projection of x onto {y in [0, 1]^n : sum(y) = k} by enumerating which coordinates sit at 0, at 1 or strictly
    between (3^n cases) and keeping the one whose KKT conditions hold: y = clamp(x + nu) with the between-set's nu.
    Returns y and the between-set (empty when k = 0 or k = n)."""
    for sides in itertools.product((0, 1, 2), repeat=len(x)):  # 0: y = 0, 1: 0 < y < 1, 2: y = 1
        between = [i for i, side in enumerate(sides) if side == 1]
        ones = sides.count(2)
        if not between:  # y in {0, 1}^n: some nu puts every 1 at or above 1 and every 0 at or below 0
            lowest_one = min((x[i] for i, side in enumerate(sides) if side == 2), default=float("inf"))
            highest_zero = max((x[i] for i, side in enumerate(sides) if side == 0), default=-float("inf"))
            if ones == k and lowest_one - highest_zero >= 1:
                return [float(side == 2) for side in sides], []
            continue
        nu = (k - ones - sum(x[i] for i in between)) / len(between)
        if all((0 < x[i] + nu < 1) if side == 1 else (x[i] + nu <= 0) if side == 0 else (x[i] + nu >= 1)
               for i, side in enumerate(sides)):
            return [min(max(value + nu, 0.0), 1.0) for value in x], between
    raise AssertionError("no feasible KKT point")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(6))
def test_capped_simplex_projection_equals_brute_force_with_its_exact_jacobian(seed, dtype):
    """Values against the enumeration above; the Jacobian on each row's unclamped set is I - 11^T / |set| (zero
    elsewhere), the exact derivative of the projection: zero where no coordinate is unclamped (k = 0, k = n, or
    scores far apart), in float32 too. Rows include k = 0, k = n, no eligible position, ties, and a solution on a
    kink (coordinates exactly at 0 and at 1), where the unclamped set, hence the Jacobian, is the strictly inside one."""
    generator = torch.Generator().manual_seed(seed)
    rows = 10
    x = (torch.randn(rows, 6, generator=generator, dtype=torch.float64) * 1.5).to(dtype)
    x[5] = torch.tensor([0.3, 0.3, 0.3, -0.2, 0.9, 0.3], dtype=dtype)  # ties
    eligible = torch.rand(rows, 6, generator=generator) < 0.8
    eligible[3] = False
    eligible[5] = True
    n = eligible.sum(dim=1)
    k = 1 + (torch.rand(rows, generator=generator) * (n - 1)).long()  # 0 < k < n where n > 1
    k[0], k[1], k[3], k[5] = 0, n[1], 0, 1
    k = k.clamp(max=n)
    # A kink: nu = 0 is exactly a knot of two coordinates, 1.0 reaching 1 and 0.0 leaving 0, and s(0) = k there, so
    # the bracket collapses onto it; neither is unclamped (the Jacobian acts on the 0.5s only). Binary-exact values.
    x = torch.cat([x, torch.tensor([[1.0, 0.5, 0.5, 0.0, -1.0, 2.0]], dtype=dtype)])
    eligible = torch.cat([eligible, torch.ones(1, 6, dtype=torch.bool)])
    k = torch.cat([k, torch.tensor([3])])
    rows += 1
    y = capped_simplex_projection(x, k, eligible)
    jacobian = torch.autograd.functional.jacobian(lambda t: capped_simplex_projection(t, k, eligible), x)
    for row in range(rows):
        positions = eligible[row].nonzero().flatten().tolist()
        expected, between = brute_force_capped_simplex_projection([x[row, i].item() for i in positions], int(k[row]))
        tolerance = 1e-9 if dtype == torch.float64 else 1e-5
        full = torch.zeros(6, dtype=dtype)
        full[positions] = torch.tensor(expected, dtype=dtype)
        torch.testing.assert_close(y[row], full, atol=tolerance, rtol=0)
        expected_jacobian = torch.zeros(6, 6, dtype=dtype)
        free = [positions[i] for i in between]
        for i in free:
            for j in free:
                expected_jacobian[i, j] = float(i == j) - 1 / len(free)
        torch.testing.assert_close(jacobian[row, :, row], expected_jacobian, atol=tolerance, rtol=0)


def test_capped_simplex_projection_stays_in_the_box_where_float32_rounding_lands_next_to_a_kink():
    """Hand-worked float32 rows whose exact solution puts a coordinate exactly on a clamp, which float32 rounding
    leaves just inside (0, 1) at the bracketing point, so it is treated as unclamped: the result must still lie in
    [0, 1] exactly and equal the exact projection. Row 0 (k = 2): nu = 0.2, y = x + 0.2 with -0.2 at exactly 0;
    row 1 (k = 5): nu = 2.6, -1.6 at exactly 1, -1.9 and -2.3 at 0.7 and 0.3, the rest above 1; row 2 (k = n = 6):
    all ones, where -0.3 + fl(1 + 0.3) is 1 - 6e-8 in float32, the only unclamped coordinate."""
    x = torch.tensor([[0.0, 0.1, 0.2, -0.2, 0.3, 0.4],
                      [-1.6, 3.8, -1.9, -2.3, 3.0, -0.7],
                      [0.1, -0.3, 0.5, 0.2, 0.0, -0.2]], dtype=torch.float32)
    expected = torch.tensor([[0.2, 0.3, 0.4, 0.0, 0.5, 0.6],
                             [1.0, 1.0, 0.7, 0.3, 1.0, 1.0],
                             [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    y = capped_simplex_projection(x, torch.tensor([2, 5, 6]), torch.ones(3, 6, dtype=torch.bool))
    assert y.min() >= 0 and y.max() <= 1, y
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=0)


def test_capped_simplex_projection_of_widely_spread_scores_matches_a_plain_bisection():
    """Against y = clip(x + nu, 0, 1) on the eligible entries with sum(y) = k, nu found by 200 halvings of a bracket
    wide enough for any x (the projection's KKT solution). Ineligible entries must not count: they hold extreme values
    in rows 0-2, zeros in rows 3-4."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(5, 8, generator=generator, dtype=torch.float64) * 20
    eligible = torch.rand(5, 8, generator=generator) < 0.75
    eligible[:, :2], eligible[:, -1] = True, False
    outside = torch.tensor([1e6, -1e6]).repeat(5, 4).double()
    outside[3:] = 0.0
    x = torch.where(eligible, x, outside)
    k = torch.tensor([1, 2, 1, 2, 1])
    expected = torch.zeros_like(x)
    for row in range(5):
        values = x[row, eligible[row]]
        lo, hi = -values.max().item() - 1, 1 - values.min().item()
        for _ in range(200):
            nu = (lo + hi) / 2
            lo, hi = (lo, nu) if (values + nu).clamp(0, 1).sum() > k[row] else (nu, hi)
        expected[row, eligible[row]] = (values + (lo + hi) / 2).clamp(0, 1)
    assert torch.allclose(capped_simplex_projection(x, k, eligible), expected, atol=1e-9)


def test_gradient_reversal_negates_the_adversary_gradient_and_straight_through_is_nonzero():
    input_ids, attention_mask = mixed_length_batch([6, 9, 4])
    model = SequenceVAE(tiny_config(word_dropout="adversarial", adversary_kl_weight=0.0)).train()

    def adversary_gradients(reverse: bool):
        torch.manual_seed(1)
        model.zero_grad()
        from hf_awd.model import adversary as module

        original = module.GradientReversal.apply
        if not reverse:
            module.GradientReversal.apply = lambda x: x
        try:
            model(input_ids, attention_mask).loss.backward()
        finally:
            module.GradientReversal.apply = original
        return {name: p.grad.clone() for name, p in model.adversary.named_parameters()}

    reversed_grads, plain_grads = adversary_gradients(True), adversary_gradients(False)
    total = sum(g.abs().sum() for g in reversed_grads.values())
    assert total > 0, "the straight-through relaxation must give the adversary a gradient"
    for name in reversed_grads:
        assert torch.allclose(reversed_grads[name], -plain_grads[name], atol=1e-7), name


def scripted_adversary(model, score_mean, score_logvar):
    """Make the adversary's head output the given (B, T) Gaussians N(mu_t, exp(logvar_t)): a leaf tensor, so the
    gradient that reaches the adversary can be read off it. Everything after the head is the code under test."""
    head_output = torch.stack([score_mean, score_logvar], dim=-1).requires_grad_()
    model.adversary.head.register_forward_hook(lambda module, inputs, output: head_output)
    return head_output


def test_awd_drops_the_words_with_the_smallest_scores():
    """Scores scripted as N(mu_t, e^-30) (sigma 3e-7), so the dropped positions follow from mu_t by hand."""
    input_ids, attention_mask = mixed_length_batch([5, 4])
    model = SequenceVAE(tiny_config(word_dropout="adversarial", word_dropout_rate=0.4)).train()
    mean = torch.tensor([[-99.0, 3.0, -1.0, 5.0, -2.0, 0.5],   # 5 words, K = 2: -2 (position 4) and -1 (position 2)
                         [-99.0, -4.0, 2.0, 1.0, 0.0, -9.0]])  # 4 words, K = round(1.6) = 2: -4 (1) and 0 (4)
    scripted_adversary(model, mean, torch.full_like(mean, -30.0))  # <bos> (-99) and padding (-9) are not eligible
    assert model(input_ids, attention_mask).drop_mask.tolist() == [[0, 0, 1, 0, 1, 0], [0, 1, 0, 0, 1, 0]]


def test_awd_samples_scores_with_std_exp_half_logvar_and_drops_the_smallest_samples():
    """2,000 sentences of 6 words, scores scripted as N(mu_t, sigma_t^2) with sigma = 2, 0.5, 1, ...: the sampled
    scores have those means and standard deviations, and each row drops its K = 2 smallest samples (sorted by hand)."""
    torch.manual_seed(0)
    input_ids, attention_mask = mixed_length_batch([6] * 2000)
    model = SequenceVAE(tiny_config(word_dropout="adversarial", word_dropout_rate=0.3)).train()
    mu = torch.tensor([0.0, 1.0, -1.0, 0.5, 0.0, 2.0, -0.5])
    sigma = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 0.25, 1.5])
    scripted_adversary(model, mu.expand(2000, -1), (2 * sigma.log()).expand(2000, -1))
    out = model(input_ids, attention_mask)
    words = out.adversary_scores.detach()[:, 1:]
    assert ((words.mean(dim=0) - mu[1:]).abs() < 4 * sigma[1:] / 2000**0.5).all()  # 4 standard errors
    assert torch.allclose(words.std(dim=0), sigma[1:], rtol=0.06)  # 4 standard errors: sigma / sqrt(2 * 2000) each
    expected = torch.zeros(2000, 7)
    expected.scatter_(1, words.argsort(dim=1)[:, :2] + 1, 1.0)  # K = round(0.3 * 6) = 2
    assert torch.equal(out.drop_mask.detach(), expected)


def test_the_adversary_gradient_pushes_it_to_drop_the_words_the_vae_needs_most():
    """The gradient that reaches the scores s_t, against a hand computation. With every eligible coordinate of the
    relaxation inside (0, 1), the Jacobian of proj(-s) is -(I - 11^T / T), and gradient reversal negates once more,
    so dL/ds_t = g_t - mean_words(g), where g = dL/dm is the VAE loss's gradient with respect to the drop mask at the
    hard mask (autograd through `decode` alone). It is largest where dropping the word hurts the VAE most, so gradient
    descent lowers that word's score, and the smallest scores are the ones dropped."""
    input_ids, attention_mask = mixed_length_batch([5, 4])
    model = SequenceVAE(tiny_config(word_dropout="adversarial", word_dropout_rate=0.4, adversary_kl_weight=0.0)).train()
    # scores a tenth apart: proj(-s) = 0.6, 0.5, 0.4, 0.3, 0.2 and 0.65, 0.55, 0.45, 0.35, all strictly inside (0, 1)
    mean = torch.tensor([[0.0, 0.0, 0.1, 0.2, 0.3, 0.4], [0.0, 0.05, 0.15, 0.25, 0.35, 0.0]])
    head_output = scripted_adversary(model, mean, torch.full_like(mean, -30.0))
    torch.manual_seed(0)
    out = model(input_ids, attention_mask)
    out.loss.backward()
    score_gradient = head_output.grad[..., 0]

    drop_mask = out.drop_mask.detach().clone().requires_grad_()
    logits, _ = model.decode(input_ids[:, :-1], out.latent.detach(), drop_mask=drop_mask)
    log_probs = logits.log_softmax(-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    (-(log_probs * attention_mask[:, 1:]).sum(dim=1).mean()).backward()
    g = drop_mask.grad
    words = torch.tensor([[0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 0]], dtype=torch.bool)
    expected = torch.where(words, g - (g * words).sum(dim=1, keepdim=True) / words.sum(dim=1, keepdim=True), 0.0)
    assert torch.allclose(score_gradient, expected, rtol=1e-4, atol=1e-7)
    for row in range(2):  # the word whose loss hurts most gets a positive gradient: descent lowers its score
        most_needed = torch.where(words[row], g[row], -torch.inf).argmax()
        assert score_gradient[row, most_needed] > 0


def test_adversary_scores_a_word_from_its_own_sentence_and_left_context_only():
    """The adversary's Gaussians for a sentence are the same alone or batched with another, and word t's depend on
    words 1..t: a change at position 2 moves them from position 2 on, not before (an LSTM over each sentence)."""
    model = SequenceVAE(tiny_config(word_dropout="adversarial")).train()
    input_ids, _ = mixed_length_batch([6, 6], seed=3)
    inputs, eligible = input_ids[:, :-1], torch.ones(2, 7, dtype=torch.bool)
    together = model.adversary(inputs, eligible, 0.3)
    changed = inputs[1:].clone()
    changed[0, 2] = 4 if changed[0, 2] != 4 else 5
    alone, alone_changed = (model.adversary(ids, eligible[1:], 0.3) for ids in (inputs[1:], changed))
    for name in ("score_mean", "score_logvar"):
        assert torch.allclose(getattr(together, name)[1:], getattr(alone, name), atol=1e-6), name
        before, after = getattr(alone, name)[0], getattr(alone_changed, name)[0]
        assert torch.allclose(before[:2], after[:2], atol=1e-6), name
        assert not torch.isclose(before[2:], after[2:]).any(), name


def test_adversary_regulariser_equals_closed_form_gaussian_kl():
    input_ids, attention_mask = mixed_length_batch([5, 8])
    model = SequenceVAE(tiny_config(word_dropout="adversarial", adversary_kl_weight=2.5)).train()
    captured = {}
    handle = model.adversary.head.register_forward_hook(lambda m, i, out: captured.setdefault("out", out))
    output = model(input_ids, attention_mask)
    handle.remove()
    mean, logvar = captured["out"].unbind(-1)
    eligible = attention_mask[:, 1:].bool().clone()
    eligible[:, 0] = False
    p = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    kl = torch.distributions.kl_divergence(p, torch.distributions.Normal(0.0, 1.0))
    expected = 2.5 * (kl * eligible).sum(dim=1)
    assert torch.allclose(output.adversary_regularizer, expected, atol=1e-5)


def test_uniform_word_dropout_rate_is_about_r():
    input_ids, attention_mask = mixed_length_batch([30] * 200)
    model = SequenceVAE(tiny_config(word_dropout="uniform", word_dropout_rate=0.4)).train()
    drop_mask = model(input_ids, attention_mask).drop_mask
    words = drop_mask[:, 1:31]
    assert abs(words.mean().item() - 0.4) < 0.02
    assert drop_mask[:, 0].sum() == 0
    # each sequence gets its own draw (a bug in public code shared one draw per time step across the batch)
    assert not torch.equal(drop_mask[0], drop_mask[1])


@pytest.mark.parametrize("mode", ["none", "uniform", "adversarial"])
def test_eval_mode_applies_no_dropout_and_the_adversary_does_not_change_the_eval_loss(mode):
    input_ids, attention_mask = mixed_length_batch([4, 7, 9])
    model = SequenceVAE(tiny_config(word_dropout=mode, word_dropout_rate=0.5)).eval()
    torch.manual_seed(0)
    output = model(input_ids, attention_mask)
    assert output.drop_mask.sum() == 0
    if mode == "adversarial":
        scrambled = copy.deepcopy(model)
        with torch.no_grad():
            for param in scrambled.adversary.parameters():
                param.add_(torch.randn_like(param))
        torch.manual_seed(0)
        assert torch.equal(scrambled(input_ids, attention_mask).loss, output.loss)


def test_dropped_inputs_do_not_reach_the_decoder():
    """A dropped word's embedding is zeroed: changing that word leaves the logits unchanged."""
    model = SequenceVAE(tiny_config(word_dropout="none")).eval()
    input_ids, attention_mask = mixed_length_batch([6])
    z = torch.randn(1, model.config.latent_size)
    drop_mask = torch.zeros(1, 7)
    drop_mask[0, 3] = 1.0
    changed = input_ids.clone()
    changed[0, 3] = 7 if input_ids[0, 3] != 7 else 8
    logits, _ = model.decode(input_ids[:, :-1], z, drop_mask=drop_mask)
    logits_changed, _ = model.decode(changed[:, :-1], z, drop_mask=drop_mask)
    assert torch.allclose(logits, logits_changed)


@pytest.mark.parametrize("decoder_type", ["double_lstm", "lstm"])
def test_loss_terms_and_output_shapes(decoder_type):
    input_ids, attention_mask = mixed_length_batch([3, 6])
    model = SequenceVAE(tiny_config(decoder_type=decoder_type)).train()
    output = model(input_ids, attention_mask)
    assert output.logits.shape == (2, 7, model.config.vocab_size)
    assert output.drop_mask.shape == (2, 7)
    expected = (output.reconstruction_nll + output.kl + output.adversary_regularizer).mean()
    assert torch.allclose(output.loss, expected)
    assert (output.kl >= 0).all() and (output.reconstruction_nll > 0).all()


def test_decoding_step_by_step_equals_teacher_forcing():
    model = SequenceVAE(tiny_config()).eval()
    input_ids, _ = mixed_length_batch([6])
    z = torch.randn(1, model.config.latent_size)
    full, _ = model.decode(input_ids, z)
    state, steps = None, []
    for t in range(input_ids.size(1)):
        output = model(input_ids[:, t : t + 1], z=z, cache=state)
        state = output.cache
        steps.append(output.logits)
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"word_dropout_rate": 1.0}, "word_dropout_rate"),
        ({"word_dropout_rate": -0.1}, "word_dropout_rate"),
        ({"word_dropout": "gaussian"}, "word_dropout"),
        ({"decoder_type": "gru"}, "decoder_type"),
        ({"latent_size": 0}, "latent_size"),
        ({"decoder_hidden_size": -5}, "decoder_hidden_size"),
        ({"adversary_kl_weight": -1.0}, "adversary_kl_weight"),
        ({"vocab_size": 10, "eos_token_id": 12}, "eos_token_id"),
    ],
)
def test_invalid_config_values_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceVAEConfig(**kwargs)


def test_encode_rejects_an_empty_sequence():
    model = SequenceVAE(tiny_config())
    with pytest.raises(ValueError, match="empty sequence"):
        model.encode(torch.tensor([[2, 3], [0, 0]]), torch.tensor([[1, 1], [0, 0]]))
