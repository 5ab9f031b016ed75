"""Small helpers shared by the command-line scripts: argument types, the data options every script reads text with,
and one-line errors and warnings instead of tracebacks."""

import argparse
import sys

from .data import load_text_splits
from .evaluation.text_quality import is_degenerate
from .model import load_checkpoint

DATA_OPTIONS = ("dataset_name", "dataset_config_name", "text_column", "train_file", "validation_file", "test_file")
METRIC_ROWS = (  # (key, label, format) of the figures scripts print
    ("nll", "NLL (IW)", "{:.2f}"),
    ("ppl", "PPL (IW)", "{:.2f}"),
    ("neg_elbo", "-ELBO", "{:.2f}"),
    ("reconstruction", "reconstruction", "{:.2f}"),
    ("kl", "KL", "{:.2f}"),
    ("mutual_information", "MI", "{:.2f}"),
    ("active_units", "active units", "{}"),
    ("ppl_elbo", "PPL bound (-ELBO)", "{:.2f}"),
    ("reconstruction_bleu", "reconstruction BLEU", "{:.2f}"),
    ("content_word_recall", "content-word recall", "{:.3f}"),
    ("distinct_1", "distinct-1 (prior)", "{:.3f}"),
    ("distinct_2", "distinct-2 (prior)", "{:.3f}"),
    ("repeated_trigram_rate", "repeated 3-grams", "{:.3f}"),
    ("num_sentences", "sentences", "{}"),
    ("num_tokens", "predicted tokens", "{}"),
)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def load_checkpoint_or_exit(name_or_path: str, require_adversary: bool = False):
    """`hf_awd.load_checkpoint`, exiting with a one-line `error: ...` when the checkpoint cannot be used."""
    try:
        return load_checkpoint(name_or_path, require_adversary=require_adversary)
    except (OSError, ValueError, RuntimeError) as error:
        raise SystemExit(f"error: {' '.join(str(error).split())}") from None


def add_data_arguments(parser: argparse.ArgumentParser, split: str = "test") -> argparse._ArgumentGroup:
    """The data options of scripts/train.py, plus --split: which split of that data a script reads."""
    group = parser.add_argument_group("data (as scripts/train.py; default: the embedded WordNet corpus)")
    group.add_argument("--dataset_name", help="Hub dataset id, e.g. ptb_text_only")
    group.add_argument("--dataset_config_name")
    group.add_argument("--text_column", help="column holding the text (Hub datasets)")
    for name in ("train", "validation", "test"):
        group.add_argument(f"--{name}_file", help=f"local {name} file, one sentence per line")
    group.add_argument("--split", default=split, help=f"split to read (default: {split})")
    return group


def load_split(args):
    """The --split of the data named by `add_data_arguments`' options, as a `datasets.Dataset` with "text"."""
    try:
        splits = load_text_splits(*(getattr(args, name) for name in DATA_OPTIONS))
    except (ValueError, RuntimeError) as error:
        raise SystemExit(f"error: {' '.join(str(error).split())}") from None
    if args.split not in splits:
        raise SystemExit(f"error: no {args.split!r} split; the data has {sorted(splits)}")
    return splits[args.split]


def format_metrics(columns: dict[str, dict]) -> str:
    """A plain-text table: one column per named dict of figures, one row per `METRIC_ROWS` key any of them has."""
    lines = [f"{'':<22}" + "".join(f"{name:>14}" for name in columns)]
    for key, label, fmt in METRIC_ROWS:
        if any(key in figures for figures in columns.values()):
            cells = (fmt.format(figures[key]) if key in figures else "-" for figures in columns.values())
            lines.append(f"{label:<22}" + "".join(f"{cell:>14}" for cell in cells))
    return "\n".join(lines)


def warn_if_degenerate(sentences: list[str], what: str = "decoded sentences") -> int:
    """Print one warning line to stderr when some `sentences` are empty or nothing but <unk>; return how many."""
    count = sum(is_degenerate(sentence) for sentence in sentences)
    if count:
        print(f"warning: {count} of {len(sentences)} {what} are empty or nothing but <unk>: the model cannot put "
              "these codes into words (undertrained, or z ignored); see README, 'Posterior collapse'",
              file=sys.stderr)
    return count
