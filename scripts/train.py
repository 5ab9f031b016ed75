"""Train a sequence VAE with adversarial word dropout (or uniform / no word dropout).

    python scripts/train.py                                   # small AWD model on the embedded WordNet corpus
    python scripts/train.py --train_file train.txt --validation_file valid.txt --test_file test.txt
    python scripts/train.py --dataset_name ptb_text_only      # from the Hub
    python scripts/train.py --recipe authors --preset paper --train_file ...   # the AWD authors' recipe, paper sizes
    python scripts/train.py config.yaml                       # all arguments from one JSON/YAML file
    accelerate launch --config_file configs/accelerate_cpu_ddp.yaml scripts/train.py ...

--recipe authors|ours|authors-xavier and --preset cpu|paper stand for the option sets of `hf_awd.experiments`
(RECIPES: optimisers and initialisation; PRESETS: sizes, budget, KL schedule); options given explicitly win.

Writes the final model (Polyak-averaged, best validation -ELBO), its tokenizer and the metrics to --output_dir.
"""

import argparse
import logging
import os
import sys

import torch
import transformers
from transformers import HfArgumentParser

from hf_awd.cli import format_metrics
from hf_awd.experiments import PRESETS, RECIPES
from hf_awd.experiments.runs import as_argv
from hf_awd.sharing import disable_push_if_offline, save_run_arguments, stage_after_offline_training
from hf_awd.training import AWDTrainingArguments, DataArguments, ModelArguments
from hf_awd.training.pipeline import train_sequence_vae


def expand_named_settings(argv):
    """`--recipe NAME` (optimisers and initialisation) and `--preset NAME` (sizes, budget, KL schedule) of
    `hf_awd.experiments` become the options they stand for, placed first so that explicit options win."""
    named = argparse.ArgumentParser(add_help=False)
    named.add_argument("--recipe", choices=sorted(RECIPES))
    named.add_argument("--preset", choices=sorted(PRESETS))
    chosen, rest = named.parse_known_args(argv)
    options = {**(PRESETS[chosen.preset] if chosen.preset else {}), **(RECIPES[chosen.recipe] if chosen.recipe else {})}
    return [*as_argv(options), *rest]


def parse_arguments(argv):
    parser = HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments), description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(os.path.abspath(argv[0]))
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(expand_named_settings(argv))


def figures_by_split(metrics: dict) -> dict[str, dict]:
    """{"validation": {...}, "test": {...}} from the pipeline's `eval_*` / `test_*` figures, for splits it has."""
    columns = {}
    for split, prefix in (("validation", "eval"), ("test", "test")):
        figures = {key.removeprefix(f"{prefix}_"): value for key, value in metrics.items()
                   if key.startswith(f"{prefix}_")}
        if figures:
            columns[split] = figures
    return columns


def main(argv=None):
    try:
        model_args, data_args, training_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    except ValueError as error:  # a wrong option value, named by the check that caught it
        raise SystemExit(f"error: {error}") from None
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    save_run_arguments(training_args.output_dir, model_args, data_args, training_args)  # read by the model card
    stage_for_later_upload = disable_push_if_offline(training_args)  # else the Trainer fails creating the repo
    metrics = train_sequence_vae(model_args, data_args, training_args)
    if training_args.process_index == 0:
        print("\n" + format_metrics(figures_by_split(metrics)))
        print(f"\nModel, tokenizer and metrics saved to {os.path.abspath(training_args.output_dir)}")
        print(f"Load with: AutoModel.from_pretrained({training_args.output_dir!r}) after `import hf_awd`, "
              "or with trust_remote_code=True without it.")
    if stage_for_later_upload:
        stage_after_offline_training(training_args)
    if torch.distributed.is_initialized():
        # Tear the gloo/NCCL group down before exit: left to interpreter shutdown, a rank can abort ("terminate
        # called without an active exception") after the work is saved, and the launcher reports a failure.
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
