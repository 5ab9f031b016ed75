"""What the adversary learned: dropout saliency per token, per part of speech and per word frequency; training
statistics curves; dropout-rate / λ sweeps (paper Table 2, Figures 2, 3 and 4(a))."""

from .plots import group_bar_chart, saliency_html, saliency_png, sweep_curves, training_curves
from .pos import LexiconTagger, SpacyTagger, load_tagger, tag_sentences
from .saliency import (
    SALIENCY_DEFINITION,
    SentenceSaliency,
    aggregate_saliency,
    frequency_labels,
    require_adversary,
    score_saliency,
    sentence_saliency,
)
from .sweep import SweepRun, parse_run_arguments, plot_sweep, run_sweep, sweep_grid

__all__ = [
    "SALIENCY_DEFINITION",
    "LexiconTagger",
    "SentenceSaliency",
    "SpacyTagger",
    "SweepRun",
    "aggregate_saliency",
    "frequency_labels",
    "group_bar_chart",
    "load_tagger",
    "parse_run_arguments",
    "plot_sweep",
    "require_adversary",
    "run_sweep",
    "saliency_html",
    "saliency_png",
    "score_saliency",
    "sentence_saliency",
    "sweep_curves",
    "sweep_grid",
    "tag_sentences",
    "training_curves",
]
