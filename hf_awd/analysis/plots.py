"""Figures of the analysis: saliency maps (HTML and PNG, paper Table 2), per-group bar charts (Figure 4(a)),
training curves (Figure 3) and dropout-rate sweeps (Figure 2).

Plots use `matplotlib.figure.Figure` with the Agg canvas directly, so they never touch pyplot's global state or need
a display. matplotlib (the [analysis] extra) is imported when a figure is drawn, so hf_awd imports without it.
"""

import html
import math

from ..utils import require
from .saliency import SALIENCY_DEFINITION

COLORMAP = "Reds"
LEGEND = ("darker = more likely dropped (colour s/(1+s) of saliency s: mid-red = the sentence's average word); "
          "boxed = dropped at the mean")
# Training-log keys plotted by `training_curves`, in this order, when present (Figure 3: score_l1,
# adversary_grad_norm; what the adversary learned: the spread of its means, its sigma, drop agreement vs chance).
TRAINING_KEYS = ("loss", "reconstruction", "kl", "neg_elbo", "kl_weight", "drop_fraction", "adversary_regularizer",
                 "adversary_mean_spread", "adversary_sigma", "drop_agreement", "drop_agreement_chance", "score_l1",
                 "adversary_grad_norm", "grad_norm", "learning_rate")
EVAL_SKIPPED = ("_runtime", "_per_second", "_num_sentences", "_num_tokens")
SWEEP_PANELS = (("kl", "KL"), ("mutual_information", "MI"), ("neg_elbo", "-ELBO"))


def _figure(**kwargs):
    """A matplotlib Figure on the Agg canvas."""
    figure = require("matplotlib.figure", "analysis").Figure(**kwargs)
    require("matplotlib.backends.backend_agg", "analysis").FigureCanvasAgg(figure)
    return figure


def _token_colours(sentence) -> list[tuple[str, str]]:
    """(background, text) hex colours per token on a fixed scale, comparable across sentences: intensity s / (1 + s)
    of saliency s (0.5 = the sentence's average word, 0.75 = three times it) through COLORMAP; white text on dark."""
    colormap = require("matplotlib", "analysis").colormaps[COLORMAP]
    to_hex = require("matplotlib.colors", "analysis").to_hex
    intensities = [value / (1.0 + value) for value in sentence.saliency]
    return [(to_hex(colormap(value)), "#fff" if value > 0.65 else "#000") for value in intensities]


def saliency_markup(sentences) -> str:
    """The map as an HTML fragment (for a page of one's own): the legend, then one line per sentence, each token on
    its colour; dropped tokens boxed; mu and saliency in the tooltip. Styles are inline so that it shows the same
    anywhere."""
    lines = []
    for sentence in sentences:
        spans = []
        for token, (background, text), mu, value, dropped in zip(
                sentence.tokens, _token_colours(sentence), sentence.score_mean, sentence.saliency, sentence.dropped):
            css = (f"background:{background};color:{text};padding:2px 4px;border-radius:2px"
                   + (";outline:2px solid #000" if dropped else ""))
            tooltip = f"mu={mu:.3f} saliency={value:.3f}" + (" (dropped)" if dropped else "")
            spans.append(f'<span style="{css}" title="{tooltip}">{html.escape(token)}</span>')
        lines.append(f'<p>{" ".join(spans)} <small>(K={sentence.k}, R={sentence.rate})</small></p>')
    legend = f"<p><small>{html.escape(LEGEND)}.<br>{html.escape(SALIENCY_DEFINITION)}.</small></p>"
    return f'<div style="line-height:2.2">{legend}{"".join(lines)}</div>'


def saliency_html(sentences, path, title: str = "Adversarial word dropout: saliency"):
    """`saliency_markup` as a page of its own, written to `path`."""
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{saliency_markup(sentences)}</body></html>"
    )
    with open(path, "w", encoding="utf-8") as file:
        file.write(page)


def saliency_png(sentences, path, width_inches: float = 12.0, fontsize: float = 11.0, dpi: int = 100):
    """The same map as `saliency_html`, drawn with matplotlib text boxes; long sentences wrap."""
    fig = _figure(figsize=(width_inches, 1), dpi=dpi)
    renderer = fig.canvas.get_renderer()
    font = require("matplotlib.font_manager", "analysis").FontProperties(size=fontsize)
    gap, line_height, margin = fontsize * 0.8, fontsize * 2.4, fontsize * 1.5  # pixels (pt ~ px at dpi 100)
    width = width_inches * dpi
    placed, x, y = [], margin, 2 * line_height  # the first line holds the legend
    for sentence in sentences:
        for token, colour, dropped in zip(sentence.tokens, _token_colours(sentence), sentence.dropped):
            token_width = renderer.get_text_width_height_descent(token, font, ismath=False)[0]
            if x + token_width > width - margin and x > margin:
                x, y = margin, y + line_height
            placed.append((x, y, token, colour, dropped))
            x += token_width + gap
        x, y = margin, y + 1.5 * line_height
    height = y + margin
    fig.set_size_inches(width_inches, height / dpi)
    ax = fig.add_axes((0, 0, 1, 1), xlim=(0, width), ylim=(height, 0))
    ax.axis("off")
    ax.text(margin, line_height, LEGEND, fontsize=fontsize * 0.85, va="center", color="#444")
    for x, y, token, (background, text), dropped in placed:
        box = dict(boxstyle="square,pad=0.25", facecolor=background, edgecolor="black" if dropped else "none",
                   linewidth=1.5)
        ax.text(x, y, token, fontproperties=font, va="center", ha="left", color=text, bbox=box)
    fig.savefig(path)


def group_bar_chart(aggregate: dict, path, title: str):
    """Two panels per group of `aggregate_saliency`'s table: mean saliency with the all-words average as a dotted
    line (paper Figure 4(a)), and the fraction of the group's tokens dropped at the mean with the words' rate."""
    labels = list(aggregate["groups"])
    groups = aggregate["groups"].values()
    ticks = [f"{label}\n{group['count']}" for label, group in zip(labels, groups)]
    fig = _figure(figsize=(max(8.0, 0.7 * len(labels)), 7), layout="constrained")
    panels = (("saliency", "mean saliency", aggregate["average"], "average over words"),
              ("drop_fraction", "fraction dropped at the mean", aggregate["average_drop_fraction"], "all words"))
    for ax, (key, ylabel, average, average_label) in zip(fig.subplots(2, 1, sharex=True), panels):
        ax.bar(ticks, [group[key] for group in groups], color="#c0392b")
        ax.axhline(average, linestyle=":", color="black", label=f"{average_label} ({average:.3g})")
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right")
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("group (token count below)")
    fig.suptitle(title)
    fig.savefig(path)


def training_curves(log_histories: dict[str, list[dict]], path, keys=None):
    """One panel per logged quantity against the step, one line per run: `log_histories` maps a run's name to its
    log history. keys: what to plot (default: TRAINING_KEYS present in the logs, then their eval_* metrics)."""
    entries = [entry for history in log_histories.values() for entry in history]
    if keys is None:
        eval_keys = sorted({key for entry in entries for key in entry
                            if key.startswith("eval_") and not key.endswith(EVAL_SKIPPED)})
        keys = [key for key in TRAINING_KEYS if any(key in entry for entry in entries)] + eval_keys
    keys = [key for key in keys if any(key in entry for entry in entries)]
    if not keys:
        raise ValueError("the log history has no training statistics or eval_* metrics to plot")
    columns = min(4, len(keys))
    rows = math.ceil(len(keys) / columns)
    fig = _figure(figsize=(4 * columns, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        for index, (name, history) in enumerate(log_histories.items()):
            points = [(entry["step"], entry[key]) for entry in history if key in entry and "step" in entry]
            if points:  # a run keeps its colour in every panel, also where other runs logged nothing
                ax.plot(*zip(*points), marker="." if len(points) < 30 else None, label=name, color=f"C{index}")
        ax.set_title(key)
        ax.set_xlabel("step")
    if len(log_histories) > 1:  # below the panels, so that no curve is hidden
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)), fontsize="small")
    for ax in axes[len(keys):]:
        ax.axis("off")
    fig.savefig(path)


def sweep_curves(records: list[dict], path, prefix: str):
    """KL, MI and -ELBO (`{prefix}_*` metrics) against the dropout rate R, one line per series of `records`
    (dicts with `series`, `word_dropout_rate` and the metrics), as the paper's Figure 2."""
    series = sorted({record["series"] for record in records})
    fig = _figure(figsize=(13, 4), layout="constrained")
    for ax, (metric, label) in zip(fig.subplots(1, len(SWEEP_PANELS)), SWEEP_PANELS):
        for name in series:
            points = sorted((record["word_dropout_rate"], record[f"{prefix}_{metric}"])
                            for record in records if record["series"] == name)
            ax.plot(*zip(*points), marker="o", label=name)
        ax.set_xlabel("dropout rate R")
        ax.set_title(f"{label} ({prefix})")
    ax.legend()
    fig.savefig(path)
