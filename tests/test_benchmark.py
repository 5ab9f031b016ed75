"""scripts/benchmark.py: the results table and the speed benchmarks (the training runs themselves take minutes each
and are not part of the suite; speed runs here use tiny models)."""

import importlib.util
import json

import pytest
import torch

from hf_awd import SequenceVAEConfig
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
    results = {"adversarial": [run, {**run, "test_kl": 7.0}]}
    table = benchmark.markdown_table(results, "python scripts/benchmark.py")
    row = next(line for line in table.splitlines() if line.startswith("| adversarial"))
    assert "6.00 ± 1.41" in row  # KL mean and sample std over the two seeds
    assert row.endswith("99.7 / 5.1 / 4.3 |")
    assert table.startswith("Command: `python scripts/benchmark.py`")


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


def test_every_method_is_a_valid_training_configuration(tmp_path):
    """Each method's arguments parse on top of each preset and give a valid model config (no typo waits until a
    15-minute run reaches it)."""
    from transformers import HfArgumentParser

    from hf_awd.training import AWDTrainingArguments, DataArguments, ModelArguments

    benchmark = load_benchmark()
    parser = HfArgumentParser((ModelArguments, DataArguments, AWDTrainingArguments))
    for preset in benchmark.PRESETS:
        for method, arguments in benchmark.METHODS.items():
            model_args, _, training_args = parser.parse_args_into_dataclasses(
                [*benchmark.PRESETS[preset], *arguments, "--output_dir", str(tmp_path), "--report_to", "none"])
            assert training_args.free_bits == (0.2 if "free-bits" in method or method == "fbp" else 0.0), method
            config = SequenceVAEConfig(**{name: getattr(model_args, name) for name in
                                                    ("word_dropout", "word_dropout_rate", "decoder_type")})
            assert (config.word_dropout == "adversarial") == ("adversarial" in method), method
            assert (config.decoder_type == "transformer") == ("transformer" in method), method


def test_a_finished_run_is_reused_not_retrained(tmp_path):
    benchmark = load_benchmark()
    finished = tmp_path / "adversarial-seed3" / "benchmark_metrics.json"
    finished.parent.mkdir()
    finished.write_text('{"test_nll": 99.0}')
    args = benchmark.parse_arguments(["--output_dir", str(tmp_path), "--data_dir", str(tmp_path / "absent"),
                                      "--iw_samples", "0"])
    assert benchmark.run_method(args, "adversarial", 3) == {"test_nll": 99.0}


def test_runs_without_the_importance_weighted_pass_show_a_dash():
    benchmark = load_benchmark()
    run = {"test_neg_elbo": 101.0, "test_kl": 5.0, "test_mutual_information": 4.0, "test_active_units": 30}
    table = benchmark.markdown_table({"cyclical": [run]}, "python scripts/benchmark.py")
    row = next(line for line in table.splitlines() if line.startswith("| cyclical"))
    assert row.startswith("| cyclical (1 seed) | - | - | 101.00 | 5.00 |")
    two_seeds = benchmark.markdown_table({"cyclical": [run, {**run, "test_neg_elbo": 103.0}]}, "")
    assert "| cyclical (2 seeds) | - | - | 102.00 ± 1.41 | 5.00 ± 0.00 |" in two_seeds


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
