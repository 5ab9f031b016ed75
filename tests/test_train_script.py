"""End to end: scripts/train.py on the embedded corpus and on local text files, as a user runs it (resuming with
`latest`: tests/test_resume.py)."""

import importlib.util
import json

import pytest
from transformers import AutoModel, AutoTokenizer

from hf_awd import SequenceVAE

from .conftest import REPO_ROOT

TINY = ["--embedding_size", "16", "--encoder_hidden_size", "16", "--decoder_hidden_size", "24", "--latent_size", "4",
        "--adversary_hidden_size", "8", "--vocab_size", "500", "--report_to", "none", "--logging_steps", "2",
        "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "32", "--max_eval_samples", "40",
        "--eval_strategy", "steps", "--save_strategy", "steps", "--eval_steps", "3", "--save_steps", "3",
        "--disable_tqdm", "true"]


def load_train_script():
    spec = importlib.util.spec_from_file_location("train_script", REPO_ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(*args):
    load_train_script().main([*TINY, *args])


def log_history(output_dir):
    return json.loads((output_dir / "trainer_state.json").read_text())["log_history"]


def test_train_on_the_embedded_corpus_and_load_with_auto_classes(tmp_path):
    train("--output_dir", str(tmp_path), "--max_steps", "6", "--max_train_samples", "200")
    model = AutoModel.from_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(model, SequenceVAE) and model.config.word_dropout == "adversarial"
    assert len(tokenizer) == model.config.vocab_size
    history = log_history(tmp_path)
    training_logs = [entry for entry in history if "loss" in entry]
    for key in ("reconstruction", "kl", "adversary_regularizer", "drop_fraction", "adversary_mean_spread",
                "adversary_sigma", "drop_agreement"):
        assert key in training_logs[0], key
    assert 0.2 < training_logs[0]["drop_fraction"] < 0.4
    assert any("eval_neg_elbo" in entry for entry in history)
    test_metrics = json.loads((tmp_path / "test_results.json").read_text())
    assert test_metrics["test_num_sentences"] == 40 and test_metrics["test_kl"] >= 0
    assert (tmp_path / "checkpoint-6" / "online_model.safetensors").exists()


def test_train_on_local_text_files_with_uniform_dropout(tmp_path):
    words = "the a cat dog sat ran on in mat park big small red".split()
    lines = [" ".join(words[(i * 7 + j) % len(words)] for j in range(3 + i % 6)) for i in range(120)]
    for name, chunk in (("train", lines[:100]), ("valid", lines[100:110]), ("test", lines[110:])):
        (tmp_path / f"{name}.txt").write_text("\n".join(chunk) + "\n\n")  # a trailing empty line is skipped
    out = tmp_path / "run"
    train("--output_dir", str(out), "--max_steps", "4", "--word_dropout", "uniform", "--word_dropout_rate", "0.4",
          "--train_file", str(tmp_path / "train.txt"), "--validation_file", str(tmp_path / "valid.txt"),
          "--test_file", str(tmp_path / "test.txt"))
    assert AutoModel.from_pretrained(out).config.word_dropout == "uniform"
    assert json.loads((out / "test_results.json").read_text())["test_num_sentences"] == 10


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        train("--output_dir", str(tmp_path), "--resume_from_checkpoint", str(tmp_path / "nope"))


def test_accelerate_launch_runs_two_cpu_processes(tmp_path):
    """The shipped config starts two ranks on a CPU-only machine (`--cpu --num_processes 2` would start one)."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(REPO_ROOT / "configs" / "accelerate_cpu_ddp.yaml"), str(REPO_ROOT / "scripts" / "train.py"),
               *TINY, "--output_dir", str(tmp_path), "--max_steps", "3", "--max_train_samples", "200"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "process 1 of 2" in output and "process 2 of 2" in output
    assert json.loads((tmp_path / "test_results.json").read_text())["test_num_sentences"] == 40


def test_arguments_from_one_yaml_file(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("word_dropout: uniform\nword_dropout_rate: 0.25\nlatent_size: 8\noutput_dir: out\n"
                      "kl_annealing: constant\n")
    model_args, data_args, training_args = load_train_script().parse_arguments([str(config)])
    assert (model_args.word_dropout, model_args.word_dropout_rate, model_args.latent_size) == ("uniform", 0.25, 8)
    assert training_args.kl_annealing == "constant" and data_args.train_file is None


def test_invalid_training_option_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="kl_annealing"):
        load_train_script().parse_arguments(["--output_dir", str(tmp_path), "--kl_annealing", "sigmoid"])


@pytest.mark.parametrize("option, message", [
    (["--kl_annealing", "cyclic"], "kl_annealing must be one of"),
    (["--decoder_type", "transformer", "--decoder_attention_heads", "5"], "decoder_attention_heads=5 must divide"),
    (["--word_dropout_rate", "1.5"], "word_dropout_rate must be in"),
])
def test_train_script_reports_a_wrong_option_in_one_line(option, message, tmp_path):
    with pytest.raises(SystemExit, match=f"^error: {message}"):
        load_train_script().main(["--output_dir", str(tmp_path), *option])


def test_saved_folders_hold_no_pickled_training_arguments(tmp_path):
    train("--output_dir", str(tmp_path), "--max_steps", "3", "--max_train_samples", "100")
    for folder in (tmp_path, tmp_path / "checkpoint-3"):
        assert not (folder / "training_args.bin").exists()
        assert json.loads((folder / "training_args.json").read_text())["max_steps"] == 3


def test_recipe_and_preset_stand_for_their_options_and_explicit_options_win():
    parse = load_train_script().parse_arguments
    model_args, _, training_args = parse(["--recipe", "authors", "--preset", "paper", "--learning_rate", "0.1",
                                          "--output_dir", "unused", "--report_to", "none"])
    assert training_args.optim == "sgd" and training_args.learning_rate == 0.1  # the explicit option wins
    assert training_args.adversary_learning_rate == 1e-3 and model_args.initialization == "authors"
    assert model_args.decoder_hidden_size == 2048 and training_args.kl_annealing_steps == 30000
    assert training_args.kl_start_weight == 0.1 and training_args.free_bits == 0.0
    with pytest.raises(SystemExit):
        parse(["--recipe", "mine"])
    model_args, _, training_args = parse(["--preset", "paper", "--output_dir", "unused"])  # the authors' recipe
    assert (training_args.optim, training_args.learning_rate, model_args.initialization) == ("sgd", 1.0, "authors")
    model_args, _, training_args = parse(["--preset", "paper", "--recipe", "ours", "--output_dir", "unused"])
    assert (training_args.optim, model_args.initialization) == ("adamw_torch", "xavier")


def test_validation_is_evaluated_once_per_evaluation_and_test_figures_are_printed(tmp_path, monkeypatch, capsys):
    """Evaluations at steps 3 and 6 and one of the test split: the final weights' validation figures come from the
    training log (step 6), not from a second pass; train.py prints both splits."""
    from hf_awd.training import trainer as trainer_module

    calls = []
    evaluate = trainer_module.evaluate_sequence_vae
    monkeypatch.setattr(trainer_module, "evaluate_sequence_vae",
                        lambda *args, **kwargs: calls.append(len(args[1].dataset)) or evaluate(*args, **kwargs))
    train("--output_dir", str(tmp_path), "--max_steps", "6", "--max_train_samples", "200",
          "--load_best_model_at_end", "false")
    assert len(calls) == 3  # validation at steps 3 and 6, then test
    validation = json.loads((tmp_path / "eval_results.json").read_text())
    logged = [entry for entry in log_history(tmp_path) if entry.get("step") == 6 and "eval_neg_elbo" in entry]
    assert validation["eval_neg_elbo"] == logged[-1]["eval_neg_elbo"]
    printed = capsys.readouterr().out
    assert "validation" in printed and "test" in printed
    test_figures = json.loads((tmp_path / "test_results.json").read_text())
    assert f"{test_figures['test_neg_elbo']:.2f}" in printed
