"""Sweep the dropout rate R (and λ) for uniform and adversarial word dropout, as the paper's Figure 2.

    python scripts/sweep.py --rates 0.2 0.3 0.4 0.5 --output_dir outputs/sweep -- \
        --train_file ../shared/data/ptb/train.txt --validation_file ../shared/data/ptb/valid.txt \
        --test_file ../shared/data/ptb/test.txt --num_train_epochs 10
    python scripts/sweep.py --rates 0.3 --modes adversarial --lambdas 0.01 0.1 1 10 --output_dir outputs/lambda -- ...

Arguments after `--` are scripts/train.py's (model sizes, data, training options) and apply to every run; each run
adds --word_dropout, --word_dropout_rate, --adversary_kl_weight (adversarial only) and --output_dir
OUTPUT_DIR/<run name>. Writes OUTPUT_DIR/sweep_results.json (each run's settings and eval_*/test_* metrics, updated
after every run) and OUTPUT_DIR/sweep.png (KL, MI and -ELBO against R; test metrics when every run has them).
"""

import argparse
import logging
import os
import sys

import transformers

from hf_awd.analysis.sweep import PLOT_NAME, RESULTS_NAME, plot_sweep, run_sweep, sweep_grid


def parse_arguments(argv):
    if "--" in argv:
        split = argv.index("--")
        argv, train_argv = argv[:split], argv[split + 1:]
    else:
        train_argv = []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", required=True, help="dropout rates R")
    parser.add_argument("--modes", nargs="+", default=["uniform", "adversarial"], choices=["uniform", "adversarial"])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1.0], help="λ values (adversarial runs)")
    parser.add_argument("--output_dir", required=True, help="one folder per run under it, plus the JSON and PNG")
    return parser.parse_args(argv), train_argv


def main(argv=None):
    args, train_argv = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    records = run_sweep(train_argv, sweep_grid(args.rates, args.modes, args.lambdas), args.output_dir)
    prefix = plot_sweep(records, os.path.join(args.output_dir, PLOT_NAME))
    for record in records:
        print(f"{record['name']:<32} " + "  ".join(
            f"{metric}={record[f'{prefix}_{metric}']:.3f}" for metric in ("kl", "mutual_information", "neg_elbo")))
    print(f"\nwritten to {os.path.join(args.output_dir, RESULTS_NAME)} and {os.path.join(args.output_dir, PLOT_NAME)}")
    return records


if __name__ == "__main__":
    main()
