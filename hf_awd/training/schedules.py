"""KL-weight schedules: the weight of KL(q(z|x) || p(z)) in the training loss at each optimisation step."""

KL_SCHEDULES = ("linear", "cyclical", "constant")


def kl_weight(step: int, schedule: str = "linear", start: float = 0.0, steps: int = 10000, hold: int = 0,
              cycles: int = 4, ramp_fraction: float = 0.5) -> float:
    """The schedule's weight in [start, 1] at `step`.

    `linear` (Bowman et al., 2016): `start` for the first `hold` steps, then linearly up to 1 over `steps`, then 1.
    Holding the weight at 0 first trains a plain autoencoder, so the decoder learns to rely on z before the KL
    penalty arrives.
    `cyclical` (Fu et al., 2019): `cycles` cycles of `steps` steps each; in every cycle the weight rises linearly
    from `start` to 1 over the first `ramp_fraction` of the cycle and stays at 1 for the rest; 1 after the last cycle.
    Each restart at `start` lets the encoder put information into z again, which the decoder then learns to use.
    `constant`: always 1.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        if step < hold:
            return start
        return min(1.0, start + (1.0 - start) * (step - hold) / max(steps, 1))
    if schedule == "cyclical":
        if step >= cycles * steps:
            return 1.0
        position = (step % steps) / max(steps * ramp_fraction, 1e-12)
        return min(1.0, start + (1.0 - start) * position)
    raise ValueError(f"kl_annealing must be one of {KL_SCHEDULES}, got {schedule!r}")
