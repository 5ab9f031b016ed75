import os

os.environ["HF_HUB_OFFLINE"] = "1"

import time  # noqa: E402

import pytest  # noqa: E402

from hf_awd.evaluation.bertscore import (  # noqa: E402
    DEFAULT_SCORER,
    MINILM_DEFAULT_LAYER,
    load_scorer,
    plot_interpolation_scores,
    score_interpolation_paths,
)
from hf_awd.evaluation import load_metric  # noqa: E402

SOURCE = "the cat sat on the mat all day"
TARGET = "stock prices fell sharply early on monday morning"
SOURCE2 = "i love this movie because it was great"
TARGET2 = "my brother fixed the old red car yesterday"


def word_path(src: str, tgt: str) -> list[str]:
    """Sentences that replace the source's words by the target's, left to right
    (excluding the endpoints themselves)."""
    s, t = src.split(), tgt.split()
    assert len(s) == len(t)
    return [" ".join(t[:k] + s[k:]) for k in range(1, len(s))]


@pytest.fixture(scope="module")
def scorer():
    return load_scorer()


def test_default_scorer_is_minilm_layer5(scorer):
    assert DEFAULT_SCORER == "minilm"
    assert scorer.num_layers == MINILM_DEFAULT_LAYER == 5
    assert "MiniLM" in scorer.description and "layer 5" in scorer.description


def test_word_by_word_path_falls_and_rises(scorer):
    paths = [word_path(SOURCE, TARGET), word_path(SOURCE2, TARGET2)]
    table = score_interpolation_paths(paths, [SOURCE, SOURCE2], [TARGET, TARGET2], scorer)
    assert table["num_pairs"] == 2
    assert "layer 5" in table["scorer"]
    steps = table["steps"]
    assert [r["step"] for r in steps] == list(range(1, len(paths[0]) + 1))
    for r in steps:
        for key in ("f1_source", "f1_target", "f1_source_std", "f1_target_std"):
            assert 0.0 <= r[key] <= 1.0 + 1e-6, (key, r)
    src = [r["f1_source"] for r in steps]
    tgt = [r["f1_target"] for r in steps]
    # Overall trend and near-monotonic (small tolerance for contextual noise).
    assert src[0] > src[-1] + 0.2 and tgt[-1] > tgt[0] + 0.2
    assert all(b <= a + 0.02 for a, b in zip(src, src[1:])), src
    assert all(b >= a - 0.02 for a, b in zip(tgt, tgt[1:])), tgt
    assert src[0] > tgt[0] and tgt[-1] > src[-1]


def test_identical_sentence_scores_one(scorer):
    table = score_interpolation_paths([[SOURCE]], [SOURCE], [TARGET], scorer)
    assert table["steps"][0]["f1_source"] == pytest.approx(1.0, abs=1e-4)
    assert table["steps"][0]["f1_source_std"] == pytest.approx(0.0)


def test_empty_interpolated_sentence_does_not_crash_and_is_counted(scorer):
    paths = [["", SOURCE, "   "], [SOURCE2, "<unk> <unk> .", TARGET2]]
    table = score_interpolation_paths(paths, [SOURCE, SOURCE2], [TARGET, TARGET2], scorer)
    steps = table["steps"]
    assert len(steps) == 3
    assert [row["degenerate"] for row in steps] == [1, 1, 1]  # empty, all <unk>, whitespace
    # Empty candidates score 0.0 (bert_score's own convention); the other pair is scored.
    f_empty_only = scorer.f1(["", " "], [SOURCE, TARGET])
    assert f_empty_only.tolist() == [0.0, 0.0]
    assert 0.0 < steps[0]["f1_source"] <= 0.5 + 1e-6  # mean of 0.0 and F1(SOURCE2, SOURCE2)=1


@pytest.mark.parametrize(
    "paths, sources, targets, match",
    [
        ([], [], [], "non-empty"),
        ([["a b"]], [""], ["c d"], "source sentence 0 is empty"),
        ([["a b"]], ["a"], ["   "], "target sentence 0 is empty"),
        ([["a b"], ["c"]], ["a"], ["b"], "mismatched lengths"),
        ([["a b"], ["c"]], ["a", "b"], ["c"], "mismatched lengths"),
        ([["a", "b"], ["c"]], ["a", "b"], ["c", "d"], "unequal length"),
        ([[]], ["a"], ["b"], "at least one sentence"),
    ],
)
def test_bad_inputs(scorer, paths, sources, targets, match):
    with pytest.raises(ValueError, match=match):
        score_interpolation_paths(paths, sources, targets, scorer)


def test_unknown_scorer_path():
    with pytest.raises(ValueError, match=r"does not exist.*default offline scorer"):
        load_scorer("/nonexistent/model", num_layers=5)
    with pytest.raises(ValueError, match=r"does not exist"):
        load_scorer("/nonexistent/model")


def test_local_folder_needs_num_layers(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="needs num_layers"):
        load_scorer(str(tmp_path))


def test_uncached_hub_model_fails_fast_offline():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"cannot be reached \(offline\).*default offline scorer"):
        load_scorer("roberta-large")
    assert time.monotonic() - t0 < 5
    with pytest.raises(ValueError, match="no default layer"):
        load_scorer("someone/not-a-known-model")


def test_interpolation_bertscore_evaluate_module_gives_the_same_table(scorer):
    paths = [word_path(SOURCE, TARGET), word_path(SOURCE2, TARGET2)]
    table = score_interpolation_paths(paths, [SOURCE, SOURCE2], [TARGET, TARGET2], scorer)
    metric = load_metric("interpolation_bertscore")
    assert metric.compute(paths=paths, sources=[SOURCE, SOURCE2], targets=[TARGET, TARGET2]) == pytest.approx(table)


def test_plot_written(scorer, tmp_path):
    paths = [word_path(SOURCE, TARGET), word_path(SOURCE2, TARGET2)]
    table = score_interpolation_paths(paths, [SOURCE, SOURCE2], [TARGET, TARGET2], scorer)
    out = tmp_path / "plots" / "fig4b.png"
    plot_interpolation_scores(table, out)
    data = out.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
