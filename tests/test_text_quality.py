"""Quality of decoded text on hand-worked cases: BLEU, content-word recall, distinct-n, repeated 3-grams, degenerate
decodes, and the same metrics as offline `evaluate` modules."""

import pytest

from hf_awd.evaluation import (
    METRIC_NAMES,
    content_word_recall,
    content_words,
    corpus_bleu,
    distinct_n,
    is_degenerate,
    load_metric,
    repeated_ngram_rate,
)


def words(*sentences: str) -> list[list[str]]:
    return [sentence.split() for sentence in sentences]


def test_bleu_of_a_hand_worked_pair():
    # Same length (no brevity penalty); clipped n-gram precisions 5/6, 3/5, 2/4, 1/3: BLEU = (1/12)^(1/4).
    hypothesis, reference = words("the cat sat on the mat"), words("the cat sat on a mat")
    assert corpus_bleu(hypothesis, reference) == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-3)
    assert corpus_bleu(reference, reference) == pytest.approx(100.0)


def test_content_word_recall_counts_each_reference_occurrence_once():
    assert content_words("a small dog ran in the park . <unk>".split()) == ["small", "dog", "ran", "park"]
    # 2 of {small, dog, ran, park} found; then 2 of {dog, dog, cat}: a third "dog" in the hypothesis counts nothing.
    hypotheses = words("a dog sat in the park .", "dog dog dog")
    references = words("a small dog ran in the park .", "the dog , the dog and the cat")
    assert content_word_recall(hypotheses, references) == pytest.approx(4 / 7)
    assert content_word_recall(words("the"), words("of the")) == 0.0  # no content words at all


def test_distinct_n_over_all_samples():
    samples = words("a b a", "a c")
    assert distinct_n(samples, 1) == pytest.approx(3 / 5)  # {a, b, c} of 5 unigrams
    assert distinct_n(samples, 2) == pytest.approx(1.0)  # (a b), (b a), (a c)
    assert distinct_n(words("x x", "x x"), 2) == pytest.approx(1 / 2)
    assert distinct_n(words("x"), 2) == 0.0


def test_repeated_trigram_rate_within_each_sample():
    # "a b c a b c": a-b-c, b-c-a, c-a-b, a-b-c: one of 4 repeats; "d e f" adds one fresh 3-gram; "a b" has none.
    assert repeated_ngram_rate(words("a b c a b c")) == pytest.approx(1 / 4)
    assert repeated_ngram_rate(words("a b c a b c", "a b", "d e f")) == pytest.approx(1 / 5)
    assert repeated_ngram_rate(words("a b c", "a b c")) == 0.0  # repeats across samples are diversity's business


@pytest.mark.parametrize(("text", "degenerate"), [
    ("", True), ("   ", True), ("<unk> <unk>", True), ("<unk>.", True), ("a <unk>", False), ("the dog.", False),
])
def test_degenerate_decodes(text, degenerate):
    assert is_degenerate(text) is degenerate


def test_text_metrics_load_offline_as_evaluate_modules():
    assert METRIC_NAMES == ("interpolation_bertscore", "sample_diversity", "sentence_reconstruction")
    reconstruction = load_metric("sentence_reconstruction").compute(
        predictions=["A dog sat in the park.", "The cat sat on the mat."],
        references=["A small dog ran in the park.", "The cat sat on a mat."])
    hypotheses = words("a dog sat in the park .", "the cat sat on the mat .")
    references = words("a small dog ran in the park .", "the cat sat on a mat .")
    assert reconstruction == pytest.approx({"bleu": corpus_bleu(hypotheses, references),
                                            "content_word_recall": 5 / 7})  # dog, park of 4; cat, sat, mat
    diversity = load_metric("sample_diversity").compute(predictions=["a b c a b c!", "d e"])
    # "a b c a b c !" and "d e": 6 of 9 unigrams distinct, 5 of 7 bigrams, 1 of 5 3-grams repeats ("a b c").
    assert diversity == pytest.approx({"distinct_1": 6 / 9, "distinct_2": 5 / 7, "repeated_trigram_rate": 1 / 5})
    with pytest.raises(ValueError, match="no hf_awd metric 'bleu'"):
        load_metric("bleu")
