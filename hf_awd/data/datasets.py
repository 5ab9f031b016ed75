"""Text splits from the Hub, local files or the embedded WordNet corpus, tokenised with `datasets.map`."""

from datasets import DatasetDict, load_dataset

from .corpus import embedded_corpus_files
from .hub import hub_errors_explained
from .tokenizer import encode_sentences

# Text column of the benchmark corpora named in the paper, used when --text_column is not given.
KNOWN_TEXT_COLUMNS = {
    "ptb_text_only": "sentence",
    "stanfordnlp/snli": "premise",
    "community-datasets/yahoo_answers_topics": "best_answer",
    "Yelp/yelp_review_full": "text",
}
LOCAL_FILES_HINT = "local files: --train_file, --validation_file, --test_file (one sentence per line)"


def load_text_splits(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    text_column: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    test_file: str | None = None,
) -> DatasetDict:
    """Splits with one column, "text". Local files win over a Hub id (only the splits given are loaded: evaluation
    may read --test_file alone); with neither, the embedded WordNet corpus.

    A Hub dataset without a validation split gets one: 5% of train, split off with a fixed seed.
    Empty and whitespace-only lines are dropped.
    """
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    files = {split: path for split, path in files.items() if path}
    if files:
        splits = load_dataset("text", data_files=files)
    elif dataset_name:
        with hub_errors_explained(dataset_name, "dataset", LOCAL_FILES_HINT):
            splits = load_dataset(dataset_name, dataset_config_name)
        splits = _select_text_column(splits, text_column or KNOWN_TEXT_COLUMNS.get(dataset_name, "text"))
        if "validation" not in splits:
            held_out = splits["train"].train_test_split(test_size=0.05, seed=0)
            splits["train"], splits["validation"] = held_out["train"], held_out["test"]
    else:
        splits = load_dataset("text", data_files=embedded_corpus_files())
    return splits.filter(lambda batch: [bool(text and text.strip()) for text in batch["text"]], batched=True)


def _select_text_column(splits: DatasetDict, text_column: str) -> DatasetDict:
    columns = splits[next(iter(splits))].column_names
    if text_column not in columns:
        raise ValueError(f"text column {text_column!r} not in the dataset's columns {columns}; pass --text_column")
    splits = splits.select_columns([text_column])
    return splits.rename_column(text_column, "text") if text_column != "text" else splits


def tokenize_splits(splits: DatasetDict, tokenizer, max_words: int | None = None) -> DatasetDict:
    """Add `input_ids` (`<bos> ... <eos>`) and `attention_mask`; longer sentences keep their first `max_words`."""

    def tokenize(batch):
        input_ids = encode_sentences(tokenizer, batch["text"], max_words)
        return {"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids]}

    return splits.map(tokenize, batched=True, remove_columns=["text"], desc="Tokenising")
