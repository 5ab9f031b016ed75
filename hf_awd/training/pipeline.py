"""One training run end to end: data -> tokenizer -> model -> AWDTrainer -> saved model and metrics.

`scripts/train.py` is this function behind `HfArgumentParser`; benchmarks and sweeps call it with other arguments.
"""

import logging
import os

from transformers import DataCollatorWithPadding, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..data import build_word_tokenizer, load_text_splits, load_tokenizer, tokenize_splits
from ..model import SequenceVAE, SequenceVAEConfig
from ..utils import progress_bars
from .trainer import AWDTrainer

logger = logging.getLogger(__name__)


def resolve_checkpoint(training_args) -> str | None:
    """`--resume_from_checkpoint PATH`, or `latest` for the newest checkpoint in --output_dir."""
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint == "latest":
        checkpoint = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
        if checkpoint is None:
            raise SystemExit(f"--resume_from_checkpoint latest: no checkpoint-* folder in {training_args.output_dir}")
    elif checkpoint is not None and not os.path.isdir(checkpoint):
        raise SystemExit(f"--resume_from_checkpoint: checkpoint folder {checkpoint!r} does not exist")
    return checkpoint


def load_data(data_args):
    """Text splits, with --max_train_samples / --max_eval_samples applied."""
    if (data_args.validation_file or data_args.test_file) and not data_args.train_file:
        raise ValueError("local data needs --train_file (and usually --validation_file)")
    splits = load_text_splits(
        data_args.dataset_name, data_args.dataset_config_name, data_args.text_column,
        data_args.train_file, data_args.validation_file, data_args.test_file,
    )
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_eval_samples}
    for split, limit in limits.items():
        if limit and split in splits:
            splits[split] = splits[split].select(range(min(limit, len(splits[split]))))
    return splits


def build_model(model_args, tokenizer) -> SequenceVAE:
    """A new model with the given options, or the checkpoint's with the options that may change applied."""
    if model_args.model_name_or_path:
        return SequenceVAE.from_pretrained(model_args.model_name_or_path, **model_args.config_overrides())
    config = SequenceVAEConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        unk_token_id=tokenizer.unk_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **model_args.config_overrides(),
    )
    return SequenceVAE(config)


def train_sequence_vae(model_args, data_args, training_args) -> dict:
    """Train, save model + tokenizer + metrics to `training_args.output_dir`, and return the validation and test
    metrics (`eval_*`, `test_*`) of the final (best, averaged) model."""
    set_seed(training_args.seed)
    checkpoint = resolve_checkpoint(training_args)
    splits = load_data(data_args)
    tokenizer_source = checkpoint or model_args.tokenizer_name or model_args.model_name_or_path
    if tokenizer_source:
        tokenizer = load_tokenizer(tokenizer_source)
    else:
        tokenizer = build_word_tokenizer(splits["train"]["text"], model_args.vocab_size, model_args.min_frequency)
    with training_args.main_process_first(desc="tokenising"):
        tokenized = tokenize_splits(splits, tokenizer, data_args.max_words)

    model = build_model(model_args, tokenizer)
    logger.info(
        "process %d of %d; %s decoder, %s word dropout (R=%s), %.2fM parameters, vocabulary %d; "
        "%d training / %d validation sentences",
        training_args.process_index + 1, training_args.world_size, model.config.decoder_type,
        model.config.word_dropout, model.config.word_dropout_rate, model.num_parameters() / 1e6, len(tokenizer),
        len(tokenized["train"]), len(tokenized.get("validation", [])),
    )
    trainer = AWDTrainer(
        model=model,
        args=training_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized.get("validation"),
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
    )
    with progress_bars(enabled=not training_args.disable_tqdm):  # the evaluation bars too
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_state()  # the training log, as the last checkpoint continues it
        metrics = final_metrics(trainer, tokenized)
    trainer.save_metrics("train", train_result.metrics)
    for prefix in ("eval", "test"):
        if any(key.startswith(f"{prefix}_") for key in metrics):
            trainer.save_metrics(prefix, {k: v for k, v in metrics.items() if k.startswith(f"{prefix}_")})
    trainer.save_model()  # after the test figures: with --push_to_hub this pushes, and the model card shows them
    return metrics


def final_metrics(trainer, tokenized) -> dict:
    """Validation (`eval_*`) and test (`test_*`) figures of the weights the model holds after training. Validation
    comes from the training log when an evaluation there used these very weights, rather than a second pass."""
    metrics = {}
    if "validation" in tokenized:
        metrics.update(logged_final_evaluation(trainer) or trainer.evaluate(tokenized["validation"]))
    if "test" in tokenized:
        metrics.update(trainer.evaluate(tokenized["test"], metric_key_prefix="test"))
    return metrics


def logged_final_evaluation(trainer) -> dict | None:
    """The logged validation figures of the final weights: the best checkpoint's when load_best_model_at_end restored
    it, else those of an evaluation at the last step (AWDTrainer evaluates and ends with the averaged weights)."""
    state = trainer.state
    restored_best = trainer.args.load_best_model_at_end and state.best_model_checkpoint
    step = state.best_global_step if restored_best else state.global_step
    logged = [entry for entry in state.log_history if entry.get("step") == step and "eval_neg_elbo" in entry]
    return {key: value for key, value in logged[-1].items() if key.startswith("eval_")} if logged else None
