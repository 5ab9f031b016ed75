"""Shared test set-up: no network, small models, paths to the shipped and shared data."""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from hf_awd import SequenceVAE, SequenceVAEConfig  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PTB_DIR = REPO_ROOT.parent / "shared" / "data" / "ptb"


def tiny_config(**overrides) -> SequenceVAEConfig:
    sizes = dict(vocab_size=50, embedding_size=16, encoder_hidden_size=16, decoder_hidden_size=24, latent_size=4,
                 adversary_hidden_size=8, decoder_dropout=0.0)
    return SequenceVAEConfig(**{**sizes, **overrides})


def tiny_model(tokenizer, word_dropout="adversarial", rate=0.4, seed=0) -> SequenceVAE:
    """A tiny untrained model (eval mode) over `tokenizer`'s words, with the given word dropout."""
    torch.manual_seed(seed)
    config = tiny_config(vocab_size=len(tokenizer), word_dropout=word_dropout, word_dropout_rate=rate,
                         pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return SequenceVAE(config).eval()


@pytest.fixture
def ptb_dir():
    if not (PTB_DIR / "train.txt").exists():
        pytest.skip(f"PTB not found at {PTB_DIR} (../shared/data/ptb is present in CI, not in a user's clone)")
    return PTB_DIR


def run_without_hf_awd(script: str, tmp_path) -> subprocess.CompletedProcess:
    """Run `script` in a fresh Python where hf_awd is not importable, as for a user who only has transformers.

    -I (isolated mode) drops the working directory and user site; the checkout and the editable-install finder are
    filtered out of sys.path and sys.meta_path. The script must print its result as the last line of stdout.
    """
    path = [p for p in sys.path if p and Path(p).resolve() != REPO_ROOT and "__editable__" not in p]
    code = (f"import sys; sys.path[:] = {path!r}; "
            "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
            "import importlib.util\n"
            "assert importlib.util.find_spec('hf_awd') is None, 'hf_awd must not be importable here'\n" + script)
    return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                               "HF_MODULES_CACHE": str(tmp_path / "modules")})
