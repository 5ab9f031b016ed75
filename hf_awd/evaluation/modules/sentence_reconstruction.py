"""Reconstruction quality of a sentence autoencoder: corpus BLEU and content-word recall of each prediction against
its input sentence, both on words split by hf_awd's tokenizer rules (NFKC, lowercase, PTB-like words)."""

import datasets
import evaluate

from hf_awd.data.tokenizer import split_words
from hf_awd.evaluation.text_quality import content_word_recall, corpus_bleu

_KWARGS_DESCRIPTION = """
Args:
    predictions: reconstructed sentences (text).
    references: the input sentences (text), one per prediction.
Returns:
    bleu: sacrebleu corpus BLEU (0-100) on the split words.
    content_word_recall: share of the references' content words (no stop words, punctuation or <unk>) found in
        their predictions, each occurrence matched at most once.
"""


class SentenceReconstruction(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        hypotheses = [split_words(text) for text in predictions]
        words = [split_words(text) for text in references]
        return {"bleu": corpus_bleu(hypotheses, words), "content_word_recall": content_word_recall(hypotheses, words)}
