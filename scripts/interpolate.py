"""Latent-space interpolations between sentence pairs, scored with BERTScore (the AWD paper's Table 3, Figure 4(b)).

    python scripts/interpolate.py outputs/sequence-vae                       # 100 test pairs of the embedded corpus
    python scripts/interpolate.py outputs/ptb-awd --test_file ../shared/data/ptb/test.txt --num_pairs 200 \
        --num_steps 5 --output_dir outputs/ptb-interpolations

For each of --num_pairs random (source, target) pairs of --split, decodes (greedy) --num_steps points evenly spaced
strictly between the posterior means of source and target, then scores every interpolated sentence with BERTScore
F1 against its source and its target. On a smooth path, F1 to the source falls and F1 to the target rises.
Prints three example paths and the per-step table, which counts the decodes that are empty or nothing but `<unk>`
(scored 0; a warning says how many); writes interpolation_scores.json (table, scorer, all paths) and
interpolation_scores.png to --output_dir. Needs the [eval] extra.
"""

import argparse
import json
import os
import random
import sys


from hf_awd.cli import add_data_arguments, load_checkpoint_or_exit, load_split, positive_int, warn_if_degenerate
from hf_awd.evaluation import load_scorer, plot_interpolation_scores, score_interpolation_paths
from hf_awd.utils import progress_bar


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="checkpoint folder (scripts/train.py --output_dir) or Hub id")
    parser.add_argument("--num_pairs", type=positive_int, default=100)
    parser.add_argument("--num_steps", type=positive_int, default=3, help="interpolated sentences per pair")
    parser.add_argument("--bertscore_model", default="minilm",
                        help="minilm (packaged, offline), a Hub id such as roberta-large, or a local model folder")
    parser.add_argument("--bertscore_layers", type=positive_int, help="layer to score with (needed for a folder)")
    parser.add_argument("--output_dir", default="outputs/interpolations")
    parser.add_argument("--seed", type=int, default=0, help="which pairs are drawn (decoding is greedy)")
    parser.add_argument("--batch_size", type=positive_int, default=64, help="pairs decoded at once")
    add_data_arguments(parser)
    return parser.parse_args(argv)


def sample_pairs(args) -> tuple[list[str], list[str]]:
    """--num_pairs (source, target) pairs of distinct sentences of --split, drawn with --seed."""
    texts = load_split(args)["text"]
    if len(texts) < 2 * args.num_pairs:
        raise SystemExit(f"error: {args.num_pairs} pairs need {2 * args.num_pairs} sentences; "
                         f"the {args.split} split has {len(texts)}")
    chosen = [texts[i].strip() for i in random.Random(args.seed).sample(range(len(texts)), 2 * args.num_pairs)]
    return chosen[: args.num_pairs], chosen[args.num_pairs:]


def interpolate_all(model, tokenizer, sources, targets, num_steps: int, batch_size: int) -> list[list[str]]:
    """One greedy path of `num_steps` sentences per pair, decoded `batch_size` pairs at a time."""
    paths = []
    for start in progress_bar(range(0, len(sources), batch_size), desc="Interpolating"):
        end = start + batch_size
        paths += model.interpolate(sources[start:end], targets[start:end], tokenizer, num_steps=num_steps)
    return paths


def format_path(source: str, path: list[str], target: str) -> str:
    steps = [f"  {j}. {sentence}" for j, sentence in enumerate(path, start=1)]
    return "\n".join([f"  source: {source}", *steps, f"  target: {target}"])


def format_table(table: dict) -> str:
    lines = [f"{table['scorer']}, mean ± std over {table['num_pairs']} pairs",
             f"{'step':<8}{'F1 to source':>18}{'F1 to target':>18}  empty or <unk> only"]
    for row in table["steps"]:
        flag = f"  {row['degenerate']} of {table['num_pairs']} (scored 0)" if row["degenerate"] else ""
        lines.append(f"Sent {row['step']:<3}{row['f1_source']:>10.4f} ± {row['f1_source_std']:.3f}"
                     f"{row['f1_target']:>10.4f} ± {row['f1_target_std']:.3f}{flag}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    model, tokenizer = load_checkpoint_or_exit(args.checkpoint)
    sources, targets = sample_pairs(args)
    try:  # before decoding, so that a scorer that cannot load fails at once
        scorer = load_scorer(args.bertscore_model, args.bertscore_layers)
    except (ImportError, ValueError, RuntimeError) as error:
        raise SystemExit(f"error: {error}") from None
    paths = interpolate_all(model, tokenizer, sources, targets, args.num_steps, args.batch_size)
    table = score_interpolation_paths(paths, sources, targets, scorer)

    for number, (source, path, target) in enumerate(zip(sources[:3], paths, targets), start=1):
        print(f"Example {number}\n{format_path(source, path, target)}\n")
    print(format_table(table))
    warn_if_degenerate([sentence for path in paths for sentence in path], "interpolated sentences")

    os.makedirs(args.output_dir, exist_ok=True)
    json_path = os.path.join(args.output_dir, "interpolation_scores.json")
    png_path = os.path.join(args.output_dir, "interpolation_scores.png")
    record = {
        "checkpoint": args.checkpoint, "split": args.split, "seed": args.seed, "num_steps": args.num_steps,
        "endpoints": "excluded: each path holds the num_steps points strictly between the two posterior means",
        "scorer": table["scorer"], "table": table,
        "paths": [{"source": s, "interpolations": p, "target": t} for s, p, t in zip(sources, paths, targets)],
    }
    with open(json_path, "w") as file:
        json.dump(record, file, indent=2)
    plot_interpolation_scores(table, png_path)
    print(f"\nWrote {os.path.abspath(json_path)} and {os.path.abspath(png_path)}")


if __name__ == "__main__":
    main()
