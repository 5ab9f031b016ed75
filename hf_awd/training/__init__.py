"""Training: `AWDTrainer`, its arguments, the training objective, the two players' optimisers, Polyak averaging."""

from .arguments import AWDTrainingArguments, DataArguments, ModelArguments
from .objective import TrainingObjective, thresholded_kl
from .optimization import TwoPlayerOptimizer
from .polyak import PolyakAverage
from .schedules import kl_weight
from .trainer import AWDTrainer, NonFiniteLossError

__all__ = [
    "AWDTrainer",
    "AWDTrainingArguments",
    "DataArguments",
    "ModelArguments",
    "NonFiniteLossError",
    "PolyakAverage",
    "TrainingObjective",
    "TwoPlayerOptimizer",
    "kl_weight",
    "thresholded_kl",
]
