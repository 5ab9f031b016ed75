"""The embedded WordNet corpus ships complete, loads with `datasets`, and rebuilds identically."""

import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from hf_awd.data.corpus import EMBEDDED_CORPUS_DIR, embedded_corpus_files

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_wordnet_corpus.py"
WORDNET_DIR = Path("/usr/share/wordnet")
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    # a private cache so the test never reads a stale cached copy of the splits
    cache_dir = tmp_path_factory.mktemp("hf_cache")
    return datasets.load_dataset("text", data_files=embedded_corpus_files(), cache_dir=str(cache_dir))


def test_files_exist():
    files = embedded_corpus_files()
    assert set(files) == set(SPLITS)
    for path in files.values():
        assert Path(path).is_file(), path


def test_loads_three_non_empty_splits(corpus):
    assert set(corpus) == set(SPLITS)
    for split in SPLITS:
        assert corpus[split].num_rows > 0, split


def test_no_empty_sentence(corpus):
    for split in SPLITS:
        assert all(text.strip() for text in corpus[split]["text"]), split


def test_splits_are_disjoint(corpus):
    train = set(corpus["train"]["text"])
    validation = set(corpus["validation"]["text"])
    test = set(corpus["test"]["text"])
    assert not test & train
    assert not validation & train
    assert not validation & test


def test_licence_mentions_princeton():
    assert "Princeton" in (EMBEDDED_CORPUS_DIR / "LICENSE").read_text(encoding="utf-8")


def test_rebuild_is_byte_identical(tmp_path):
    if not WORDNET_DIR.is_dir():
        # .ci/run installs it, so in CI a missing WordNet is a failure, not a reason to skip the check.
        assert not os.environ.get("CI"), "WordNet missing in CI: .ci/run should have installed wordnet-base"
        pytest.skip("WordNet not installed (apt-get install wordnet-base)")
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--output_dir", str(tmp_path)], check=True)
    shipped = sorted(p.name for p in EMBEDDED_CORPUS_DIR.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == shipped
    for name in shipped:
        assert (tmp_path / name).read_bytes() == (EMBEDDED_CORPUS_DIR / name).read_bytes(), name
