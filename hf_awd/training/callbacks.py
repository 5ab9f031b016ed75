"""Trainer callbacks for the method's schedules (KL annealing, Polyak averaging) and the adversary's gradient norm."""

import torch
from transformers import TrainerCallback

from .schedules import kl_weight


class KLAnnealingCallback(TrainerCallback):
    """Sets `model.kl_weight` before every step: beta times the scheduled weight (training arguments), counted from
    the end of autoencoder pretraining, and 0 during it."""

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        step = state.global_step - args.autoencoder_pretraining_steps
        if step < 0:
            model.kl_weight = 0.0
            return
        model.kl_weight = args.beta * kl_weight(
            step, args.kl_annealing, args.kl_start_weight, args.kl_annealing_steps, args.kl_hold_steps,
            args.kl_cycles, args.kl_cycle_ramp_fraction,
        )


class AutoencoderPretrainingCallback(TrainerCallback):
    """FBP (Li et al., 2019): after `autoencoder_pretraining_steps` steps as an autoencoder, re-initialise the
    decoder, keeping the encoder (and the word embeddings it shares), so that VAE training starts from an encoder
    whose codes carry information and a decoder that has not yet learned to do without them. The decoder's optimiser
    moments and Polyak averages restart with it."""

    def __init__(self, average=None):
        self.average = average

    def on_step_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if state.global_step != args.autoencoder_pretraining_steps:
            return
        for name, param in model.reset_decoder():
            optimizer.state.pop(param, None)
            if self.average is not None:
                self.average.shadow[name] = param.detach().clone()


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
