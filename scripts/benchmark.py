"""Reproduce the paper's comparison (no dropout vs uniform word dropout vs AWD) and measure training speed.

Quality: trains and evaluates every method on the same data and model size, for several seeds, then writes JSON and
a Markdown table (mean ± std of IW-NLL, PPL, -ELBO, KL, MI, AU) with the paper's PTB figures beside ours.

    python scripts/benchmark.py --preset cpu --seeds 0 1                   # PTB from ../shared/data/ptb
    python scripts/benchmark.py --preset paper --data_dir /path/to/ptb     # paper sizes and schedule, for a GPU
    python scripts/benchmark.py --speed                                     # tokens/s and step-time ratios
    python scripts/benchmark.py --speed --speed_sizes cpu paper --speed_batch_sizes 32 128   # e.g. on a GPU
    python scripts/benchmark.py --profile                                   # where an AWD step spends its time

Presets: `cpu` fits each method in about 15 minutes on 2 CPU cores; `paper` follows Section 5 (decoder 2048,
Polyak 0.9995, LR decay 0.96, KL annealing, early stopping on validation ELBO, 500 importance samples).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from transformers import HfArgumentParser

from hf_awd.data import load_text_splits
from hf_awd.evaluation import evaluate_checkpoint
from hf_awd.experiments import speed
from hf_awd.training import AWDTrainingArguments, DataArguments, ModelArguments
from hf_awd.training.pipeline import train_sequence_vae

REPO_ROOT = Path(__file__).resolve().parents[1]
PAPER_PTB = {  # Table 5 of the paper: -ELBO, KL, MI on the PTB test set
    "none": {"neg_elbo": 102.6, "kl": 1.1, "mutual_information": 0.8},
    "uniform": {"neg_elbo": 101.4, "kl": 5.1, "mutual_information": 4.2},
    "adversarial": {"neg_elbo": 99.7, "kl": 5.1, "mutual_information": 4.3},
}
NO_DROPOUT = ["--word_dropout", "none", "--word_dropout_rate", "0"]
AWD = ["--word_dropout", "adversarial", "--word_dropout_rate", "0.2", "--adversary_kl_weight", "1"]
FREE_BITS = ["--free_bits", "0.2"]
TRANSFORMER = ["--decoder_type", "transformer", "--decoder_layers", "2", "--decoder_attention_heads", "4"]
METHODS = {  # method -> scripts/train.py arguments on top of the preset (R as in the paper's Table 5 for PTB)
    # The paper's comparison (Table 5).
    "none": NO_DROPOUT,
    "uniform": ["--word_dropout", "uniform", "--word_dropout_rate", "0.4"],
    "adversarial": AWD,
    # Other posterior-collapse remedies, alone and with AWD.
    "free-bits": [*NO_DROPOUT, *FREE_BITS],
    "adversarial+free-bits": [*AWD, *FREE_BITS],
    "cyclical": [*NO_DROPOUT, "--kl_annealing", "cyclical", "--kl_cycles", "4", "--kl_annealing_steps", "330"],
    "beta-0.5": [*NO_DROPOUT, "--beta", "0.5"],
    "fbp": [*NO_DROPOUT, *FREE_BITS, "--autoencoder_pretraining_steps", "300"],
    # The Transformer decoder, with and without AWD.
    "transformer": [*TRANSFORMER, *NO_DROPOUT],
    "transformer+adversarial": [*TRANSFORMER, *AWD],
    # ...and with free bits, where z stays in use, so AWD's effect is measured on a model that has not collapsed.
    "transformer+free-bits": [*TRANSFORMER, *NO_DROPOUT, *FREE_BITS],
    "transformer+adversarial+free-bits": [*TRANSFORMER, *AWD, *FREE_BITS],
}
PAPER_METHODS = ("none", "uniform", "adversarial")
# Every preset trains the paper's objective: no free bits, KL weight annealed linearly from 0.1 (the authors' start).
PRESETS = {
    "cpu": ["--embedding_size", "256", "--encoder_hidden_size", "256", "--decoder_hidden_size", "512",
            "--num_train_epochs", "2", "--per_device_train_batch_size", "64", "--kl_annealing_steps", "800",
            "--kl_start_weight", "0.1", "--free_bits", "0"],
    "paper": ["--embedding_size", "512", "--encoder_hidden_size", "1024", "--decoder_hidden_size", "2048",
              "--num_train_epochs", "40", "--per_device_train_batch_size", "32", "--kl_annealing_steps", "10000",
              "--kl_start_weight", "0.1", "--free_bits", "0", "--early_stopping_patience", "5"],
}
IW_SAMPLES = {"cpu": 20, "paper": 500}  # cpu: 20 keeps the test-set IW pass to minutes
COLUMNS = [("test_nll", "IW-NLL"), ("test_ppl", "PPL"), ("test_neg_elbo", "-ELBO"), ("test_kl", "KL"),
           ("test_mutual_information", "MI"), ("test_active_units", "AU")]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--data_dir", default=str(REPO_ROOT.parent / "shared" / "data" / "ptb"),
                        help="folder with train.txt, valid.txt, test.txt (default: ../shared/data/ptb)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(PAPER_METHODS),
                        help="default: the paper's three; see METHODS for the remedies and the Transformer decoder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--output_dir", default="benchmarks/results")
    parser.add_argument("--iw_samples", type=int, default=None,
                        help=f"importance samples for the test IW-NLL/PPL (default per preset {IW_SAMPLES}; 0 = skip)")
    parser.add_argument("--table_name", default="results", help="the table goes to OUTPUT_DIR/NAME.md and NAME.json")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further scripts/train.py arguments, appended to every run")
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

def run_method(args, method, seed) -> dict:
    """Train and evaluate one method; a run whose benchmark_metrics.json exists is reused (and gets the IW figures
    if it lacks them), so a benchmark can be split over several processes (or resumed) and rerun to assemble the
    table."""
    output_dir = Path(args.output_dir) / f"{method}-seed{seed}"
    finished = output_dir / "benchmark_metrics.json"
    iw_samples = IW_SAMPLES[args.preset] if args.iw_samples is None else args.iw_samples
    data = Path(args.data_dir)
    if finished.exists():
        metrics = json.loads(finished.read_text())
        if iw_samples > 0 and "test_nll" not in metrics:
            metrics.update(importance_weighted_test(output_dir, data / "test.txt", iw_samples, seed))
            finished.write_text(json.dumps(metrics, indent=2))
        return metrics
    if not (data / "train.txt").exists():
        raise SystemExit(f"no train.txt in {data}: pass --data_dir with train.txt, valid.txt and test.txt")
    argv = [*PRESETS[args.preset], *METHODS[method], "--seed", str(seed), "--output_dir", str(output_dir),
            "--train_file", str(data / "train.txt"), "--validation_file", str(data / "valid.txt"),
            "--test_file", str(data / "test.txt"), "--min_frequency", "1", "--vocab_size", "20000", "--report_to", "none",
            "--disable_tqdm", "true", "--logging_steps", "200", *args.extra]
    parsed = HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments)).parse_args_into_dataclasses(argv)
    start = time.time()
    metrics = train_sequence_vae(*parsed)
    metrics["train_minutes"] = (time.time() - start) / 60
    if iw_samples > 0:
        metrics.update(importance_weighted_test(output_dir, data / "test.txt", iw_samples, seed))
    finished.write_text(json.dumps(metrics, indent=2))
    return metrics


def importance_weighted_test(checkpoint: Path, test_file: Path, iw_samples: int, seed: int) -> dict:
    texts = load_text_splits(train_file=str(test_file))["train"]
    metrics = evaluate_checkpoint(str(checkpoint), texts, iw_samples=iw_samples, seed=seed)
    return {"test_nll": metrics["nll"], "test_ppl": metrics["ppl"], "iw_samples": iw_samples}


def table_cell(values) -> str:
    """mean ± std over seeds; a single run has no spread to show; "-" where no run measured it (no IW pass)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def markdown_table(results: dict, command: str) -> str:
    lines = [f"Command: `{command}`", "",
             "| method | " + " | ".join(label for _, label in COLUMNS) + " | paper -ELBO / KL / MI |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    for method, runs in results.items():
        cells = [table_cell([run[key] for run in runs if key in run]) for key, _ in COLUMNS]
        paper = PAPER_PTB.get(method)
        paper_cell = f"{paper['neg_elbo']} / {paper['kl']} / {paper['mutual_information']}" if paper else "-"
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        lines.append(f"| {method} ({seeds}) | " + " | ".join(cells) + f" | {paper_cell} |")
    return "\n".join(lines)


def run_quality(args):
    results = {method: [run_method(args, method, seed) for seed in args.seeds] for method in args.methods}
    command = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    table = markdown_table(results, command)
    output = Path(args.output_dir)
    (output / f"{args.table_name}.json").write_text(
        json.dumps({"command": command, "preset": args.preset, "runs": results}, indent=2))
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
    print(speed.profile_training_step(speed.SIZES[(args.speed_sizes or [args.preset])[0]]))


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    if args.profile:
        run_profile(args)
    elif args.speed:
        run_speed(args)
    else:
        run_quality(args)


if __name__ == "__main__":
    main()
