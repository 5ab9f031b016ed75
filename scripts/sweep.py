"""Sweep the dropout rate R (and λ) for uniform and adversarial word dropout, as the paper's Figure 2.

    python scripts/sweep.py --corpus wordnet --rates 0.2 0.3 0.4 0.5 --output_dir outputs/sweep
    python scripts/sweep.py --rates 0.3 --modes adversarial --lambdas 0.1 1 3 --output_dir outputs/lambda
    python scripts/sweep.py --rates 0.2 0.4 --output_dir outputs/sweep -- --max_steps 1000   # train.py options

Each run is a `hf_awd.experiments.Run` (corpus, preset, recipe, mode, R, λ, seed) trained under
OUTPUT_DIR/<run name>; arguments after `--` are scripts/train.py's and apply to every run. Finished runs are reused.
Writes OUTPUT_DIR/sweep_results.json (each run's settings and eval_*/test_* metrics, updated after every run) and
OUTPUT_DIR/sweep.png (KL, MI and -ELBO against R; test metrics when every run has them).
"""

import argparse
import json
import logging
import os
import sys
from itertools import product

import transformers

from hf_awd.analysis import sweep_curves
from hf_awd.experiments import CORPORA, PRESETS, RECIPES, Run, train_run

RESULTS_NAME, PLOT_NAME = "sweep_results.json", "sweep.png"


def parse_arguments(argv):
    argv, train_argv = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", required=True, help="dropout rates R")
    parser.add_argument("--modes", nargs="+", default=["uniform", "adversarial"], choices=["uniform", "adversarial"])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1.0], help="λ values (adversarial runs)")
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="wordnet")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="authors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", required=True, help="one folder per run under it, plus the JSON and PNG")
    return parser.parse_args(argv), train_argv


def sweep_runs(args) -> list[Run]:
    """Every (mode, R) pair, with every λ for adversarial dropout only."""
    return [Run(args.corpus, args.preset, args.recipe, mode, args.seed, rate, weight)
            for mode, rate in product(args.modes, args.rates)
            for weight in (args.lambdas if mode == "adversarial" else [None])]


def main(argv=None):
    args, train_argv = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    os.makedirs(args.output_dir, exist_ok=True)
    records = []
    for run in sweep_runs(args):
        metrics = train_run(run, args.output_dir, iw_samples=0, argv=train_argv)
        series = run.method if run.adversary_kl_weight is None else f"{run.method} (λ={run.adversary_kl_weight:g})"
        records.append({"name": run.name, "series": series, "word_dropout_rate": run.word_dropout_rate,
                        "adversary_kl_weight": run.adversary_kl_weight, **metrics})
        with open(os.path.join(args.output_dir, RESULTS_NAME), "w") as file:
            json.dump(records, file, indent=2)
    prefix = "test" if all("test_kl" in record for record in records) else "eval"
    sweep_curves(records, os.path.join(args.output_dir, PLOT_NAME), prefix)
    for record in records:
        print(f"{record['name']:<48} " + "  ".join(
            f"{metric}={record[f'{prefix}_{metric}']:.3f}" for metric in ("kl", "mutual_information", "neg_elbo")))
    print(f"\nwritten to {os.path.join(args.output_dir, RESULTS_NAME)} and {os.path.join(args.output_dir, PLOT_NAME)}")
    return records


if __name__ == "__main__":
    main()
