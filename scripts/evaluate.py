"""Evaluate a trained sequence VAE: the paper's figures (IW-NLL, PPL, -ELBO, KL, MI, active units) and the quality
of what it writes (reconstruction BLEU and content-word recall, distinct-n and repeated 3-grams of prior samples).

    python scripts/evaluate.py outputs/sequence-vae                      # test split of the embedded corpus
    python scripts/evaluate.py CHECKPOINT --test_file ../shared/data/ptb/test.txt --iw_samples 500   # the paper's k
    python scripts/evaluate.py CHECKPOINT --dataset_name ptb_text_only --split validation
    python scripts/evaluate.py you/awd-wordnet                           # a Hub id

Prints a table and writes the same figures, with example reconstructions and samples, to JSON (default:
CHECKPOINT/evaluation_<split>.json; OUTPUT_FILE for a Hub id).
"""

import argparse
import json
import os
import sys

import torch
from transformers import set_seed

from hf_awd.cli import add_data_arguments, format_metrics, load_checkpoint_or_exit, load_split, positive_int
from hf_awd.evaluation import evaluate_texts, prior_sample_quality, reconstruction_quality
from hf_awd.utils import require

# The IW-NLL costs k decoder passes per sentence: k = 500 (He et al., 2019; the paper) takes hours for the embedded
# test split on 2 CPU cores, k = 10 minutes. A smaller k gives a looser (higher) bound.
DEFAULT_IW_SAMPLES = 10


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="checkpoint folder (scripts/train.py --output_dir) or Hub id")
    add_data_arguments(parser)
    parser.add_argument("--iw_samples", type=non_negative_int, default=DEFAULT_IW_SAMPLES,
                        help=f"importance samples per sentence for NLL/PPL (default {DEFAULT_IW_SAMPLES}; the paper "
                             "uses 500, hours on CPU; 0 = skip)")
    parser.add_argument("--num_reconstructions", type=non_negative_int, default=1000,
                        help="sentences of the split reconstructed greedily for BLEU and recall (0 = skip)")
    parser.add_argument("--num_prior_samples", type=non_negative_int, default=1000,
                        help="codes z ~ N(0, I) decoded greedily for distinct-n and repeats (0 = skip)")
    parser.add_argument("--batch_size", type=positive_int, default=64)
    parser.add_argument("--max_samples", type=positive_int, help="evaluate only the first N sentences")
    parser.add_argument("--max_words", type=positive_int, default=100,
                        help="longer sentences keep their first max_words")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_file", help="JSON path (default: CHECKPOINT/evaluation_<split>.json)")
    return parser.parse_args(argv)


def default_output_file(args) -> str:
    if not os.path.isdir(args.checkpoint):
        raise SystemExit(f"error: {args.checkpoint!r} is a Hub id: pass --output_file to say where its figures go")
    return os.path.join(args.checkpoint, f"evaluation_{args.split}.json")


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    if args.num_reconstructions:
        try:  # before minutes of evaluation, not after
            require("sacrebleu", "eval")
        except ImportError as error:
            raise SystemExit(f"error: {error}; or pass --num_reconstructions 0") from None
    model, tokenizer = load_checkpoint_or_exit(args.checkpoint)
    output_file = args.output_file or default_output_file(args)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    texts = load_split(args)
    if args.max_samples:
        texts = texts.select(range(min(args.max_samples, len(texts))))
    set_seed(args.seed)
    metrics = evaluate_texts(model, tokenizer, texts, args.iw_samples, args.batch_size, args.seed, args.max_words)
    if args.num_reconstructions:
        sentences = texts["text"][: args.num_reconstructions]
        metrics.update(reconstruction_quality(model, tokenizer, sentences, args.batch_size))
    if args.num_prior_samples:
        metrics.update(prior_sample_quality(model, tokenizer, args.num_prior_samples, seed=args.seed))
    metrics.update(checkpoint=args.checkpoint, split=args.split, iw_samples=args.iw_samples)

    print(format_metrics({args.split: metrics}))
    for example in metrics.get("reconstruction_examples", []):
        print(f"\nx: {example['text']}\n   -> {example['reconstruction']}")
    for sample in metrics.get("prior_examples", []):
        print(f"z ~ N(0, I): {sample}")
    with open(output_file, "w") as file:
        json.dump(metrics, file, indent=2)
    print(f"\nwritten to {output_file}")
    return metrics


if __name__ == "__main__":
    main()
