"""Data: the word-level tokenizer, text splits (Hub, local files or the embedded WordNet corpus), Hub fallbacks."""

from .corpus import embedded_corpus_files
from .datasets import KNOWN_TEXT_COLUMNS, load_text_splits, tokenize_splits
from .hub import enable_offline_mode_if_unreachable, hub_errors_explained
from .tokenizer import build_word_tokenizer, encode_sentences, load_tokenizer, pad_batch

__all__ = [
    "KNOWN_TEXT_COLUMNS",
    "build_word_tokenizer",
    "embedded_corpus_files",
    "enable_offline_mode_if_unreachable",
    "encode_sentences",
    "hub_errors_explained",
    "load_text_splits",
    "load_tokenizer",
    "pad_batch",
    "tokenize_splits",
]
