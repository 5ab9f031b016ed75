"""Word-level tokenizer built with `tokenizers` from the training split, wrapped as a `PreTrainedTokenizerFast`."""

from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from .hub import hub_errors_explained

SPECIAL_TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>"]  # ids 0, 1, 2, 3


def build_word_tokenizer(
    texts: Iterable[str], vocab_size: int = 20000, min_frequency: int = 1, lowercase: bool = True
) -> PreTrainedTokenizerFast:
    """Whitespace-split word vocabulary of the `vocab_size` most frequent words seen `min_frequency` times or more.

    Text is split on whitespace only, so pre-tokenised corpora keep their tokens (PTB's literal `<unk>` maps to our
    `<unk>`). Encoding adds `<bos>` ... `<eos>`; decoding joins words with spaces.
    """
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    # Special tokens in the text (PTB writes unknown words as a literal "<unk>") must not be counted as words: the
    # trainer would give them a second id beyond the vocabulary.
    specials = set(SPECIAL_TOKENS)
    words = (" ".join(word for word in text.split() if word not in specials) for text in texts)
    tokenizer.train_from_iterator(words, trainer=trainer)
    bos, eos = tokenizer.token_to_id("<bos>"), tokenizer.token_to_id("<eos>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", bos), ("<eos>", eos)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>", eos_token="<eos>"
    )
    # Saved as "PreTrainedTokenizerFast" rather than v5's "TokenizersBackend" so that transformers 4.x loads it too.
    wrapped.init_kwargs["tokenizer_class"] = "PreTrainedTokenizerFast"
    return wrapped


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerFast:
    """An existing tokenizer (checkpoint folder or Hub id). It must define bos, eos and pad tokens."""
    with hub_errors_explained(name_or_path, "tokenizer", local_alternative="a local tokenizer folder"):
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    missing = [name for name in ("bos_token", "eos_token", "pad_token") if getattr(tokenizer, name) is None]
    if missing:
        raise ValueError(f"tokenizer {name_or_path!r} has no {', '.join(missing)}; a sequence VAE needs all three")
    return tokenizer


def encode_sentences(tokenizer, texts: list[str], max_words: int | None = None) -> list[list[int]]:
    """`<bos> w_1 ... w_n <eos>` ids per text, keeping the first `max_words` words of longer texts.

    Special tokens are added here rather than by the tokenizer's post-processor so that any tokenizer with bos/eos
    (ours or an existing one) gives the layout the model expects. Empty or whitespace-only text is an error.
    """
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text at index {index} is empty or whitespace-only: {text!r}")
    words = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [[tokenizer.bos_token_id, *ids[:max_words], tokenizer.eos_token_id] for ids in words]


def pad_batch(sequences: list[list[int]], pad_token_id: int) -> dict:
    """Right-pad id lists into `input_ids` and `attention_mask` tensors (B, L)."""
    import torch

    length = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), length), pad_token_id, dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids)
    lengths = torch.tensor([len(ids) for ids in sequences])
    return {"input_ids": input_ids, "attention_mask": (torch.arange(length) < lengths[:, None]).long()}
