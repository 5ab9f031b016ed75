"""Trainer callbacks for the method's schedules (KL annealing, Polyak averaging) and the adversary's gradient norm."""

import torch
from transformers import TrainerCallback

from .schedules import kl_weight


class KLAnnealingCallback(TrainerCallback):
    """Sets `model.kl_weight` before every step from the schedule in the training arguments."""

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        model.kl_weight = kl_weight(
            state.global_step, args.kl_annealing, args.kl_start_weight, args.kl_annealing_steps, args.kl_hold_steps
        )


class PolyakAveragingCallback(TrainerCallback):
    """Updates the averaged weights after every optimiser step."""

    def __init__(self, average):
        self.average = average

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.average.update(model)


class AdversaryGradientNormCallback(TrainerCallback):
    """Appends the l2 norm of the adversary's gradient to `statistics["adversary_grad_norm"]` before every optimiser
    step (paper Figure 3, right). `statistics` is the trainer's dict of per-step training statistics, so the value is
    averaged into the training log with the others.

    The hook runs after gradient clipping (`max_grad_norm`), so this is the norm of the gradient the optimiser applies;
    it equals the raw norm whenever the whole model's gradient norm is below the clipping threshold.
    """

    def __init__(self, statistics):
        self.statistics = statistics

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        norms = [param.grad.detach().norm() for param in model.adversary.parameters() if param.grad is not None]
        if norms:
            self.statistics["adversary_grad_norm"].append(torch.stack(norms).norm().float())
