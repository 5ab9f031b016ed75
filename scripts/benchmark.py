"""Compare methods on equal terms (no dropout, uniform word dropout, AWD, collapse remedies) and measure speed.

Quality: trains and evaluates every run (corpus x preset x recipe x method x rate x lambda x seed, see
`hf_awd.experiments`) and writes JSON and a Markdown table (mean ± std over seeds of IW-NLL, PPL, -ELBO, KL, MI,
AU), with the paper's PTB figures beside ours. Finished runs are reused, so a table can be assembled over several
invocations (or sessions).

    python scripts/benchmark.py --corpus ptb --preset cpu --recipes authors ours --seeds 0 1 --jobs 2
    python scripts/benchmark.py --methods uniform adversarial --rates 0.2 0.3 0.4    # equal-R comparison
    python scripts/benchmark.py --preset paper --jobs 3 --extra --max_train_minutes 9  # one GPU, side by side
    python scripts/benchmark.py --speed                                               # tokens/s, step-time ratios
    python scripts/benchmark.py --profile                                             # where an AWD step goes

Presets: `cpu` (the quickstart sizes, 2,000 steps of 32 sentences) fits a run in 5-10 minutes on one CPU core;
`paper` follows Section 5 (decoder 2048, 40 epochs, KL weight 0.1 + 3e-5 per step, Polyak 0.9995, early stopping
on validation -ELBO, 500 importance samples). Recipes: `authors` (SGD lr 1 for the VAE, Adam for the adversary,
U(+-0.01) weights) and `ours` (AdamW on both, Xavier). `--jobs N` trains N runs side by side, each with
`--threads` threads.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from datasets import Dataset
from transformers import TrainerCallback

from hf_awd import AWDTrainer, SequenceVAE, SequenceVAEConfig
from hf_awd.evaluation.evaluate import iw_log_likelihood_batch
from hf_awd.experiments import CORPORA, METHODS, PRESETS, RECIPES, Run, train_runs
from hf_awd.training import AWDTrainingArguments

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
    parser.add_argument("--speed", action="store_true", help="measure throughput instead of quality")
    parser.add_argument("--speed_steps", type=int, default=20)
    parser.add_argument("--speed_repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="print torch.profiler's top operators for AWD training steps, then exit")
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

def timed_steps(model, optimizer, batches, step) -> float:
    """Median seconds per optimisation step over the batches (after one warm-up step)."""
    step(model, optimizer, batches[0])
    times = []
    for batch in batches[1:]:
        start = time.perf_counter()
        step(model, optimizer, batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trainer_optimizer(model):
    """The optimizer AWDTrainer builds by default, so the bare loop and the Trainer differ only in the Trainer."""
    optimizer_class, kwargs = AWDTrainer.get_optimizer_cls_and_kwargs(AWDTrainingArguments(report_to="none"), model)
    return optimizer_class(model.parameters(), **kwargs)


def bare_step(model, optimizer, batch):
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def speed_batches(vocab_size, count, batch_size=32, length=23, seed=0):
    """Same random batches for every method: PTB-like sentences of 21 words between <bos> and <eos>."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        input_ids = torch.randint(4, vocab_size, (batch_size, length), generator=generator)
        input_ids[:, 0], input_ids[:, -1] = 2, 3
        batches.append({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)})
    return batches


def speed_model(mode, preset, decoder_type="double_lstm"):
    sizes = {key: PRESETS[preset][key] for key in ("embedding_size", "encoder_hidden_size", "decoder_hidden_size")}
    config = SequenceVAEConfig(vocab_size=10000, word_dropout=mode, word_dropout_rate=0.2 if mode != "none" else 0.0,
                               decoder_type=decoder_type, **sizes)
    return SequenceVAE(config).train()


def trainer_step_time(model, batches, repeats_dir) -> float:
    """Median seconds per step inside AWDTrainer (callbacks, Polyak averaging, logging) on the same batches."""
    rows = [{k: v[i].tolist() for k, v in batch.items()} for batch in batches for i in range(len(batch["input_ids"]))]
    step_times = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            step_times.append(time.perf_counter() - self.start)

    args = AWDTrainingArguments(output_dir=repeats_dir, max_steps=len(batches), per_device_train_batch_size=32,
                                eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                                report_to="none", disable_tqdm=True, logging_steps=10, dataloader_drop_last=True)
    trainer = AWDTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), callbacks=[StepTimer()])
    trainer.train()
    return statistics.median(step_times[1:])


def bare_step_time(mode, decoder_type, args, batches) -> float:
    """Median over repeats (each a fresh model and optimizer) of the median bare-loop step time."""
    runs = []
    for _ in range(args.speed_repeats):
        model = speed_model(mode, args.preset, decoder_type)
        runs.append(timed_steps(model, trainer_optimizer(model), batches, bare_step))
    return statistics.median(runs)


def run_speed(args):
    batches = speed_batches(10000, args.speed_steps)
    tokens_per_batch = sum(int(b["attention_mask"][:, 1:].sum()) for b in batches[:1])
    report = {"device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads(),
              "preset": args.preset, "batch": "32 sentences x 22 predicted tokens", "repeats": args.speed_repeats}
    step_time = {}
    for key, mode, decoder_type in (("none", "none", "double_lstm"), ("uniform", "uniform", "double_lstm"),
                                    ("adversarial", "adversarial", "double_lstm"),
                                    ("transformer_none", "none", "transformer"),
                                    ("transformer_adversarial", "adversarial", "transformer")):
        step_time[key] = bare_step_time(mode, decoder_type, args, batches)
        report[f"tokens_per_second_{key}"] = tokens_per_batch / step_time[key]
    report["awd_over_plain_step_time"] = step_time["adversarial"] / step_time["none"]
    trainer_runs = [trainer_step_time(speed_model("adversarial", args.preset), batches, f"{args.output_dir}/speed")
                    for _ in range(args.speed_repeats)]
    report["trainer_over_bare_loop_step_time"] = statistics.median(trainer_runs) / step_time["adversarial"]
    report.update(iw_throughput(speed_model("adversarial", args.preset).eval(), batches[0]))
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "speed.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def run_profile(args):
    """Where an AWD training step spends its time, by operator (torch.profiler, self time)."""
    batches = speed_batches(10000, 4)
    model = speed_model("adversarial", args.preset)
    optimizer = trainer_optimizer(model)
    bare_step(model, optimizer, batches[0])
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for batch in batches[1:]:
            bare_step(model, optimizer, batch)
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def iw_throughput(model, batch, iw_samples=50) -> dict:
    mean, logvar = model.encode(batch["input_ids"], batch["attention_mask"])
    start = time.perf_counter()
    iw_log_likelihood_batch(model, batch["input_ids"], batch["attention_mask"], mean, logvar, iw_samples,
                            torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - start
    return {"iw_nll_sentences_per_second": len(batch["input_ids"]) / seconds, "iw_samples": iw_samples}


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
