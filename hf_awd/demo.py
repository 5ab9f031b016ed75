"""What the interactive page (`app.py`) shows, computed from a checkpoint: prior samples, reconstructions with
posterior samples, interpolations scored with BERTScore, and the adversary's saliency map.

Gradio is not imported here: the page only wires these methods to its widgets. Each method returns what its widget
shows, and bad input (empty or too long text, a count out of range, no checkpoint) is a `ValueError` with a one-line
message that the page shows instead of a traceback. Generation, BERTScore and saliency are the library's own
(`SequenceVAE.decode_latents`/`explore`/`interpolate`, `hf_awd.evaluation`, `hf_awd.analysis`).
"""

import torch

from .analysis import saliency_markup, sentence_saliency
from .evaluation import interpolation_scores_figure, load_scorer, score_interpolation_paths
from .model import load_checkpoint

# scripts/train.py's --output_dir; "./" so that, when missing, it is a missing folder rather than a Hub id.
DEFAULT_CHECKPOINT = "./outputs/sequence-vae"
CHECKPOINT_VARIABLE = "HF_AWD_CHECKPOINT"  # a Space variable, where a command-line argument cannot be given
# scripts/train.py's --max_words: training kept the first 100 words of longer sentences, so longer text is not a
# sentence this model has read.
MAX_WORDS = 100
MAX_SAMPLES = 20
MAX_POSTERIOR_SAMPLES = 10
MAX_STEPS = 20
EMPTY_DECODE = "(empty decode)"


def _one_line(error: Exception) -> str:
    """The error's message on one line, without a final period (the caller's sentence goes on)."""
    return " ".join(str(error).split()).rstrip(".")


def _whole_number(value, name: str, high: int) -> int:
    """`value` as an int in [1, high]; page widgets give floats (3.0) or None when cleared."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 1 <= value <= high or value % 1:
        raise ValueError(f"{name} must be a whole number from 1 to {high}, got {value!r}")
    return int(value)


def _shown(sentence: str) -> str:
    """A decode as the page shows it: an empty one (the first word was <eos>) says so rather than leaving a gap."""
    return sentence or EMPTY_DECODE


def _numbered(sentences: list[str]) -> str:
    return "\n".join(f"{number}. {_shown(sentence)}" for number, sentence in enumerate(sentences, start=1))


class Playground:
    """A checkpoint (or why it could not be loaded) and the BERTScore scorer (or why it is off), for the page.

    Build it with `Playground.load(checkpoint)`, which never raises: a checkpoint that cannot be loaded becomes
    `problem`, shown by `status` and raised by every method, so that the page still starts and says what is wrong.
    """

    def __init__(self, checkpoint: str, model=None, tokenizer=None, problem: str | None = None, scorer=None,
                 scorer_problem: str | None = None):
        self.checkpoint = checkpoint
        self.model, self.tokenizer, self.problem = model, tokenizer, problem
        self.scorer, self.scorer_problem = scorer, scorer_problem

    @classmethod
    def load(cls, checkpoint: str, bertscore: bool = True) -> "Playground":
        """The checkpoint (folder or Hub id, via `load_checkpoint`) and, with `bertscore`, the packaged offline
        BERTScore scorer (the [eval] extra; without it, interpolations are shown unscored)."""
        try:
            model, tokenizer = load_checkpoint(checkpoint)
        except (OSError, ValueError, RuntimeError) as error:
            problem = (f"No model loaded: {_one_line(error)}. Train one with `python scripts/train.py`, or start "
                       f"the page with `--checkpoint PATH_OR_HUB_ID` (or set {CHECKPOINT_VARIABLE}).")
            return cls(checkpoint, problem=problem)
        model.to("cuda" if torch.cuda.is_available() else "cpu")
        scorer, scorer_problem = None, "BERTScore is off (Playground.load(..., bertscore=False))."
        if bertscore:
            try:
                scorer, scorer_problem = load_scorer(), None
            except ImportError as error:
                scorer_problem = f"Interpolations are not scored: {_one_line(error)}."
        return cls(checkpoint, model, tokenizer, scorer=scorer, scorer_problem=scorer_problem)

    @property
    def has_adversary(self) -> bool:
        return self.model is not None and self.model.adversary is not None

    @property
    def status(self) -> str:
        """One Markdown paragraph: what is loaded, or what went wrong."""
        if self.problem:
            return f"**{self.problem}**"
        config = self.model.config
        adversary = ("its adversary's saliency below" if self.has_adversary
                     else f"no adversary (word dropout: {config.word_dropout})")
        scoring = self.scorer.description if self.scorer else self.scorer_problem
        return (f"Checkpoint `{self.checkpoint}`: {config.decoder_type} decoder, {config.latent_size}-dimensional z, "
                f"{len(self.tokenizer)} words, {adversary}. Interpolations: {scoring}")

    def _loaded(self):
        if self.problem:
            raise ValueError(self.problem)
        return self.model, self.tokenizer

    def _sentence(self, text, name: str) -> str:
        """`text` stripped; a ValueError naming `name` when it is empty or longer than MAX_WORDS words."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The {name} is empty: type a sentence.")
        words = len(self.tokenizer(text.strip(), add_special_tokens=False)["input_ids"])
        if words > MAX_WORDS:
            raise ValueError(f"The {name} has {words} words; the model reads sentences of at most {MAX_WORDS} words.")
        return text.strip()

    def sample(self, num_samples, temperature, top_p) -> str:
        """Numbered sentences decoded from z ~ N(0, I): greedy at temperature 0, else sampled with top-p."""
        model, tokenizer = self._loaded()
        num_samples = _whole_number(num_samples, "The number of samples", MAX_SAMPLES)
        if not isinstance(temperature, (int, float)) or not temperature >= 0:  # `not >=` also catches NaN
            raise ValueError(f"The temperature must be 0 (greedy) or more, got {temperature!r}")
        if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise ValueError(f"Top-p must be above 0 and at most 1, got {top_p!r}")
        words = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}
        z = torch.randn(num_samples, model.config.latent_size, device=model.device)
        return _numbered(model.decode_latents(z, tokenizer, **words))

    def reconstruct(self, text, num_samples) -> tuple[str, str]:
        """The greedy decode of the posterior mean of `text`, and numbered greedy decodes of samples of q(z|text)."""
        model, tokenizer = self._loaded()
        text = self._sentence(text, "sentence")
        num_samples = _whole_number(num_samples, "The number of posterior samples", MAX_POSTERIOR_SAMPLES)
        mean = model.reconstruct(text, tokenizer)[0]
        return _shown(mean), _numbered(model.explore(text, tokenizer, n=num_samples))

    def interpolate(self, source, target, num_steps) -> tuple[dict, object, str]:
        """The path between the posterior means of source and target: a table (`{"headers", "data"}`, one row per
        step with its BERTScore F1 to the source and to the target when the scorer is loaded), the two F1 curves
        (a matplotlib Figure, None unscored) and a note on the scoring."""
        model, tokenizer = self._loaded()
        source, target = self._sentence(source, "source sentence"), self._sentence(target, "target sentence")
        num_steps = _whole_number(num_steps, "The number of steps", MAX_STEPS)
        path = model.interpolate(source, target, tokenizer, num_steps=num_steps)
        rows = [[step, round(step / (num_steps + 1), 3), _shown(sentence)]
                for step, sentence in enumerate(path, start=1)]
        headers = ["step", "t", "sentence"]
        if self.scorer is None:
            return {"headers": headers, "data": rows}, None, self.scorer_problem
        scores = score_interpolation_paths([path], [source], [target], self.scorer)
        for row, step in zip(rows, scores["steps"]):
            row += [round(step["f1_source"], 3), round(step["f1_target"], 3)]
        note = f"{scores['scorer']}; an empty decode scores 0."
        return ({"headers": headers + ["F1 to source", "F1 to target"], "data": rows},
                interpolation_scores_figure(scores), note)

    def saliency(self, text) -> str:
        """The adversary's saliency map of `text` as HTML (`hf_awd.analysis.saliency_markup`); a checkpoint without
        an adversary is a ValueError from `hf_awd.analysis.require_adversary`."""
        model, tokenizer = self._loaded()
        text = self._sentence(text, "sentence")
        return saliency_markup(sentence_saliency(model, tokenizer, [text]))
