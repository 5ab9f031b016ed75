"""Shared test set-up: no network, small models, paths to the shipped and shared data."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from hf_awd import SequenceVAEConfig  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PTB_DIR = REPO_ROOT.parent / "shared" / "data" / "ptb"


def tiny_config(**overrides) -> SequenceVAEConfig:
    sizes = dict(vocab_size=50, embedding_size=16, encoder_hidden_size=16, decoder_hidden_size=24, latent_size=4,
                 adversary_hidden_size=8, decoder_dropout=0.0)
    return SequenceVAEConfig(**{**sizes, **overrides})


@pytest.fixture
def ptb_dir():
    if not (PTB_DIR / "train.txt").exists():
        pytest.skip(f"PTB not found at {PTB_DIR} (../shared/data/ptb is present in CI, not in a user's clone)")
    return PTB_DIR
