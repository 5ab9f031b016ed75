"""scripts/benchmark.py: the results table and the speed benchmarks (the training runs themselves take minutes each
and are not part of the suite; speed runs here use tiny models)."""

import importlib.util
import json
import math
from itertools import product

import pytest
import torch

from hf_awd.experiments import speed

from .conftest import REPO_ROOT


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO_ROOT / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markdown_table_reports_mean_and_std_beside_the_paper():
    benchmark = load_benchmark()
    run = {"test_nll": 100.0, "test_ppl": 120.0, "test_neg_elbo": 101.0, "test_kl": 5.0,
           "test_mutual_information": 4.0, "test_active_units": 30}
    rows = {("authors", "adversarial R=0.2"): [run, {**run, "test_kl": 7.0}]}
    table = benchmark.markdown_table(rows, "python scripts/benchmark.py")
    row = next(line for line in table.splitlines() if line.startswith("| adversarial"))
    assert "6.00 ± 1.41" in row  # KL mean and sample std over the two seeds
    assert row.endswith("99.7 / 5.1 / 4.3 |")
    assert table.startswith("Command: `python scripts/benchmark.py`")
    other_rate = benchmark.markdown_table({("authors", "adversarial R=0.3"): [run]}, "")
    assert other_rate.splitlines()[-1].endswith("| - |")  # the paper has no PTB figure at R=0.3


def test_runs_of_a_benchmark_cover_rates_lambdas_recipes_and_seeds(tmp_path):
    benchmark = load_benchmark()
    args = benchmark.parse_arguments(["--methods", "none", "uniform", "adversarial", "--rates", "0.2", "0.4",
                                      "--lambdas", "0.1", "1", "--recipes", "authors", "ours", "--seeds", "0", "1"])
    runs = benchmark.benchmark_runs(args)
    # per recipe and seed: none once, uniform at 2 rates, AWD at 2 rates x 2 lambdas
    assert len(runs) == 2 * 2 * (1 + 2 + 4)
    assert len({run.name for run in runs}) == len(runs)
    names = {run.name for run in runs}
    assert "ptb-cpu-ours-adversarial-R0.4-lambda0.1-seed1" in names and "ptb-cpu-authors-none-seed0" in names


def test_speed_batches_are_identical_for_every_method():
    first, second = speed.speed_batches(100, 3), speed.speed_batches(100, 3)
    assert all((a["input_ids"] == b["input_ids"]).all() for a, b in zip(first, second))
    assert first[0]["input_ids"].shape == (32, 23) and (first[0]["input_ids"][:, 0] == 2).all()


def test_speed_models_and_batches_go_to_the_requested_device():
    """`measure_speed` times on CUDA when it is available: models and batches are built on the device they are
    given ("meta" stands in for a GPU here)."""
    tiny = {"vocab_size": 60, "embedding_size": 8, "encoder_hidden_size": 8, "decoder_hidden_size": 16}
    assert speed.speed_batches(60, 1, 2, device="meta")[0]["input_ids"].device.type == "meta"
    assert {p.device.type for p in speed.speed_model("adversarial", tiny, device="meta").parameters()} == {"meta"}
    assert speed.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_speed_mode_writes_throughput_per_mode_and_the_step_time_ratios(tmp_path, monkeypatch):
    """`--speed` end to end at tiny sizes: JSON with tokens/s of every mode, AWD/none and Trainer/bare-loop ratios."""
    tiny = {"vocab_size": 60, "embedding_size": 8, "encoder_hidden_size": 8, "decoder_hidden_size": 16,
            "latent_size": 4, "adversary_hidden_size": 8}
    monkeypatch.setitem(speed.SIZES, "cpu", tiny)
    benchmark = load_benchmark()
    benchmark.main(["--speed", "--speed_steps", "2", "--speed_repeats", "1", "--speed_batch_sizes", "4", "6",
                    "--output_dir", str(tmp_path)])
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["device"] == ("cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name())
    assert set(report["settings"]) == {"cpu-b4", "cpu-b6"} and report["load_average_after"] >= 0
    setting = report["settings"]["cpu-b6"]
    assert setting["sizes"] == tiny and setting["batch_size"] == 6 and setting["tokens_per_step"] == 6 * 22
    assert set(setting["tokens_per_second"]) == {"none", "uniform", "adversarial", "lstm", "transformer",
                                                 "transformer_adversarial"}
    assert all(value > 0 for value in setting["tokens_per_second"].values())
    ratio = setting["tokens_per_second"]["none"] / setting["tokens_per_second"]["adversarial"]
    assert abs(setting["awd_over_none_step_time"] - ratio) < 1e-9
    assert setting["trainer_over_bare_loop_step_time"] > 0 and setting["iw_nll_sentences_per_second"] > 0


def test_every_run_is_a_valid_training_configuration(tmp_path):
    """Each method parses on top of each preset, recipe and corpus and gives a valid model config (no typo waits
    until a 30-minute run reaches it)."""
    from hf_awd.experiments import CORPORA, METHODS, PRESETS, RECIPES, Run, run_arguments

    for preset, recipe, corpus, method in product(PRESETS, RECIPES, CORPORA, METHODS):
        run = Run(corpus, preset, recipe, method, seed=0)
        model_args, data_args, training_args = run_arguments(run.options(), ["--output_dir", str(tmp_path),
                                                                             "--report_to", "none"])
        assert training_args.free_bits == (0.2 if "free-bits" in method or method == "fbp" else 0.0), method
        assert model_args.word_dropout_rate == run.word_dropout_rate
        assert (model_args.word_dropout == "adversarial") == ("adversarial" in method), method
        assert (model_args.decoder_type == "transformer") == ("transformer" in method), method
        assert (data_args.train_file is None) == (corpus == "wordnet")
        assert training_args.kl_start_weight == 0.1 and training_args.kl_annealing_steps > 0
        if recipe == "authors":
            assert training_args.optim == "sgd" and training_args.learning_rate == 1.0
            assert model_args.initialization == "authors"


def test_paper_rates_and_sizes_follow_the_corpus():
    from hf_awd.experiments import Run, run_arguments

    assert Run("ptb", method="adversarial").word_dropout_rate == 0.2
    assert Run("ptb", method="uniform").word_dropout_rate == 0.4
    assert Run("wordnet", method="adversarial").word_dropout_rate == 0.3
    assert Run("ptb", method="uniform", rate=0.3).word_dropout_rate == 0.3
    assert Run("ptb", method="none", rate=0.3).word_dropout_rate == 0.0
    model_args, _, training_args = run_arguments(Run("wordnet", "paper").options(), ["--output_dir", "x"])
    assert model_args.decoder_hidden_size == 1024 and training_args.polyak_warmup is False
    with pytest.raises(ValueError, match="unknown recipe"):
        Run(recipe="mine")


def test_a_finished_run_is_reused_not_retrained(tmp_path):
    from hf_awd.experiments import Run, train_run

    run = Run("ptb", method="adversarial", seed=3)
    finished = tmp_path / run.name / "benchmark_metrics.json"
    finished.parent.mkdir()
    finished.write_text('{"test_nll": 99.0}')
    assert train_run(run, tmp_path, iw_samples=0) == {"test_nll": 99.0}
    with pytest.raises(ValueError, match="trained with other options"):  # not silently reused for other settings
        train_run(run, tmp_path, iw_samples=0, argv=["--adversary_learning_rate", "0.01"])


def test_runs_without_the_importance_weighted_pass_show_a_dash():
    benchmark = load_benchmark()
    run = {"test_neg_elbo": 101.0, "test_kl": 5.0, "test_mutual_information": 4.0, "test_active_units": 30}
    table = benchmark.markdown_table({("authors", "cyclical"): [run]}, "python scripts/benchmark.py")
    row = next(line for line in table.splitlines() if line.startswith("| cyclical"))
    assert row.startswith("| cyclical (1 seed) | - | - | 101.00 | 5.00 |")
    two_seeds = benchmark.markdown_table({("authors", "cyclical"): [run, {**run, "test_neg_elbo": 103.0}]}, "")
    assert "| cyclical (2 seeds) | - | - | 102.00 ± 1.41 | 5.00 ± 0.00 |" in two_seeds


def test_paper_protocol_trains_three_methods_side_by_side_within_a_time_budget(tmp_path):
    """The one-command GPU protocol, tried on the CPU with tiny sizes: none / uniform / AWD in parallel processes,
    each stopped by the wall-clock budget, evaluated, and the table written as small files."""
    words = "the a cat dog sat ran on in mat park big small red".split()
    lines = [" ".join(words[(i * 7 + j) % len(words)] for j in range(3 + i % 6)) for i in range(400)]
    for name, chunk in (("train", lines[:300]), ("valid", lines[300:350]), ("test", lines[350:])):
        (tmp_path / f"{name}.txt").write_text("\n".join(chunk) + "\n")
    tiny = ["--embedding_size", "8", "--encoder_hidden_size", "8", "--decoder_hidden_size", "8", "--latent_size", "2",
            "--adversary_hidden_size", "4", "--train_file", str(tmp_path / "train.txt"),
            "--validation_file", str(tmp_path / "valid.txt"), "--test_file", str(tmp_path / "test.txt"),
            "--max_train_minutes", "0.02", "--per_device_train_batch_size", "4"]
    out = tmp_path / "protocol"
    load_benchmark().main(["--preset", "paper", "--seeds", "0", "--jobs", "3", "--threads", "1", "--iw_samples", "0",
                           "--output_dir", str(out), "--table_name", "protocol", "--extra", *tiny])
    record = json.loads((out / "protocol.json").read_text())
    assert len(record["runs"]) == 3
    for name, metrics in record["runs"].items():
        assert metrics["test_num_sentences"] == 50 and math.isfinite(metrics["test_neg_elbo"]), name
        steps = [entry["step"] for entry in record["log_history"][name]]
        assert 0 < max(steps) < 40 * 75, name  # stopped by the budget, long before 40 epochs of 75 steps
    table = (out / "protocol.md").read_text()
    assert "| none (1 seed) |" in table and "| adversarial R=0.2 (1 seed) |" in table


def test_compare_revisions_times_a_git_revision_against_the_checkout(tmp_path, monkeypatch):
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    spec = importlib.util.spec_from_file_location("compare_revisions", REPO_ROOT / "benchmarks" / "compare_revisions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(speed.SIZES, "cpu", {"vocab_size": 60, "embedding_size": 8, "encoder_hidden_size": 8,
                                             "decoder_hidden_size": 16, "adversary_hidden_size": 8})
    monkeypatch.setattr(module.sys, "path", list(module.sys.path))
    module.main(["--baseline", "HEAD", "--modes", "none", "adversarial", "--steps", "2", "--batch_size", "4",
                 "--output", str(tmp_path / "compare.json")])
    report = json.loads((tmp_path / "compare.json").read_text())
    assert set(report["modes"]) == {"none", "adversarial"}
    assert set(report["modes"]["adversarial"]["tokens_per_second"]) == {"baseline", "current"}
    assert report["modes"]["none"]["speedup_wall"] > 0
