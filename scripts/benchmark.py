"""Compare methods on equal terms (no dropout, uniform word dropout, AWD, collapse remedies) and measure speed.

Quality: trains and evaluates every run (corpus x preset x recipe x method x rate x lambda x seed, see
`hf_awd.experiments`) and writes JSON and a Markdown table (mean ± std over seeds of IW-NLL, PPL, -ELBO, KL, MI,
AU), with the paper's PTB figures beside ours. Finished runs are reused, so a table can be assembled over several
invocations (or sessions).

    python scripts/benchmark.py --corpus ptb --preset cpu --recipes authors ours --seeds 0 1 --jobs 2
    python scripts/benchmark.py --methods uniform adversarial --rates 0.2 0.3 0.4    # equal-R comparison
    python scripts/benchmark.py --preset paper --jobs 3 --extra --max_train_minutes 9  # one GPU, side by side
    python scripts/benchmark.py --speed                                               # tokens/s, step-time ratios
    python scripts/benchmark.py --speed --speed_sizes cpu paper --speed_batch_sizes 32 128   # e.g. on a GPU
    python scripts/benchmark.py --profile                                             # where an AWD step goes

Presets: `cpu` (the quickstart sizes, 2,000 steps of 32 sentences) fits a run in 5-10 minutes on one CPU core;
`paper` follows Section 5 (decoder 2048, 40 epochs, KL weight 0.1 + 3e-5 per step, Polyak 0.9995, early stopping
on validation -ELBO, 500 importance samples). Recipes: `authors` (SGD lr 1 for the VAE, Adam for the adversary,
U(+-0.01) weights) and `ours` (AdamW on both, Xavier). `--jobs N` trains N runs side by side, each with
`--threads` threads.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

from hf_awd.experiments import (
    CORPORA,
    METHODS,
    PRESETS,
    RECIPES,
    Run,
    speed,
    train_runs,
)

PAPER_PTB = {  # Table 5 of the paper: -ELBO, KL, MI on the PTB test set, at the paper's rates
    "none": (102.6, 1.1, 0.8),
    "uniform R=0.4": (101.4, 5.1, 4.2),
    "adversarial R=0.2": (99.7, 5.1, 4.3),
}
PAPER_METHODS = ("none", "uniform", "adversarial")
COLUMNS = [("test_nll", "IW-NLL"), ("test_ppl", "PPL"), ("test_neg_elbo", "-ELBO"), ("test_kl", "KL"),
           ("test_mutual_information", "MI"), ("test_active_units", "AU")]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="ptb",
                        help="ptb (../shared/data/ptb) or wordnet (the embedded corpus)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["authors"])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(PAPER_METHODS),
                        help="default: the paper's three; see hf_awd.experiments.METHODS for the others")
    parser.add_argument("--rates", nargs="+", type=float,
                        help="dropout rates R for every method with dropout (default: the corpus's paper-best R)")
    parser.add_argument("--lambdas", nargs="+", type=float, help="adversary_kl_weight values for AWD methods")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--output_dir", default="benchmarks/results")
    parser.add_argument("--iw_samples", type=int, default=None,
                        help="importance samples for the test IW-NLL/PPL (default per preset; 0 = skip)")
    parser.add_argument("--table_name", default="results", help="the table goes to OUTPUT_DIR/NAME.md and NAME.json")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side (processes)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per job (default: cores / jobs)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further scripts/train.py arguments, appended to every run (they win)")
    parser.add_argument("--speed", action="store_true",
                        help="measure training throughput (on CUDA when available) instead of quality")
    parser.add_argument("--speed_sizes", nargs="+", choices=sorted(speed.SIZES), default=None,
                        help="model sizes to time (default: cpu on a CPU, cpu and paper on a GPU)")
    parser.add_argument("--speed_batch_sizes", nargs="+", type=int, default=None,
                        help="batch sizes to time (default: 32 on a CPU, 32 and 128 on a GPU)")
    parser.add_argument("--speed_steps", type=int, default=20)
    parser.add_argument("--speed_repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="print torch.profiler's top operators for AWD training steps (sizes: the first "
                             "--speed_sizes entry, else --preset; batch 32), then exit")
    return parser.parse_args(argv)


# ---- quality ----

def benchmark_runs(args) -> list[Run]:
    """Every run of the table: recipes x methods x rates (methods with dropout) x lambdas (AWD) x seeds."""
    runs = []
    for recipe in args.recipes:
        for method in args.methods:
            dropout = METHODS[method]["word_dropout"]
            rates = [None] if dropout == "none" or not args.rates else args.rates
            lambdas = args.lambdas if dropout == "adversarial" and args.lambdas else [None]
            runs += [Run(args.corpus, args.preset, recipe, method, seed, rate, weight)
                     for rate in rates for weight in lambdas for seed in args.seeds]
    return runs


def table_cell(values) -> str:
    """mean ± std over seeds; a single run has no spread to show; "-" where no run measured it (no IW pass)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def group_by_row(runs: list[Run], results: list[dict]) -> dict:
    """Table rows: (recipe, method label) -> the metrics of its seeds, in run order."""
    rows = {}
    for run, metrics in zip(runs, results):
        rows.setdefault((run.recipe, run.label), []).append(metrics)
    return rows


def markdown_table(rows: dict, command: str, corpus: str = "ptb") -> str:
    recipes = {recipe for recipe, _ in rows}
    lines = [f"Command: `{command}`", "",
             "| method | " + " | ".join(label for _, label in COLUMNS) + " | paper -ELBO / KL / MI |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    for (recipe, label), runs in rows.items():
        cells = [table_cell([run[key] for run in runs if key in run]) for key, _ in COLUMNS]
        paper = PAPER_PTB.get(label) if corpus == "ptb" else None
        paper_cell = " / ".join(map(str, paper)) if paper else "-"
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        name = f"{label}, {recipe}" if len(recipes) > 1 else label
        lines.append(f"| {name} ({seeds}) | " + " | ".join(cells) + f" | {paper_cell} |")
    return "\n".join(lines)


def training_logs(output_dir: Path, runs: list[Run]) -> dict:
    """Each run's log history (training statistics every 10 steps early on, evaluations), where it was kept."""
    logs = {}
    for run in runs:
        state = output_dir / run.name / "trainer_state.json"
        if state.exists():
            logs[run.name] = json.loads(state.read_text())["log_history"]
    return logs


def run_quality(args, command: str):
    """Train every run, then write the table (Markdown) and, in one JSON, every run's metrics and training log:
    the whole result as small files, without weights."""
    runs = benchmark_runs(args)
    results = train_runs(runs, args.output_dir, args.jobs, args.threads, args.iw_samples, args.extra)
    table = markdown_table(group_by_row(runs, results), command, args.corpus)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "runs": {run.name: metrics for run, metrics in zip(runs, results)},
              "log_history": training_logs(output, runs)}
    (output / f"{args.table_name}.json").write_text(json.dumps(record, indent=2))
    (output / f"{args.table_name}.md").write_text(table + "\n")
    print(table)


# ---- speed ----

def run_speed(args):
    on_gpu = speed.default_device().type == "cuda"  # paper sizes and batch 128 take long on a CPU
    size_names = args.speed_sizes or (["cpu", "paper"] if on_gpu else ["cpu"])
    batch_sizes = args.speed_batch_sizes or ([32, 128] if on_gpu else [32])
    report = speed.measure_speed({name: speed.SIZES[name] for name in size_names}, batch_sizes,
                                 steps=args.speed_steps, repeats=args.speed_repeats)
    report["command"] = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "speed.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def run_profile(args):
    """Where an AWD training step spends its time, by operator (torch.profiler, self time)."""
    print(speed.profile_training_step(speed.SIZES[(args.speed_sizes or ["cpu"])[0]]))


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    if args.profile:
        run_profile(args)
    elif args.speed:
        run_speed(args)
    else:
        run_quality(args, "python scripts/benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
