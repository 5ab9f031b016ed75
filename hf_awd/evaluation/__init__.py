"""Evaluation: the paper's metrics (-ELBO, KL, MI, active units, importance-weighted NLL and PPL)."""

from .evaluate import evaluate_checkpoint, evaluate_sequence_vae
from .metrics import active_units, gaussian_kl, iw_log_likelihood, log_normal, mutual_information, perplexity

__all__ = [
    "active_units",
    "evaluate_checkpoint",
    "evaluate_sequence_vae",
    "gaussian_kl",
    "iw_log_likelihood",
    "log_normal",
    "mutual_information",
    "perplexity",
]
