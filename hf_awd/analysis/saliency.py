"""Dropout saliency: which tokens a trained adversary would drop (paper Table 2 and Figure 4(a)).

Definition. The adversary's LSTM is run over `<bos> w_1 ... w_n <eos>` and its score *means* mu_i are used (no
sampling). Because the LSTM is unidirectional, mu for `<bos> w_1 ... w_n` is exactly what it computes for the
decoder inputs in training; `<eos>` is never a decoder input, so its score is only reported (as the paper's Figure
4(a) does), never dropped. Small scores are dropped, so the *saliency* (relative drop propensity) of token i is

    saliency_i = exp(-mu_i) / mean_{j in words} exp(-mu_j) = n * softmax_{words}(-mu)_i,

normalised over the sentence's n words only: the words of every sentence average exactly 1 (1 = an average word of
that sentence, 2 = twice as likely to be picked), whatever the sentence length, and `<bos>`/`<eos>` are placed on the
same per-sentence scale without changing the words' values. The K = round(R * n) words with the smallest mu (the
ones that would be dropped at the mean) are marked with `smallest_k_mask`, as in training.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass

import torch

from ..data import encode_sentences, pad_batch
from ..model.adversary import num_words_to_drop, smallest_k_mask
from ..utils import progress_bar

SALIENCY_DEFINITION = (
    "saliency_i = exp(-mu_i) / mean over the sentence's words of exp(-mu_j) (mu = adversary score mean, no "
    "sampling; words average 1 per sentence; <bos>/<eos> on the same scale); dropped = the K = round(R*n) words "
    "with the smallest mu"
)
# Vocabulary-rank buckets; ranks count words only (special tokens excluded), 1 = the most frequent word.
FREQUENCY_BUCKETS = ((1, 10), (11, 100), (101, 1000), (1001, 10000))


@dataclass
class SentenceSaliency:
    """One sentence's tokens (`<bos>`, words, `<eos>`), their ids, score means mu, saliencies, and which words the
    adversary drops at the mean (False for `<bos>`/`<eos>`); `k` words are dropped at rate `rate`."""

    tokens: list[str]
    token_ids: list[int]
    score_mean: list[float]
    saliency: list[float]
    dropped: list[bool]
    k: int
    rate: float

    def to_dict(self) -> dict:
        return asdict(self)


def require_adversary(model):
    """The model's adversary; a ValueError naming the cause when the checkpoint was trained without one."""
    if getattr(model, "adversary", None) is None:
        raise ValueError(
            f"this checkpoint has no adversary (it was trained with word_dropout={model.config.word_dropout!r}); "
            "dropout saliency needs a model trained with --word_dropout adversarial"
        )
    return model.adversary


@torch.no_grad()
def score_saliency(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, rate: float):
    """mu, saliency and the drop-at-the-mean mask for `<bos> ... <eos>` batches (B, L); see the module docstring.

    Returns three (B, L) tensors: score means, saliencies (0 on padding), dropped (bool, words only).
    """
    adversary = require_adversary(model)
    words = attention_mask.bool().clone()
    words[:, 0] = False  # <bos>
    words[torch.arange(len(words), device=words.device), attention_mask.sum(dim=1) - 1] = False  # <eos>
    mu = adversary(input_ids, words, rate).score_mean  # its sampled scores and mask are not used
    num_words = words.sum(dim=1)
    log_mean = torch.logsumexp((-mu).masked_fill(~words, float("-inf")), dim=1) - num_words.log()
    saliency = (-mu - log_mean.unsqueeze(1)).exp() * attention_mask
    dropped = smallest_k_mask(mu, num_words_to_drop(num_words, rate), words).bool()
    return mu, saliency, dropped


def sentence_saliency(model, tokenizer, texts: list[str], rate: float | None = None, batch_size: int = 64,
                      max_words: int | None = None) -> list[SentenceSaliency]:
    """Saliency of each text under the model's adversary at dropout rate `rate` (default: the model's R)."""
    rate = model.config.word_dropout_rate if rate is None else rate
    results = []
    for start in progress_bar(range(0, len(texts), batch_size), desc="Scoring words", leave=False):
        ids = encode_sentences(tokenizer, texts[start:start + batch_size], max_words)
        batch = {key: value.to(model.device) for key, value in pad_batch(ids, tokenizer.pad_token_id).items()}
        mu, saliency, dropped = score_saliency(model, batch["input_ids"], batch["attention_mask"], rate)
        for row, token_ids in enumerate(ids):
            length = len(token_ids)
            results.append(SentenceSaliency(
                tokens=tokenizer.convert_ids_to_tokens(token_ids),
                token_ids=token_ids,
                score_mean=mu[row, :length].tolist(),
                saliency=saliency[row, :length].tolist(),
                dropped=dropped[row, :length].tolist(),
                k=int(dropped[row].sum()),
                rate=rate,
            ))
    return results


def aggregate_saliency(sentences: list[SentenceSaliency], labels: list[list[str]]) -> dict:
    """Per label (a POS tag, a frequency bucket...): token count, mean saliency, mean mu and the fraction of its
    tokens dropped at the mean, sorted by decreasing saliency. `labels[s][i]` labels token i of sentence s. Also
    returns, over all words (not `<bos>`/`<eos>`), `average` saliency (1 by the definition above; the paper's dotted
    line) and `average_drop_fraction` (~R)."""
    groups = defaultdict(list)  # label -> [(saliency, mu, dropped), ...]
    words = []
    for sentence, sentence_labels in zip(sentences, labels, strict=True):
        if len(sentence_labels) != len(sentence.tokens):
            raise ValueError(f"{len(sentence_labels)} labels for {len(sentence.tokens)} tokens: {sentence.tokens}")
        rows = list(zip(sentence.saliency, sentence.score_mean, sentence.dropped))
        words += rows[1:-1]
        for label, row in zip(sentence_labels, rows):
            groups[label].append(row)
    table = {label: _summarize(rows) for label, rows in groups.items()}
    overall = _summarize(words)
    return {
        "groups": dict(sorted(table.items(), key=lambda item: -item[1]["saliency"])),
        "average": overall["saliency"],
        "average_drop_fraction": overall["drop_fraction"],
    }


def _summarize(rows: list[tuple]) -> dict:
    """Count and column means of (saliency, mu, dropped) rows."""
    saliency, score_mean, dropped = torch.tensor(rows, dtype=torch.float64).mean(dim=0).tolist()
    return {"count": len(rows), "saliency": saliency, "score_mean": score_mean, "drop_fraction": dropped}


def frequency_labels(sentences: list[SentenceSaliency], tokenizer) -> list[list[str]]:
    """Frequency-bucket label per token of each sentence, from the word's vocabulary rank (1 = the most frequent):
    `build_word_tokenizer` numbers words by decreasing training-split frequency, so the rank is the word's position
    among the non-special ids. Special tokens (`<bos>`, `<eos>`, `<unk>`) are labelled as themselves."""
    specials = set(tokenizer.all_special_ids)
    rank = {token_id: position + 1
            for position, token_id in enumerate(sorted(set(tokenizer.get_vocab().values()) - specials))}
    return [[token if token_id in specials else _bucket(rank[token_id])
             for token, token_id in zip(sentence.tokens, sentence.token_ids, strict=True)]
            for sentence in sentences]


def _bucket(rank: int) -> str:
    return next((f"rank {lo}-{hi}" for lo, hi in FREQUENCY_BUCKETS if lo <= rank <= hi),
                f"rank > {FREQUENCY_BUCKETS[-1][1]}")
