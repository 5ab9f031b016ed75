"""Diversity of generated sentences: distinct-1 and distinct-2 over all of them (Li et al., 2016), and the rate of
3-grams that repeat within one sentence (decoding loops), on words split by hf_awd's tokenizer rules."""

import datasets
import evaluate

from hf_awd.data.tokenizer import split_words
from hf_awd.evaluation.text_quality import distinct_n, repeated_ngram_rate

_KWARGS_DESCRIPTION = """
Args:
    predictions: generated sentences (text), e.g. decodes of prior samples.
Returns:
    distinct_1, distinct_2: distinct unigrams (bigrams) over all unigrams (bigrams) of all predictions.
    repeated_trigram_rate: share of 3-grams that repeat an earlier 3-gram of the same prediction.
"""


class SampleDiversity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions):
        samples = [split_words(text) for text in predictions]
        return {"distinct_1": distinct_n(samples, 1), "distinct_2": distinct_n(samples, 2),
                "repeated_trigram_rate": repeated_ngram_rate(samples, 3)}
