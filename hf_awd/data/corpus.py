"""The embedded default training corpus: WordNet 3.0 glosses and examples.

Built by scripts/build_wordnet_corpus.py (see hf_awd/data/wordnet/README.md).
One lowercased, space-tokenised sentence per line, gzip-compressed; the
`datasets` "text" builder decompresses .gz files on its own:

    datasets.load_dataset("text", data_files=embedded_corpus_files())
"""

from pathlib import Path

EMBEDDED_CORPUS_DIR = Path(__file__).resolve().parent / "wordnet"


def embedded_corpus_files() -> dict[str, str]:
    """Split name -> path of its .txt.gz file, for load_dataset("text", data_files=...)."""
    return {split: str(EMBEDDED_CORPUS_DIR / f"{split}.txt.gz") for split in ("train", "validation", "test")}
