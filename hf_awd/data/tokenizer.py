"""Word-level tokenizer built with `tokenizers` from the training split, wrapped as a `PreTrainedTokenizerFast`.

The text processing lives in the saved tokenizer.json, so raw text encodes to the words the corpus was built from,
with or without hf_awd: NFKC normalisation, typographic quotes as ASCII ones, lowercase, then a PTB-like split
(`WORD_PATTERN`). The embedded corpus is built with the same objects (`split_words`), and the split is idempotent:
already-split text (the corpus, PTB lines) keeps its words.
"""

import re
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from .hub import hub_errors_explained

SPECIAL_TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>"]  # ids 0, 1, 2, 3

CLITICS = "s|re|ve|ll|d|m"  # split off as "'s", "'re", ...; "n't" is handled on its own
# Abbreviations that keep their period at the end of a text too: company suffixes, US states as PTB writes them
# ("... of beatrice co.", "... palo alto calif.") and initials, none of them an English word by itself ("ill.",
# "mass." or "no." would be, and split like "park.").
FINAL_ABBREVIATIONS = "|".join((
    "corp", "co", "cos", "inc", "ltd", "bros", "plc", "ala", "ariz", "ark", "calif", "colo", "conn", "fla", "ga", "ind",
    "kan", "ky", "mich", "minn", "neb", "nev", "okla", "tenn", "tex", "wis", "wyo", "[a-z]",
))
# One match per word, tried left to right. A period followed by a space stays on its word, as PTB keeps abbreviations
# whole ("mr. smith", "corp. said"); at the end of the text it is split off ("the park ."), except after a dotted
# abbreviation or one of FINAL_ABBREVIATIONS. A text is one sentence: "ran. she" reads "ran." as one (unknown) word,
# and so does a final "park. " with trailing whitespace (strip it).
WORD_PATTERN = "|".join((
    r"\w+(?=n't\b)",                       # "ca" of "can't", "do" of "don't"
    r"n't\b",
    rf"'(?:{CLITICS})\b",                   # "'s", "'re", ...
    r"'\d\w*",                              # "'80s"
    r"\w(?:\.\w)+\.(?![\w-])",               # dotted abbreviations keep their last period even at the end: "u.s."
    rf"\b(?:{FINAL_ABBREVIATIONS})\.(?![\w.-])",  # and those that end PTB sentences: "xyz corp."
    r"[^\W\d_]+\$",                          # currency prefixes: "us$", "c$"
    rf"\w+(?:(?:[-&]|\.-?|\\/)\w+|(?<=\d),\d+|'(?!(?:t|{CLITICS})\b)\w+)*(?:\.(?=[\s,;:]))?",  # "well-known", "at&t",
    # "3.14", "1,000", "o'clock", PTB's escaped "1\/2"; with an abbreviation's period
    r"(?:\\[*/])+",                          # PTB's escaped "\*", "\/"
    r"\S",                                   # any other character: punctuation, symbols
))
# Decoding: a space before every word (also the first, as GPT-2's tokens carry theirs, so that a decoded
# continuation appends to its prompt), none before closing punctuation and clitics or after opening brackets, and a
# sentence-final period (or ellipsis) back on its word. Decoded text re-encodes to the same words.
NO_SPACE_BEFORE = rf" (?=[,;:!?%)\]}}]|n't\b|'(?:{CLITICS})\b|\.[\s.)\]}}]*$)"
NO_SPACE_AFTER = r"(?<=[(\[{]) |(?<=[$#]) (?=\d)"


def text_normalizer(lowercase: bool = True) -> normalizers.Normalizer:
    """NFKC ("ﬁ" -> "fi", "…" -> "..."), curly quotes as straight ones ("can’t" -> "can't"), lowercase."""
    steps = [normalizers.NFKC(), normalizers.Replace(Regex("[‘’]"), "'"), normalizers.Replace(Regex("[“”]"), '"')]
    return normalizers.Sequence(steps + ([normalizers.Lowercase()] if lowercase else []))


def word_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Words and punctuation by `WORD_PATTERN`; the whitespace between them is dropped."""
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated"),
        pre_tokenizers.WhitespaceSplit(),
    ])


def word_decoder() -> decoders.Decoder:
    """Detokenise: "ca n't go , he said ." -> " can't go, he said." (see `NO_SPACE_BEFORE`)."""
    return decoders.Sequence([
        decoders.Replace(Regex("^"), " "),
        decoders.Fuse(),
        decoders.Replace(Regex(NO_SPACE_BEFORE), ""),
        decoders.Replace(Regex(NO_SPACE_AFTER), ""),
    ])


_NORMALIZER, _PRE_TOKENIZER = text_normalizer(), word_pre_tokenizer()


def split_words(text: str, tokenizer=None) -> list[str]:
    """The words `tokenizer` (a `PreTrainedTokenizerFast`; default: one of `build_word_tokenizer`) sees in `text`,
    before the vocabulary lookup: what the embedded corpus is made of, and what a reconstruction is compared with."""
    normalizer, pre_tokenizer = _NORMALIZER, _PRE_TOKENIZER
    if tokenizer is not None:
        normalizer, pre_tokenizer = tokenizer.backend_tokenizer.normalizer, tokenizer.backend_tokenizer.pre_tokenizer
    normalized = normalizer.normalize_str(text) if normalizer is not None else text
    return [word for word, _ in pre_tokenizer.pre_tokenize_str(normalized)] if pre_tokenizer else normalized.split()


def build_word_tokenizer(
    texts: Iterable[str], vocab_size: int = 20000, min_frequency: int = 1, lowercase: bool = True
) -> PreTrainedTokenizerFast:
    """Word vocabulary of the `vocab_size` most frequent words seen `min_frequency` times or more.

    Text is normalised and split by `text_normalizer` and `word_pre_tokenizer`, saved in tokenizer.json. Special
    tokens in the text are kept whole (PTB's literal `<unk>` maps to our `<unk>`). Encoding adds `<bos>` only, so that
    `tokenizer("the dog")` is a prompt to continue (the model's sentences, `encode_sentences`, end with `<eos>`);
    decoding detokenises (`word_decoder`).
    """
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.normalizer = text_normalizer(lowercase)
    tokenizer.pre_tokenizer = word_pre_tokenizer()
    tokenizer.decoder = word_decoder()
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    # Special tokens in the text (PTB writes unknown words as a literal "<unk>") must not be counted as words: the
    # trainer would split them into "<", "unk", ">". Encoding splits the text at them and reads the pieces apart
    # (so "mr. <unk>" keeps "mr."), and so does training.
    specials = re.compile("|".join(re.escape(token) for token in SPECIAL_TOKENS))
    tokenizer.train_from_iterator((piece for text in texts for piece in specials.split(text)), trainer=trainer)
    bos = tokenizer.token_to_id("<bos>")
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>", eos_token="<eos>",
        model_input_names=["input_ids", "attention_mask"],
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
    # strip(): a period before trailing whitespace would read as an abbreviation's ("park. " -> "park.")
    words = tokenizer([text.strip() for text in texts], add_special_tokens=False)["input_ids"]
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
