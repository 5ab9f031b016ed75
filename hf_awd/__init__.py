"""hf_awd: sequence VAEs trained with Adversarial Word Dropout, as Hugging Face models."""

from .model import SequenceVAE, SequenceVAEConfig, SequenceVAEOutput, load_checkpoint
from .training import AWDTrainer, AWDTrainingArguments

__all__ = [
    "AWDTrainer",
    "AWDTrainingArguments",
    "SequenceVAE",
    "SequenceVAEConfig",
    "SequenceVAEOutput",
    "load_checkpoint",
]
