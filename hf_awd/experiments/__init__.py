"""Experiments: runs described as data (corpus, preset, recipe, method, seed), trained through the one pipeline."""

from .runs import (
    CORPORA,
    METHODS,
    PRESETS,
    RECIPES,
    Run,
    run_arguments,
    train_run,
    train_runs,
)

__all__ = ["CORPORA", "METHODS", "PRESETS", "RECIPES", "Run", "run_arguments", "train_run", "train_runs"]
