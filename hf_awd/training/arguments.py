"""Command-line arguments: the method's training options on top of `TrainingArguments`, model options, data."""

import dataclasses
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from ..model import SequenceVAEConfig
from .schedules import KL_SCHEDULES


@dataclass
class AWDTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the paper's schedule (Section 5) and defaults suited to sequence VAEs."""

    kl_annealing: str = field(default="linear", metadata={"help": f"KL weight schedule, one of {KL_SCHEDULES}."})
    kl_start_weight: float = field(default=0.0, metadata={"help": "KL weight at step 0 (linear annealing)."})
    kl_hold_steps: int = field(default=0, metadata={"help": "Steps at kl_start_weight before annealing starts."})
    kl_annealing_steps: int = field(
        default=1000, metadata={"help": "Steps to anneal the KL weight up to 1 (linear), or steps per cycle (cyclical)."}
    )
    kl_cycles: int = field(default=4, metadata={"help": "Cyclical annealing: number of cycles, then weight 1."})
    kl_cycle_ramp_fraction: float = field(
        default=0.5, metadata={"help": "Cyclical annealing: fraction of each cycle spent rising to 1 (R of Fu et al.)."}
    )
    beta: float = field(
        default=1.0, metadata={"help": "beta-VAE (Higgins et al., 2017): multiplies the scheduled KL weight."}
    )
    autoencoder_pretraining_steps: int = field(
        default=0,
        metadata={"help": "FBP (Li et al., 2019): train this many steps as an autoencoder (KL weight 0), then "
                  "re-initialise the decoder and train the VAE, the KL schedule starting there. 0 = off."},
    )
    free_bits: float = field(
        default=0.2,
        metadata={"help": "KL threshold in nats per latent dimension (free bits); 0 = off, the paper's objective. "
                  "Short runs collapse without it (README, 'Posterior collapse')."},
    )
    polyak_decay: float = field(
        default=0.9995, metadata={"help": "Polyak/EMA decay of the weights that are evaluated and saved; 0 = off."}
    )
    polyak_warmup: bool = field(
        default=True,
        metadata={"help": "Effective decay min(decay, (1 + n) / (10 + n)) after n steps, so that short runs do not "
                  "average in the initialisation; false = the paper's constant decay."},
    )
    adversary_learning_rate: float = field(
        default=1e-3, metadata={"help": "Adam learning rate of the adversary (the VAE uses --optim, --learning_rate). "
                                "0 freezes it at its initialisation: exactly round(R*T) words dropped nearly at "
                                "random, the control that separates AWD's targeting from its fixed drop count."}
    )
    max_train_minutes: float | None = field(
        default=None, metadata={"help": "Stop training after this many minutes (evaluated and saved as if it ended)."}
    )
    early_logging_steps: int = field(
        default=0, metadata={"help": "Also log every 10 steps during the first N steps (collapse happens early)."}
    )
    lr_decay: float = field(default=0.96, metadata={"help": "Exponential learning-rate decay per epoch."})
    early_stopping_patience: int | None = field(
        default=5, metadata={"help": "Stop after this many evaluations without a better validation -ELBO."}
    )
    eval_iw_samples: int = field(
        default=0, metadata={"help": "Importance samples for IW-NLL/PPL in each evaluation (0 = skip; costly)."}
    )
    # Defaults changed from TrainingArguments for this method.
    output_dir: str = field(default="outputs/sequence-vae", metadata={"help": "Where checkpoints are written."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Learning rate of the VAE's optimizer (--optim)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=5.0, metadata={"help": "Gradient clipping norm (the authors' value)."})
    lr_scheduler_type: str = field(
        default="constant", metadata={"help": "Ignored unless lr_decay=1: AWDTrainer decays the LR per epoch."}
    )
    per_device_train_batch_size: int = field(default=64, metadata={"help": "Sentences per device and step."})
    num_train_epochs: float = field(
        default=0.5, metadata={"help": "Epochs; the default is the ~5-minute CPU quickstart on the embedded corpus."}
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={"help": "Batch sentences of similar length: the recurrent decoder also steps over padding."},
    )
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "Sentences per device in evaluation."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: no, steps or epoch."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to checkpoint: no, steps, epoch or best."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept (the best is always kept)."})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Restore the best checkpoint at the end."})
    metric_for_best_model: str | None = field(default="eval_neg_elbo", metadata={"help": "Early-stopping metric."})
    greater_is_better: bool | None = field(default=False, metadata={"help": "Lower -ELBO is better."})
    logging_steps: float = field(default=50, metadata={"help": "Log training statistics every N steps."})
    ddp_find_unused_parameters: bool | None = field(default=False, metadata={"help": "All parameters are used."})

    def __post_init__(self):
        # Without an accelerator, TrainingArguments only joins the torchrun/accelerate process group (CPU DDP over
        # gloo) when use_cpu is set; otherwise every rank silently trains alone.
        if not torch.accelerator.is_available():
            self.use_cpu = True
        super().__post_init__()
        if self.kl_annealing not in KL_SCHEDULES:
            raise ValueError(f"kl_annealing must be one of {KL_SCHEDULES}, got {self.kl_annealing!r}")
        if not 0.0 < self.kl_cycle_ramp_fraction <= 1.0:
            raise ValueError(f"kl_cycle_ramp_fraction must be in (0, 1], got {self.kl_cycle_ramp_fraction!r}")
        for name in ("kl_annealing_steps", "kl_cycles", "kl_hold_steps", "autoencoder_pretraining_steps",
                     "early_logging_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.beta < 0 or self.free_bits < 0:
            raise ValueError(f"beta and free_bits must be >= 0, got beta={self.beta!r}, free_bits={self.free_bits!r}")
        if not 0.0 <= self.polyak_decay < 1.0:
            raise ValueError(f"polyak_decay must be in [0, 1), got {self.polyak_decay!r}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if self.max_train_minutes is not None and self.max_train_minutes <= 0:
            raise ValueError(f"max_train_minutes must be > 0, got {self.max_train_minutes!r}")
        if self.adversary_learning_rate < 0:
            raise ValueError(f"adversary_learning_rate must be >= 0, got {self.adversary_learning_rate!r}")


_CONFIG_FIELDS = {spec.name: spec for spec in dataclasses.fields(SequenceVAEConfig)}
# Options that change no parameter shape: they may be given with --model_name_or_path and then override the
# checkpoint's values (switching to adversarial dropout adds a freshly initialised adversary).
CHECKPOINT_OVERRIDABLE = ("decoder_dropout", "word_dropout", "word_dropout_rate", "adversary_kl_weight")


def config_option(name: str):
    """A command-line option for the `SequenceVAEConfig` field `name`, with the config's help and default: None on
    the command line means "not given", so that the config stays the one source of defaults."""
    spec = _CONFIG_FIELDS[name]
    return field(default=None, metadata={"help": f"{spec.metadata['help']} Default: {spec.default}."})


@dataclass
class ModelArguments:
    """Model to train: the options of `SequenceVAEConfig`, or an existing checkpoint."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from this checkpoint instead of a new model."}
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Existing tokenizer (folder or Hub id); default: build one from train."}
    )
    vocab_size: int = field(default=10000, metadata={"help": "Vocabulary cap of a new word-level tokenizer."})
    min_frequency: int = field(default=2, metadata={"help": "Minimum word count for a new tokenizer."})
    embedding_size: int | None = config_option("embedding_size")
    encoder_hidden_size: int | None = config_option("encoder_hidden_size")
    decoder_hidden_size: int | None = config_option("decoder_hidden_size")
    latent_size: int | None = config_option("latent_size")
    decoder_type: str | None = config_option("decoder_type")
    decoder_dropout: float | None = config_option("decoder_dropout")
    decoder_layers: int | None = config_option("decoder_layers")
    decoder_attention_heads: int | None = config_option("decoder_attention_heads")
    initialization: str | None = config_option("initialization")
    word_dropout: str | None = config_option("word_dropout")
    word_dropout_rate: float | None = config_option("word_dropout_rate")
    adversary_hidden_size: int | None = config_option("adversary_hidden_size")
    adversary_kl_weight: float | None = config_option("adversary_kl_weight")

    def config_overrides(self) -> dict:
        """The config options given on the command line (--vocab_size is the new tokenizer's cap, not an option:
        the model's vocabulary is the tokenizer's)."""
        return {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(self)
                if spec.name in _CONFIG_FIELDS and spec.name != "vocab_size" and getattr(self, spec.name) is not None}

    def __post_init__(self):
        # A wrong model option fails while parsing, naming the option, not after the data has been loaded.
        overrides = self.config_overrides()
        SequenceVAEConfig(**overrides)
        fixed = sorted(set(overrides) - set(CHECKPOINT_OVERRIDABLE))
        if self.model_name_or_path and fixed:
            raise ValueError(f"--model_name_or_path {self.model_name_or_path}: {', '.join(fixed)} cannot change for "
                             f"an existing model (only {', '.join(CHECKPOINT_OVERRIDABLE)} can)")


@dataclass
class DataArguments:
    """Training text: a Hub dataset, local files (one sentence per line) or, by default, the embedded corpus."""

    dataset_name: str | None = field(default=None, metadata={"help": "Hub id, e.g. ptb_text_only."})
    dataset_config_name: str | None = field(default=None)
    text_column: str | None = field(default=None, metadata={"help": "Column holding the text (Hub datasets)."})
    train_file: str | None = field(default=None)
    validation_file: str | None = field(default=None)
    test_file: str | None = field(default=None)
    max_words: int | None = field(default=100, metadata={"help": "Longer sentences keep their first max_words."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training sentences."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation and test sentences."})
