"""Load a trained sequence VAE and its tokenizer from a folder or the Hub, with errors a user can act on."""

import os

from transformers import AutoTokenizer

from ..data.hub import hub_errors_explained
from .modeling_sequence_vae import SequenceVAE


def load_checkpoint(name_or_path: str, require_adversary: bool = False):
    """Model (eval mode) and tokenizer of a checkpoint written by scripts/train.py (or its Hub id).

    Raises FileNotFoundError for a missing folder, ValueError for a folder that is not a sequence VAE (or has no
    trained adversary when `require_adversary`), RuntimeError when the Hub cannot provide it.
    """
    looks_local = name_or_path.startswith((".", "/", "~")) or os.path.isdir(os.path.expanduser(name_or_path))
    if looks_local and not os.path.isfile(os.path.join(os.path.expanduser(name_or_path), "config.json")):
        raise FileNotFoundError(f"no checkpoint at {name_or_path!r} (expected a folder with config.json)")
    with hub_errors_explained(name_or_path, "checkpoint", "a local checkpoint folder (scripts/train.py)"):
        try:
            model, info = SequenceVAE.from_pretrained(name_or_path, output_loading_info=True)
        except ValueError as error:
            raise ValueError(f"{name_or_path!r} is not a sequence VAE checkpoint: {error}") from None
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if require_adversary:
        missing = [name for name in info["missing_keys"] if name.startswith("adversary.")]
        if model.adversary is None or missing:
            raise ValueError(f"{name_or_path!r} has no trained adversary (word_dropout="
                             f"{model.config.word_dropout!r}); train with --word_dropout adversarial")
    return model.eval(), tokenizer
