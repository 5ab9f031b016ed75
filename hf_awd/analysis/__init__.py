"""What the adversary learned: dropout saliency per token, per part of speech and per word frequency; training
statistics curves; dropout-rate / λ sweep plots (paper Table 2, Figures 2, 3 and 4(a))."""

from .plots import group_bar_chart, saliency_html, saliency_markup, saliency_png, sweep_curves, training_curves
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

__all__ = [
    "SALIENCY_DEFINITION",
    "LexiconTagger",
    "SentenceSaliency",
    "SpacyTagger",
    "aggregate_saliency",
    "frequency_labels",
    "group_bar_chart",
    "load_tagger",
    "require_adversary",
    "saliency_html",
    "saliency_markup",
    "saliency_png",
    "score_saliency",
    "sentence_saliency",
    "sweep_curves",
    "tag_sentences",
    "training_curves",
]
