"""Evaluate a trained sequence VAE like the paper: IW-NLL, PPL, -ELBO, KL, MI and active units.

    python scripts/evaluate.py outputs/sequence-vae                      # test split of the embedded corpus
    python scripts/evaluate.py CHECKPOINT --test_file ../shared/data/ptb/test.txt --iw_samples 500
    python scripts/evaluate.py CHECKPOINT --dataset_name ptb_text_only --split test

Prints a table and writes the same figures to JSON (default: CHECKPOINT/evaluation_<split>.json).
"""

import argparse
import json
import os
import sys

from hf_awd.data import load_text_splits
from hf_awd.evaluation import evaluate_checkpoint

ROWS = [  # (key, label, format)
    ("nll", "NLL (IW)", "{:.2f}"),
    ("ppl", "PPL (IW)", "{:.2f}"),
    ("neg_elbo", "-ELBO", "{:.2f}"),
    ("reconstruction", "reconstruction", "{:.2f}"),
    ("kl", "KL", "{:.2f}"),
    ("mutual_information", "MI", "{:.2f}"),
    ("active_units", "active units", "{}"),
    ("ppl_elbo", "PPL bound (-ELBO)", "{:.2f}"),
    ("num_sentences", "sentences", "{}"),
    ("num_tokens", "predicted tokens", "{}"),
]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder written by scripts/train.py (or any SequenceVAE checkpoint)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--test_file", help="local file, one sentence per line (evaluated as the chosen split)")
    parser.add_argument("--dataset_name", help="Hub dataset id, e.g. ptb_text_only")
    parser.add_argument("--dataset_config_name")
    parser.add_argument("--text_column")
    parser.add_argument("--iw_samples", type=int, default=500, help="importance samples for NLL/PPL (0 = skip)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_samples", type=int, help="evaluate only the first N sentences")
    parser.add_argument("--max_words", type=int, default=100, help="longer sentences keep their first max_words")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_file", help="JSON path (default: CHECKPOINT/evaluation_<split>.json)")
    return parser.parse_args(argv)


def load_split(args):
    if args.test_file:
        return load_text_splits(train_file=args.test_file)["train"]
    splits = load_text_splits(args.dataset_name, args.dataset_config_name, args.text_column)
    if args.split not in splits:
        raise SystemExit(f"split {args.split!r} not found; available: {list(splits)}")
    return splits[args.split]


def format_table(metrics: dict) -> str:
    lines = [f"{label:<20} {fmt.format(metrics[key])}" for key, label, fmt in ROWS if key in metrics]
    return "\n".join(lines)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    split = load_split(args)
    if args.max_samples:
        split = split.select(range(min(args.max_samples, len(split))))
    try:
        metrics = evaluate_checkpoint(args.checkpoint, split, args.iw_samples, args.batch_size, args.seed,
                                      args.max_words)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None
    metrics.update(checkpoint=os.path.abspath(args.checkpoint), split=args.split, iw_samples=args.iw_samples)
    print(format_table(metrics))
    output_file = args.output_file or os.path.join(args.checkpoint, f"evaluation_{args.split}.json")
    with open(output_file, "w") as file:
        json.dump(metrics, file, indent=2)
    print(f"\nwritten to {output_file}")
    return metrics


if __name__ == "__main__":
    main()
