"""Trainer callbacks for the method's schedules: KL annealing and Polyak averaging."""

from transformers import TrainerCallback

from .schedules import kl_weight


class KLAnnealingCallback(TrainerCallback):
    """Sets `model.kl_weight` before every step from the schedule in the training arguments."""

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        model.kl_weight = kl_weight(
            state.global_step, args.kl_annealing, args.kl_start_weight, args.kl_annealing_steps
        )


class PolyakAveragingCallback(TrainerCallback):
    """Updates the averaged weights after every optimiser step."""

    def __init__(self, average):
        self.average = average

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.average.update(model)
