"""See what a trained adversary learned: per-token dropout saliency (paper Table 2) and its average per part of speech
(Figure 4(a)) and per word-frequency bucket.

    python scripts/analyze_adversary.py CHECKPOINT --sentences "A dog runs in the park." --output_dir /tmp/awd
    python scripts/analyze_adversary.py CHECKPOINT --test_file ../shared/data/ptb/test.txt --output_dir /tmp/awd
    python scripts/analyze_adversary.py CHECKPOINT --dataset_name ptb_text_only --split test --output_dir /tmp/awd

The data options are those of scripts/train.py (and --split); without them, --sentences are drawn only, and with
neither, the embedded corpus's test split is aggregated.

Saliency (see hf_awd/analysis/saliency.py): the adversary's score means mu over `<bos> words <eos>` (no sampling),
saliency_i = exp(-mu_i) / mean over the sentence's words of exp(-mu_j), so words average 1 per sentence; the
K = round(R * n) words with the smallest mu are the ones dropped at the mean. POS tags come from spaCy's English
pipeline when installed (the [analysis] extra), otherwise from a built-in lexicon+suffix tagger (the output says
which).

Writes to --output_dir: saliency.html and saliency.png (the --sentences, or the first --num_examples sentences of the
split), pos_saliency.png and frequency_saliency.png (over the split), and analysis.json with every figure.
"""

import argparse
import json
import os
import sys

import torch

from hf_awd.analysis import (
    SALIENCY_DEFINITION,
    aggregate_saliency,
    frequency_labels,
    group_bar_chart,
    load_tagger,
    saliency_html,
    saliency_png,
    sentence_saliency,
    tag_sentences,
)
from hf_awd.cli import DATA_OPTIONS, add_data_arguments, load_checkpoint_or_exit, load_split


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder of a model trained with --word_dropout adversarial")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--sentences", nargs="+", help="sentences to draw as saliency maps")
    data = add_data_arguments(parser)
    data.add_argument("--max_sentences", type=int, default=2000, help="aggregate over the first N sentences")
    parser.add_argument("--num_examples", type=int, default=10, help="maps drawn from the split without --sentences")
    parser.add_argument("--rate", type=float, help="dropout rate R for K = round(R*n) (default: the model's)")
    parser.add_argument("--max_words", type=int, default=100, help="longer sentences keep their first max_words")
    parser.add_argument("--batch_size", type=int, default=64)
    return parser.parse_args(argv)


def split_texts(args) -> list[str] | None:
    """Texts of the split to aggregate over (the embedded corpus by default); None when only --sentences were given."""
    if args.sentences and not any(getattr(args, name) for name in DATA_OPTIONS):
        return None
    return load_split(args)["text"][: args.max_sentences]


def format_table(aggregate: dict, title: str) -> str:
    lines = [f"{title:<14} {'tokens':>7} {'saliency':>9} {'mean mu':>8} {'dropped':>8}"]
    for label, group in aggregate["groups"].items():
        lines.append(f"{label:<14} {group['count']:>7} {group['saliency']:>9.3f} {group['score_mean']:>8.3f} "
                     f"{group['drop_fraction']:>8.3f}")
    lines.append(f"{'all words':<14} {'':>7} {aggregate['average']:>9.3f} {'':>8} "
                 f"{aggregate['average_drop_fraction']:>8.3f}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    model, tokenizer = load_checkpoint_or_exit(args.checkpoint, require_adversary=True)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(args.output_dir, exist_ok=True)
    texts = split_texts(args)

    def saliency(sentences):
        return sentence_saliency(model, tokenizer, sentences, args.rate, args.batch_size, args.max_words)

    examples = saliency(args.sentences or texts[: args.num_examples])
    saliency_html(examples, os.path.join(args.output_dir, "saliency.html"))
    saliency_png(examples, os.path.join(args.output_dir, "saliency.png"))
    report = {"checkpoint": os.path.abspath(args.checkpoint), "rate": examples[0].rate,
              "saliency_definition": SALIENCY_DEFINITION, "examples": [s.to_dict() for s in examples]}

    if texts is not None:
        split = saliency(texts)
        tagger = load_tagger()
        print(f"{len(split)} sentences; POS tagger: {tagger.name}\n")
        by_pos = aggregate_saliency(split, tag_sentences(split, tagger, tokenizer.unk_token))
        by_frequency = aggregate_saliency(split, frequency_labels(split, tokenizer))
        group_bar_chart(by_pos, os.path.join(args.output_dir, "pos_saliency.png"),
                        f"Dropout saliency by part of speech; tagger: {tagger.name}")
        group_bar_chart(by_frequency, os.path.join(args.output_dir, "frequency_saliency.png"),
                        "Dropout saliency by word frequency (vocabulary rank)")
        print(format_table(by_pos, "POS") + "\n\n" + format_table(by_frequency, "frequency") + "\n")
        report.update(num_sentences=len(split), tagger=tagger.name, pos=by_pos, frequency=by_frequency)

    with open(os.path.join(args.output_dir, "analysis.json"), "w") as file:
        json.dump(report, file, indent=2)
    print(f"written to {os.path.abspath(args.output_dir)}: saliency.html, saliency.png"
          + (", pos_saliency.png, frequency_saliency.png" if texts is not None else "") + ", analysis.json")
    return report


if __name__ == "__main__":
    main()
