"""Training: `AWDTrainer`, its arguments, and the schedule callbacks (KL annealing, Polyak averaging)."""

from .arguments import AWDTrainingArguments, DataArguments, ModelArguments
from .callbacks import KLAnnealingCallback, PolyakAveragingCallback
from .polyak import PolyakAverage
from .schedules import kl_weight
from .trainer import AWDTrainer

__all__ = [
    "AWDTrainer",
    "AWDTrainingArguments",
    "DataArguments",
    "KLAnnealingCallback",
    "ModelArguments",
    "PolyakAverage",
    "PolyakAveragingCallback",
    "kl_weight",
]
