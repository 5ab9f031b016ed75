"""Experiments as data: corpora, presets (sizes and budget), recipes (optimisers and initialisation) and methods are
dicts of scripts/train.py options; a `Run` picks one of each plus a seed, and `train_run` trains and evaluates it
through the one training pipeline, reusing a run that already finished.

    run = Run(corpus="ptb", preset="cpu", recipe="authors", method="adversarial", seed=0, rate=0.3)
    metrics = train_run(run, "benchmarks/results")   # -> benchmarks/results/<run.name>/benchmark_metrics.json
"""

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import torch
from transformers import HfArgumentParser

from ..data import load_text_splits
from ..evaluation import evaluate_checkpoint
from ..training import AWDTrainingArguments, DataArguments, ModelArguments
from ..training.pipeline import train_sequence_vae

SHARED_PTB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ptb"

# Recipes: how the two players are optimised and initialised.
RECIPES = {
    # The AWD authors' code: SGD lr 1 for the VAE, Adam 1e-3 for the adversary, gradient clipping 5, LR x0.96 per
    # epoch, weights U(+-0.01), embeddings U(+-0.1).
    "authors": {"optim": "sgd", "learning_rate": 1.0, "adversary_learning_rate": 1e-3, "max_grad_norm": 5.0,
                "lr_decay": 0.96, "initialization": "authors"},
    # hf_awd's earlier default: AdamW 1e-3 on both players, embeddings N(0, 1), Xavier LSTMs.
    "ours": {"optim": "adamw_torch", "learning_rate": 1e-3, "adversary_learning_rate": 1e-3, "max_grad_norm": 5.0,
             "lr_decay": 0.96, "initialization": "xavier"},
    # The authors' optimisers with our initialisation: separates the two halves of the recipe.
    "authors-xavier": {"optim": "sgd", "learning_rate": 1.0, "adversary_learning_rate": 1e-3, "max_grad_norm": 5.0,
                       "lr_decay": 0.96, "initialization": "xavier"},
}

# Presets: model sizes, batch, budget and KL schedule. Every preset trains the paper's objective (no free bits), the
# KL weight starting at 0.1 as in the authors' code.
PRESETS = {
    # 2-core CPU: the quickstart's sizes, 2,000 steps of 32 sentences, the KL weight rising from 0.1 to 1 by step 1,500
    # (the authors' 0.1 + 3e-5 per step would still be 0.16 at the end), evaluated every 250 steps, Polyak with
    # warm-up. About 5 (WordNet) to 10 (PTB) minutes per run on one idle core.
    "cpu": {"embedding_size": 128, "encoder_hidden_size": 256, "decoder_hidden_size": 256,
            "per_device_train_batch_size": 32, "max_steps": 2000, "kl_start_weight": 0.1,
            "kl_annealing_steps": 1500, "free_bits": 0.0, "eval_strategy": "steps", "save_strategy": "steps",
            "eval_steps": 250, "save_steps": 250, "early_stopping_patience": 4, "polyak_warmup": True},
    # The same model 5x longer, with the paper's proportions: the KL weight reaches 1 at 60% of the budget (the
    # authors: step 30,000 of ~50,000) and training ends with 4,000 steps at weight 1. About an hour per run.
    "cpu-long": {"embedding_size": 128, "encoder_hidden_size": 256, "decoder_hidden_size": 256,
                 "per_device_train_batch_size": 32, "max_steps": 10000, "kl_start_weight": 0.1,
                 "kl_annealing_steps": 6000, "free_bits": 0.0, "eval_strategy": "steps", "save_strategy": "steps",
                 "eval_steps": 1000, "save_steps": 1000, "early_stopping_patience": 4, "polyak_warmup": True},
    # Section 5 of the paper with the authors' recipe and schedule: KL weight 0.1 + 3e-5 per step, Polyak 0.9995
    # without warm-up, 40 epochs at most, early stopping on validation -ELBO. A recipe given with it wins.
    "paper": {**RECIPES["authors"], "embedding_size": 512, "encoder_hidden_size": 1024, "decoder_hidden_size": 2048,
              "per_device_train_batch_size": 32, "num_train_epochs": 40, "kl_start_weight": 0.1,
              "kl_annealing_steps": 30000, "free_bits": 0.0, "eval_strategy": "epoch", "save_strategy": "epoch",
              "early_stopping_patience": 5, "polyak_warmup": False},
}
IW_SAMPLES = {"cpu": 20, "cpu-long": 20, "paper": 500}  # test IW-NLL; 20 keeps the CPU pass to minutes

# Corpora: where the text comes from, and the paper's best dropout rates for such data (Tables 5 and 6).
CORPORA = {
    "ptb": {"files": SHARED_PTB, "best_rate": {"uniform": 0.4, "adversarial": 0.2}, "decoder_hidden_size": None},
    # Short sentences like SNLI (8 words on average): the paper's SNLI rates and decoder size.
    "wordnet": {"files": None, "best_rate": {"uniform": 0.4, "adversarial": 0.3}, "decoder_hidden_size": 1024},
}

FREE_BITS = {"free_bits": 0.2}
TRANSFORMER = {"decoder_type": "transformer", "decoder_layers": 2, "decoder_attention_heads": 4}
METHODS = {  # word dropout mode (rate: the corpus's best unless the run sets one) and remedies on top of the preset
    "none": {"word_dropout": "none"},
    "uniform": {"word_dropout": "uniform"},
    "adversarial": {"word_dropout": "adversarial"},
    "free-bits": {"word_dropout": "none", **FREE_BITS},
    "adversarial+free-bits": {"word_dropout": "adversarial", **FREE_BITS},
    "cyclical": {"word_dropout": "none", "kl_annealing": "cyclical", "kl_cycles": 4, "kl_annealing_steps": 660},
    "beta-0.5": {"word_dropout": "none", "beta": 0.5},
    "fbp": {"word_dropout": "none", **FREE_BITS, "autoencoder_pretraining_steps": 600},
    "transformer": {**TRANSFORMER, "word_dropout": "none"},
    "transformer+adversarial": {**TRANSFORMER, "word_dropout": "adversarial"},
    "transformer+free-bits": {**TRANSFORMER, "word_dropout": "none", **FREE_BITS},
    "transformer+adversarial+free-bits": {**TRANSFORMER, "word_dropout": "adversarial", **FREE_BITS},
}


@dataclass(frozen=True)
class Run:
    """One training run: a corpus, preset, recipe and method, a seed, and optional overrides of the dropout rate R,
    of lambda (`adversary_kl_weight`) and of any other option (`extra`)."""

    corpus: str = "ptb"
    preset: str = "cpu"
    recipe: str = "authors"
    method: str = "adversarial"
    seed: int = 0
    rate: float | None = None
    adversary_kl_weight: float | None = None
    extra: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        for name, table in (("corpus", CORPORA), ("preset", PRESETS), ("recipe", RECIPES), ("method", METHODS)):
            if getattr(self, name) not in table:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose from {sorted(table)}")

    @property
    def dropout(self) -> str:
        return METHODS[self.method]["word_dropout"]

    @property
    def word_dropout_rate(self) -> float:
        if self.dropout == "none":
            return 0.0
        return self.rate if self.rate is not None else CORPORA[self.corpus]["best_rate"][self.dropout]

    @property
    def label(self) -> str:
        """The method with the settings that distinguish it in a table: R, lambda."""
        label = self.method if self.dropout == "none" else f"{self.method} R={self.word_dropout_rate:g}"
        return label + (f" λ={self.adversary_kl_weight:g}" if self.adversary_kl_weight is not None else "")

    @property
    def name(self) -> str:
        """Folder name: unique per setting, so finished runs can be found and reused."""
        parts = [self.corpus, self.preset, self.recipe, self.method]
        if self.dropout != "none":
            parts.append(f"R{self.word_dropout_rate:g}")
        if self.adversary_kl_weight is not None:
            parts.append(f"lambda{self.adversary_kl_weight:g}")
        parts += [f"{key}{value}" for key, value in sorted(self.extra.items())]
        return "-".join(parts) + f"-seed{self.seed}"

    def options(self) -> dict:
        """scripts/train.py options of this run, later sources winning: preset, recipe, corpus, method, overrides."""
        options = {**PRESETS[self.preset], **RECIPES[self.recipe]}
        corpus = CORPORA[self.corpus]
        if corpus["decoder_hidden_size"] and self.preset == "paper":
            options["decoder_hidden_size"] = corpus["decoder_hidden_size"]
        if corpus["files"] is not None:
            files = Path(corpus["files"])
            options.update(train_file=files / "train.txt", validation_file=files / "valid.txt",
                           test_file=files / "test.txt", vocab_size=20000, min_frequency=1)
        options.update(METHODS[self.method], word_dropout_rate=self.word_dropout_rate, seed=self.seed)
        if self.adversary_kl_weight is not None:
            options["adversary_kl_weight"] = self.adversary_kl_weight
        return {**options, **self.extra}


def as_argv(options: dict) -> list[str]:
    return [item for key, value in options.items() for item in (f"--{key}", str(value))]


def run_arguments(options: dict, argv: list[str] = ()):
    """(model_args, data_args, training_args) from options (a dict), then command-line style `argv`, which wins:
    the same parser, checks and defaults as scripts/train.py."""
    parser = HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments))
    return parser.parse_args_into_dataclasses([*as_argv(options), *argv])


def train_run(run: Run, output_root: str | Path, iw_samples: int | None = None, argv: list[str] = ()) -> dict:
    """Train and evaluate `run` under output_root/run.name and return its metrics (`eval_*`, `test_*`, with the
    test IW-NLL/PPL when `iw_samples` > 0, default per preset). `argv`: further scripts/train.py options, which win.
    A run whose benchmark_metrics.json exists is not retrained; it only gets the IW figures if it lacks them.
    An interrupted run (checkpoints, no metrics) resumes from its newest checkpoint."""
    output_dir = Path(output_root) / run.name
    logging_argv = ["--output_dir", str(output_dir), "--report_to", "none", "--disable_tqdm", "true",
                    "--logging_steps", "100", "--early_logging_steps", "200"]
    started = output_dir / "benchmark_argv.json"  # the options a run started with, so that it resumes under them
    finished = output_dir / "benchmark_metrics.json"
    metrics = json.loads(finished.read_text()) if finished.exists() else None
    recorded = metrics.get("argv", []) if metrics else json.loads(started.read_text()) if started.exists() else None
    if recorded is not None and recorded != list(argv):
        raise ValueError(f"{output_dir} was trained with other options ({recorded} instead of {list(argv)}): "
                         "choose another output folder")
    resume = recorded is not None and metrics is None and any(output_dir.glob("checkpoint-*"))
    resume_argv = ["--resume_from_checkpoint", "latest"] if resume else []
    arguments = run_arguments(run.options(), [*logging_argv, *resume_argv, *argv])
    test_file = arguments[1].test_file
    if metrics is None:
        missing = [path for path in (arguments[1].train_file, test_file) if path and not Path(path).exists()]
        if missing:
            raise FileNotFoundError(f"{run.corpus} data not found: {', '.join(map(str, missing))}")
        output_dir.mkdir(parents=True, exist_ok=True)
        started.write_text(json.dumps(list(argv)))
        start = time.time()
        metrics = train_sequence_vae(*arguments)
        metrics.update(train_minutes=(time.time() - start) / 60, run=run.name, label=run.label, argv=list(argv),
                       resumed=resume)
    iw_samples = IW_SAMPLES[run.preset] if iw_samples is None else iw_samples
    if iw_samples > 0 and "test_nll" not in metrics:
        metrics.update(importance_weighted_test(output_dir, test_file, iw_samples, run.seed))
    finished.write_text(json.dumps(metrics, indent=2))
    return metrics


def train_runs(runs: list[Run], output_root: str | Path, jobs: int = 1, threads: int | None = None,
               iw_samples: int | None = None, argv: list[str] = ()) -> list[dict]:
    """`train_run` for every run, `jobs` of them side by side (processes sharing the machine: CPU cores, or one
    GPU), each with `threads` torch threads (default: cores / jobs). Returns the metrics in run order."""
    if jobs <= 1:
        return [train_run(run, output_root, iw_samples, argv) for run in runs]
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_train_with_threads, threads, run, output_root, iw_samples, argv) for run in runs]
        return [future.result() for future in futures]


def _train_with_threads(threads: int, *arguments) -> dict:
    torch.set_num_threads(threads)
    return train_run(*arguments)


def importance_weighted_test(checkpoint: Path, test_file: Path | None, iw_samples: int, seed: int) -> dict:
    """Test IW-NLL and PPL of a saved run (`test_file`, or the embedded corpus's test split when None)."""
    texts = load_text_splits(train_file=str(test_file))["train"] if test_file else load_text_splits()["test"]
    metrics = evaluate_checkpoint(str(checkpoint), texts, iw_samples=iw_samples, seed=seed)
    return {"test_nll": metrics["nll"], "test_ppl": metrics["ppl"], "iw_samples": iw_samples}
