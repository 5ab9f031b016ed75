"""The training objective: what `AWDTrainer` minimises at each step, built from the terms the model returns.

The model's own `loss` is the paper's plain objective, -ELBO + lambda * regulariser (KL weight 1, no free bits).
Training adds, per step: the KL weight beta(step) (annealing schedule times `beta`, 0 while FBP pretrains an
autoencoder) and free bits. The adversary's regulariser enters unchanged; its minimax sign comes from the gradient
reversal inside the model.
"""

from dataclasses import dataclass

import torch

from .schedules import kl_weight


def thresholded_kl(kl_per_dimension: torch.Tensor, free_bits: float) -> torch.Tensor:
    """KL term of the training loss: sum_d max(free_bits, batch mean of KL_d), KL thresholding per dimension
    (free bits, Kingma et al., 2016, as in FBP, Li et al., 2019). A dimension whose batch-mean KL is below the
    threshold gets no KL gradient, so the optimiser cannot switch it off to escape the penalty. With free_bits = 0
    it is the batch-mean KL. kl_per_dimension (B, D) -> scalar."""
    return kl_per_dimension.mean(dim=0).clamp(min=free_bits).sum()


@dataclass(frozen=True)
class TrainingObjective:
    """beta(step) * schedule, free bits and the FBP hold: the options of `AWDTrainingArguments` with those names."""

    kl_annealing: str = "linear"
    kl_start_weight: float = 0.0
    kl_annealing_steps: int = 1000
    kl_hold_steps: int = 0
    kl_cycles: int = 4
    kl_cycle_ramp_fraction: float = 0.5
    beta: float = 1.0
    free_bits: float = 0.0
    autoencoder_pretraining_steps: int = 0

    @classmethod
    def from_args(cls, args) -> "TrainingObjective":
        return cls(**{name: getattr(args, name) for name in cls.__dataclass_fields__})

    def kl_weight(self, step: int) -> float:
        """beta times the scheduled weight, counted from the end of FBP's autoencoder pretraining (0 during it)."""
        step -= self.autoencoder_pretraining_steps
        if step < 0:
            return 0.0
        return self.beta * kl_weight(step, self.kl_annealing, self.kl_start_weight, self.kl_annealing_steps,
                                     self.kl_hold_steps, self.kl_cycles, self.kl_cycle_ramp_fraction)

    def __call__(self, outputs, step: int) -> tuple[torch.Tensor, float]:
        """(loss, KL weight used) for a batch's `SequenceVAEOutput` at optimisation step `step`:
        mean reconstruction NLL + kl_weight(step) * thresholded KL + mean adversary regulariser."""
        weight = self.kl_weight(step)
        kl_term = thresholded_kl(outputs.kl_per_dimension, self.free_bits)
        loss = outputs.reconstruction_nll.mean() + weight * kl_term + outputs.adversary_regularizer.mean()
        return loss, weight
