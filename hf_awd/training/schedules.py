"""KL-weight schedules: the weight of KL(q(z|x) || p(z)) in the training loss at each optimisation step."""

KL_SCHEDULES = ("linear", "constant")


def kl_weight(step: int, schedule: str = "linear", start: float = 0.0, steps: int = 10000, hold: int = 0) -> float:
    """`linear`: `start` for the first `hold` steps, then linearly up to 1 over `steps` (Bowman et al., 2016), then 1.
    `constant`: always 1.

    Holding the weight at 0 first trains a plain autoencoder, so the decoder learns to rely on z before the KL
    penalty arrives (the autoencoder warm-up of Li et al., 2019, and the first half-cycle of Fu et al., 2019).
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        if step < hold:
            return start
        return min(1.0, start + (1.0 - start) * (step - hold) / max(steps, 1))
    raise ValueError(f"kl_annealing must be one of {KL_SCHEDULES}, got {schedule!r}")
