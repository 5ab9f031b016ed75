"""Sweeps over the dropout rate R (and λ) for uniform and adversarial word dropout (paper Figure 2).

Every run goes through `train_sequence_vae`, the one training/evaluation implementation, with the arguments of
`scripts/train.py`: a base argv plus per-run overrides, parsed by the same `HfArgumentParser`.
"""

import json
import os
from dataclasses import asdict, dataclass
from itertools import product

from transformers import HfArgumentParser

from ..training import AWDTrainingArguments, DataArguments, ModelArguments
from ..training.pipeline import train_sequence_vae
from .plots import sweep_curves

RESULTS_NAME = "sweep_results.json"
PLOT_NAME = "sweep.png"


@dataclass(frozen=True)
class SweepRun:
    """One grid point. `adversary_kl_weight` (λ) is None for uniform dropout, which has no adversary."""

    word_dropout: str
    word_dropout_rate: float
    adversary_kl_weight: float | None = None

    @property
    def name(self) -> str:
        suffix = f"-lambda{self.adversary_kl_weight:g}" if self.adversary_kl_weight is not None else ""
        return f"{self.word_dropout}-R{self.word_dropout_rate:g}{suffix}"

    @property
    def series(self) -> str:
        """Line label in the plot: the mode, and λ for AWD."""
        if self.adversary_kl_weight is None:
            return self.word_dropout
        return f"{self.word_dropout} (λ={self.adversary_kl_weight:g})"

    def argv(self, output_dir: str) -> list[str]:
        overrides = ["--word_dropout", self.word_dropout, "--word_dropout_rate", str(self.word_dropout_rate),
                     "--output_dir", os.path.join(output_dir, self.name)]
        if self.adversary_kl_weight is not None:
            overrides += ["--adversary_kl_weight", str(self.adversary_kl_weight)]
        return overrides


def sweep_grid(rates, modes=("uniform", "adversarial"), lambdas=(1.0,)) -> list[SweepRun]:
    """Every (mode, R) pair, and every λ for adversarial dropout only."""
    runs = []
    for mode, rate in product(modes, rates):
        if mode == "adversarial":
            runs += [SweepRun(mode, rate, weight) for weight in lambdas]
        else:
            runs.append(SweepRun(mode, rate))
    return runs


def parse_run_arguments(argv: list[str]):
    """(model_args, data_args, training_args) exactly as `scripts/train.py` parses a command line."""
    return HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments)).parse_args_into_dataclasses(argv)


def run_sweep(base_argv: list[str], runs: list[SweepRun], output_dir: str) -> list[dict]:
    """Train and evaluate every run under `output_dir/<run name>` (later arguments win, so the run's overrides
    replace any in `base_argv`). After each run, all records so far go to `output_dir/sweep_results.json`: the run's
    settings and its `eval_*`/`test_*` metrics. Returns the records."""
    os.makedirs(output_dir, exist_ok=True)
    records = []
    for run in runs:
        metrics = train_sequence_vae(*parse_run_arguments([*base_argv, *run.argv(output_dir)]))
        records.append({"name": run.name, "series": run.series, **asdict(run), **metrics})
        with open(os.path.join(output_dir, RESULTS_NAME), "w") as file:
            json.dump(records, file, indent=2)
    return records


def plot_sweep(records: list[dict], path: str, prefix: str | None = None):
    """Figure 2: KL, MI and -ELBO against R per series; `prefix` "test" when every run has test metrics, else
    "eval"."""
    if prefix is None:
        prefix = "test" if all("test_kl" in record for record in records) else "eval"
    sweep_curves(records, path, prefix)
    return prefix
