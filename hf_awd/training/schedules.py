"""KL-weight schedules: the weight of KL(q(z|x) || p(z)) in the training loss at each optimisation step."""

KL_SCHEDULES = ("linear", "constant")


def kl_weight(step: int, schedule: str = "linear", start: float = 0.0, steps: int = 10000) -> float:
    """`linear`: from `start` at step 0 up to 1 at `steps` (Bowman et al., 2016), then 1. `constant`: always 1."""
    if schedule == "constant" or steps <= 0:
        return 1.0
    if schedule == "linear":
        return min(1.0, start + (1.0 - start) * step / steps)
    raise ValueError(f"kl_annealing must be one of {KL_SCHEDULES}, got {schedule!r}")
