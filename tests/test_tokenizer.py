"""The tokenizer carries the text processing: raw text encodes to the words of the corpus, already-split text keeps
its words, and decoding puts the spaces back where text has them."""

import gzip

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from hf_awd.data import build_word_tokenizer
from hf_awd.data.corpus import embedded_corpus_files
from hf_awd.data.tokenizer import split_words, word_decoder

NATURAL_TEXT = [
    ("A small dog ran in the park.", ["a", "small", "dog", "ran", "in", "the", "park", "."]),
    ("I can't believe it's 5pm!", ["i", "ca", "n't", "believe", "it", "'s", "5pm", "!"]),
    ("I can’t believe it’s 5pm!", ["i", "ca", "n't", "believe", "it", "'s", "5pm", "!"]),
    ("Mr. Smith paid $5.50 for 1,000 U.S. stamps, didn't he?",
     ["mr.", "smith", "paid", "$", "5.50", "for", "1,000", "u.s.", "stamps", ",", "did", "n't", "he", "?"]),
    ("“Café” isn’t naïve… (e.g. in the '80s)",
     ['"', "café", '"', "is", "n't", "naïve", ".", ".", ".", "(", "e.g.", "in", "the", "'80s", ")"]),
    ("ﬁne-tuned models: 3.14% of AT&T's", ["fine-tuned", "models", ":", "3.14", "%", "of", "at&t", "'s"]),
    ("She works for Acme Corp. in Palo Alto, Calif.", ["she", "works", "for", "acme", "corp.", "in", "palo", "alto", ",",
                                                       "calif."]),
    ("She felt ill.", ["she", "felt", "ill", "."]),
    ("We'll see; they're sure I'd won't.",
     ["we", "'ll", "see", ";", "they", "'re", "sure", "i", "'d", "wo", "n't", "."]),
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A tokenizer over the words of NATURAL_TEXT, saved and loaded back as a user gets it."""
    words = [" ".join(expected) for _, expected in NATURAL_TEXT] + ["the dog he said"]
    folder = tmp_path_factory.mktemp("tokenizer")
    build_word_tokenizer(words, vocab_size=100, min_frequency=1).save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder), folder


@pytest.mark.parametrize(("text", "expected"), NATURAL_TEXT)
def test_natural_text_encodes_to_corpus_words(tokenizer, text, expected):
    tokenizer, folder = tokenizer
    assert split_words(text) == expected
    assert tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"]) == ["<bos>", *expected]
    # The processing is in tokenizer.json itself: plain `tokenizers` applies it too.
    assert Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).tokens == ["<bos>", *expected]


def test_special_tokens_stay_whole_and_encoding_adds_bos_only(tokenizer):
    tokenizer, _ = tokenizer
    assert tokenizer.tokenize("the <unk> dog , he said") == ["the", "<unk>", "dog", ",", "he", "said"]
    assert tokenizer("the dog")["input_ids"][-1] != tokenizer.eos_token_id  # a prompt: the model continues it


@pytest.mark.parametrize(("words", "text"), [
    ("the dog , he said .", "the dog, he said."),
    ("i ca n't believe it 's true !", "i can't believe it's true!"),
    ("( e.g. a garage ) costs $ 5 ; really ?", "(e.g. a garage) costs $5; really?"),
    ("decisions . . . appealable", "decisions . . . appealable"),  # a period inside the text stays apart
    ("he waited . . .", "he waited..."),
])
def test_decoding_detokenises(tokenizer, words, text):
    tokenizer, _ = tokenizer
    assert word_decoder().decode(words.split()) == " " + text  # a space before the first word, as GPT-2's
    assert split_words(text) == words.split()


def test_corpus_is_already_split_and_survives_decoding():
    """Every sentence of the embedded test split is a fixed point of the split, and decode -> encode keeps it."""
    decoder = word_decoder()
    with gzip.open(embedded_corpus_files()["test"], "rt", encoding="utf-8") as file:
        sentences = file.read().splitlines()
    assert len(sentences) > 8000
    for sentence in sentences:
        words = sentence.split()
        assert split_words(sentence) == words, sentence
        assert split_words(decoder.decode(words)) == words, sentence


def test_ptb_lines_keep_their_words(ptb_dir):
    """Every PTB line encodes to its own words (lowercased: its number token N reads n), abbreviations included,
    also at the end of a line ("... beatrice co.")."""
    for name in ("train", "valid", "test"):
        for line in (ptb_dir / f"{name}.txt").read_text().splitlines():
            got = [word for piece in line.split("<unk>") for word in split_words(piece)]
            assert got == [word.lower() for word in line.split() if word != "<unk>"], line
