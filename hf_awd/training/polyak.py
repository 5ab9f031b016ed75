"""Polyak (exponential moving) averaging of the weights (Polyak & Juditsky, 1992); the paper uses decay 0.9995."""

import contextlib

import torch
from torch import nn


class PolyakAverage:
    """Shadow copy of a model's floating-point parameters, updated after every optimiser step.

    With `warmup`, the effective decay is min(decay, (1 + n) / (10 + n)) after n updates (as TensorFlow's
    ExponentialMovingAverage with num_updates): with 0.9995 and no warm-up (the paper) the average remembers the
    random initialisation for thousands of steps (0.9995^2000 = 0.37 of its weight), longer than a short CPU run.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters() if p.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.decay
        if self.warmup:
            decay = min(decay, (1 + self.num_updates) / (10 + self.num_updates))
        for name, param in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(param.detach(), 1.0 - decay)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        for name, param in model.named_parameters():
            if name in self.shadow:
                param.copy_(self.shadow[name])

    @contextlib.contextmanager
    def applied_to(self, model: nn.Module):
        """Temporarily put the averaged weights into `model` (for evaluation and saving)."""
        online = {name: p.detach().clone() for name, p in model.named_parameters() if name in self.shadow}
        self.copy_to(model)
        try:
            yield online
        finally:
            with torch.no_grad():
                for name, param in model.named_parameters():
                    if name in online:
                        param.copy_(online[name])
