"""Plot a run's training log: loss terms, KL weight, drop fraction, the adversary's score statistics and gradient
norm (paper Figure 3) and the eval_* metrics, against the step.

    python scripts/plot_training.py outputs/sequence-vae --output curves.png
    python scripts/plot_training.py outputs/sequence-vae/checkpoint-1000/trainer_state.json --output curves.png

Reads `log_history` from trainer_state.json (written by scripts/train.py); default output:
training_curves.png beside it.
"""

import argparse
import json
import os
import sys

from hf_awd.analysis import training_curves


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="output directory of a run, or its trainer_state.json")
    parser.add_argument("--output", help="PNG path (default: training_curves.png beside trainer_state.json)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    state_file = os.path.join(args.run, "trainer_state.json") if os.path.isdir(args.run) else args.run
    if not os.path.isfile(state_file):
        raise SystemExit(f"error: {state_file!r} not found (give a run's output directory or its trainer_state.json)")
    with open(state_file) as file:
        log_history = json.load(file)["log_history"]
    output = args.output or os.path.join(os.path.dirname(state_file), "training_curves.png")
    training_curves(log_history, output)
    print(f"written to {output}")
    return output


if __name__ == "__main__":
    main()
