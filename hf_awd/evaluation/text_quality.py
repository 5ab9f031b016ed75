"""Quality of decoded text, on words as the tokenizer splits them: reconstructions (corpus BLEU, content-word recall)
and prior samples (distinct-1/2, repeated 3-grams). The -ELBO, KL and MI of `evaluate.py` say whether z carries
information; these say whether what the decoder writes is a sentence a user would accept.

References are the words of the input as typed (`split_words` with the checkpoint's tokenizer), not the model's
`<unk>`-mapped tokens: an out-of-vocabulary word can never be reconstructed, and a `<unk>` in the output never
matches, as a user sees it.
"""

import re
from collections import Counter

import torch

from ..data.tokenizer import split_words
from ..utils import progress_bar, require

# Function words, auxiliaries and clitics: what is left of a sentence without them is what it is about.
STOP_WORDS = frozenset("""
a an the this that these those some any no every each all both either neither another such
i me my mine myself you your yours yourself he him his himself she her hers herself it its itself we us our ours
they them their theirs themselves one ones who whom whose which what something someone anything anyone
of in on at by for with from to into onto about above below under over between among through during before after
since until against without within across along around behind beyond near off up down out than as per via upon
and or but nor yet so if because although though while whether unless whereas once then
be is am are was were been being have has had having do does did will would shall should can could may might must
not n't 's 're 've 'd 'll 'm ca wo also very too just only even still more most less least there here when where how why
""".split())


def is_degenerate(text: str, unk_token: str = "<unk>") -> bool:
    """A decode a user cannot use: empty, or nothing but `<unk>` and punctuation."""
    return not re.search(r"\w", text.replace(unk_token, " "))


def content_words(words: list[str], unk_token: str = "<unk>") -> list[str]:
    """Words that are neither stop words, nor punctuation (no letter or digit), nor `<unk>`."""
    return [w for w in words if w not in STOP_WORDS and w != unk_token and any(c.isalnum() for c in w)]


def corpus_bleu(hypotheses: list[list[str]], references: list[list[str]]) -> float:
    """sacrebleu's corpus BLEU (0-100, one reference per sentence) on words already split: no further tokenisation."""
    sacrebleu = require("sacrebleu", "eval")
    joined = [" ".join(words) for words in hypotheses]
    return sacrebleu.metrics.BLEU(tokenize="none").corpus_score(joined, [[" ".join(w) for w in references]]).score


def content_word_recall(hypotheses: list[list[str]], references: list[list[str]]) -> float:
    """Share of the references' content words found in their hypotheses (each occurrence matched at most once),
    over the whole corpus: sum_i |C(ref_i) & C(hyp_i)| / sum_i |C(ref_i)|. 0.0 when the references have none."""
    found = total = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        wanted = Counter(content_words(reference))
        found += sum((wanted & Counter(hypothesis)).values())
        total += sum(wanted.values())
    return found / total if total else 0.0


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i: i + n]) for i in range(len(words) - n + 1)]


def distinct_n(samples: list[list[str]], n: int) -> float:
    """Distinct n-grams over all n-grams of all samples (Li et al., 2016); 0.0 when there are none."""
    grams = [gram for words in samples for gram in _ngrams(words, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_rate(samples: list[list[str]], n: int = 3) -> float:
    """Share of n-grams that repeat an earlier n-gram of the same sample ("of the <x> of the <x>" loops), over all
    samples; 0.0 when there are none."""
    repeated = total = 0
    for words in samples:
        grams = _ngrams(words, n)
        repeated += len(grams) - len(set(grams))
        total += len(grams)
    return repeated / total if total else 0.0


def decoded_words(model, tokenizer, sequences: torch.Tensor) -> list[list[str]]:
    """The words of generated ids (B, L), without `<bos>`, `<eos>` and padding; `<unk>` stays."""
    structural = {model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id}
    return [tokenizer.convert_ids_to_tokens([i for i in row.tolist() if i not in structural]) for row in sequences]


@torch.no_grad()
def reconstruction_quality(model, tokenizer, texts: list[str], batch_size: int = 64, num_examples: int = 5,
                           **generate_kwargs) -> dict:
    """Greedy reconstructions from the posterior means of `texts` (the checkpoint's decoding defaults otherwise),
    scored against the texts' words: corpus BLEU and content-word recall, with a few examples."""
    references = [split_words(text, tokenizer) for text in texts]
    hypotheses = []
    for start in progress_bar(range(0, len(texts), batch_size), desc="Reconstructing"):
        batch = texts[start: start + batch_size]
        z = model.encode_texts(batch, tokenizer).mean
        sequences = model.generate(z=z, **{"do_sample": False, "num_beams": 1, **generate_kwargs})
        hypotheses += decoded_words(model, tokenizer, sequences)
    return {
        "reconstruction_bleu": corpus_bleu(hypotheses, references),
        "content_word_recall": content_word_recall(hypotheses, references),
        "num_reconstructions": len(texts),
        "reconstruction_examples": [{"text": text, "reconstruction": tokenizer.convert_tokens_to_string(words).strip()}
                                    for text, words in zip(texts[:num_examples], hypotheses)],
    }


@torch.no_grad()
def prior_sample_quality(model, tokenizer, num_samples: int = 1000, batch_size: int = 100, seed: int = 0,
                         num_examples: int = 5, **generate_kwargs) -> dict:
    """Greedy decodes of `num_samples` codes z ~ N(0, I) (drawn with `seed`): distinct-1/2 over all samples, the
    rate of repeated 3-grams within a sample, the mean length, and a few examples."""
    codes = torch.randn(num_samples, model.config.latent_size, generator=torch.Generator().manual_seed(seed))
    samples = []
    for batch in progress_bar(codes.split(batch_size), desc="Sampling the prior"):
        sequences = model.generate(z=batch, **{"do_sample": False, "num_beams": 1, **generate_kwargs})
        samples += decoded_words(model, tokenizer, sequences)
    return {
        "distinct_1": distinct_n(samples, 1),
        "distinct_2": distinct_n(samples, 2),
        "repeated_trigram_rate": repeated_ngram_rate(samples, 3),
        "mean_sample_length": sum(map(len, samples)) / len(samples),
        "num_prior_samples": num_samples,
        "prior_examples": [tokenizer.convert_tokens_to_string(words).strip() for words in samples[:num_examples]],
    }
