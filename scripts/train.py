"""Train a sequence VAE with adversarial word dropout (or uniform / no word dropout).

    python scripts/train.py                                   # small AWD model on the embedded WordNet corpus
    python scripts/train.py --train_file train.txt --validation_file valid.txt --test_file test.txt
    python scripts/train.py --dataset_name ptb_text_only      # from the Hub
    python scripts/train.py config.yaml                       # all arguments from one JSON/YAML file
    accelerate launch --config_file configs/accelerate_cpu_ddp.yaml scripts/train.py ...

Writes the final model (Polyak-averaged, best validation -ELBO), its tokenizer and the metrics to --output_dir.
"""

import logging
import os
import sys

import transformers
from transformers import DataCollatorWithPadding, HfArgumentParser, set_seed
from transformers.trainer_utils import get_last_checkpoint

from hf_awd import AWDTrainer, SequenceVAE, SequenceVAEConfig
from hf_awd.data import build_word_tokenizer, load_text_splits, load_tokenizer, tokenize_splits
from hf_awd.training import AWDTrainingArguments, DataArguments, ModelArguments

logger = logging.getLogger("hf_awd.train")

CONFIG_FIELDS = (
    "embedding_size", "encoder_hidden_size", "decoder_hidden_size", "latent_size", "decoder_type", "decoder_dropout",
    "word_dropout", "word_dropout_rate", "adversary_hidden_size", "adversary_kl_weight",
)


def parse_arguments(argv):
    parser = HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(os.path.abspath(argv[0]))
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(argv)


def resolve_checkpoint(training_args):
    """`--resume_from_checkpoint PATH`, or `latest` for the newest checkpoint in --output_dir."""
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint == "latest":
        checkpoint = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
        if checkpoint is None:
            raise SystemExit(f"--resume_from_checkpoint latest: no checkpoint-* folder in {training_args.output_dir}")
    elif checkpoint is not None and not os.path.isdir(checkpoint):
        raise SystemExit(f"--resume_from_checkpoint: checkpoint folder {checkpoint!r} does not exist")
    return checkpoint


def build_model(model_args, tokenizer):
    if model_args.model_name_or_path:
        return SequenceVAE.from_pretrained(model_args.model_name_or_path)
    config = SequenceVAEConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        unk_token_id=tokenizer.unk_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **{name: getattr(model_args, name) for name in CONFIG_FIELDS},
    )
    return SequenceVAE(config)


def main(argv=None):
    model_args, data_args, training_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    set_seed(training_args.seed)
    checkpoint = resolve_checkpoint(training_args)

    splits = load_text_splits(
        data_args.dataset_name, data_args.dataset_config_name, data_args.text_column,
        data_args.train_file, data_args.validation_file, data_args.test_file,
    )
    if data_args.max_train_samples:
        splits["train"] = splits["train"].select(range(min(data_args.max_train_samples, len(splits["train"]))))
    for split in ("validation", "test"):
        if data_args.max_eval_samples and split in splits:
            splits[split] = splits[split].select(range(min(data_args.max_eval_samples, len(splits[split]))))
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
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()
    for split in ("validation", "test"):
        if split in tokenized:
            prefix = "eval" if split == "validation" else "test"
            trainer.save_metrics(prefix, trainer.evaluate(tokenized[split], metric_key_prefix=prefix))
    if trainer.is_world_process_zero():
        print(f"\nModel, tokenizer and metrics saved to {os.path.abspath(training_args.output_dir)}")
        print(f"Load with: AutoModel.from_pretrained({training_args.output_dir!r}) after `import hf_awd`, "
              "or with trust_remote_code=True without it.")


if __name__ == "__main__":
    main()
