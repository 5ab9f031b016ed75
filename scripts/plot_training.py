"""Plot training logs: loss terms, KL weight, drop fraction, what the adversary learned (spread of its means, sigma,
drop agreement; paper Figure 3's score norm and gradient norm) and the eval_* metrics, against the step. Several
runs are drawn over each other, one line per run.

    python scripts/plot_training.py outputs/sequence-vae --output curves.png
    python scripts/plot_training.py outputs/sequence-vae/checkpoint-1000/trainer_state.json --output curves.png
    python scripts/plot_training.py runs/none runs/uniform runs/awd --keys kl eval_mutual_information --output kl.png

Reads `log_history` from each run's trainer_state.json (written by scripts/train.py); default output:
training_curves.png beside the first.
"""

import argparse
import json
import os
import sys

from hf_awd.analysis import training_curves


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="output directories of runs, or their trainer_state.json files")
    parser.add_argument("--keys", nargs="+", help="logged quantities to plot (default: all training statistics and "
                        "eval_* metrics)")
    parser.add_argument("--output", help="PNG path (default: training_curves.png beside the first trainer_state.json)")
    return parser.parse_args(argv)


def read_log_history(run: str) -> list[dict]:
    state_file = os.path.join(run, "trainer_state.json") if os.path.isdir(run) else run
    if not os.path.isfile(state_file):
        raise SystemExit(f"error: {state_file!r} not found (give a run's output directory or its trainer_state.json)")
    with open(state_file) as file:
        return json.load(file)["log_history"]


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    histories = {os.path.basename(os.path.normpath(run)): read_log_history(run) for run in args.runs}
    first = args.runs[0] if os.path.isdir(args.runs[0]) else os.path.dirname(args.runs[0])
    output = args.output or os.path.join(first, "training_curves.png")
    try:
        training_curves(histories, output, args.keys)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"written to {output}")
    return output


if __name__ == "__main__":
    main()
