"""Training: `AWDTrainer`, its arguments, the schedule callbacks (KL annealing, Polyak averaging) and the
adversary's gradient-norm statistic."""

from .arguments import AWDTrainingArguments, DataArguments, ModelArguments
from .callbacks import AdversaryGradientNormCallback, KLAnnealingCallback, PolyakAveragingCallback
from .polyak import PolyakAverage
from .schedules import kl_weight
from .trainer import AWDTrainer

__all__ = [
    "AWDTrainer",
    "AdversaryGradientNormCallback",
    "AWDTrainingArguments",
    "DataArguments",
    "KLAnnealingCallback",
    "ModelArguments",
    "PolyakAverage",
    "PolyakAveragingCallback",
    "kl_weight",
]
