"""Evaluation: the paper's metrics (-ELBO, KL, MI, active units, importance-weighted NLL and PPL), the quality of
decoded text (reconstruction BLEU and content-word recall, prior-sample diversity), BERTScore along interpolation
paths, and the text metrics as offline `evaluate` modules (`load_metric`)."""

from .bertscore import load_scorer, plot_interpolation_scores, score_interpolation_paths
from .evaluate import evaluate_checkpoint, evaluate_sequence_vae, evaluate_texts
from .metrics import active_units, gaussian_kl, iw_log_likelihood, log_normal, mutual_information, perplexity
from .modules import METRIC_NAMES, load_metric
from .text_quality import (
    content_word_recall,
    content_words,
    corpus_bleu,
    distinct_n,
    is_degenerate,
    prior_sample_quality,
    reconstruction_quality,
    repeated_ngram_rate,
)

__all__ = [
    "METRIC_NAMES",
    "active_units",
    "content_word_recall",
    "content_words",
    "corpus_bleu",
    "distinct_n",
    "evaluate_checkpoint",
    "evaluate_sequence_vae",
    "evaluate_texts",
    "gaussian_kl",
    "is_degenerate",
    "iw_log_likelihood",
    "load_metric",
    "load_scorer",
    "log_normal",
    "mutual_information",
    "perplexity",
    "plot_interpolation_scores",
    "prior_sample_quality",
    "reconstruction_quality",
    "repeated_ngram_rate",
    "score_interpolation_paths",
]
