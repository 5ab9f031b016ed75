"""Resuming: a run stopped at a checkpoint and resumed by a fresh Trainer ends exactly as the uninterrupted run."""

import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from hf_awd import SequenceVAE

from .conftest import tiny_config
from .test_objective import tiny_trainer
from .test_train_script import log_history, train


def assert_same_checkpoint(left, right):
    """Averaged and online weights, the Polyak update count, both players' optimiser state, the LR schedule."""
    for name in ("model.safetensors", "online_model.safetensors"):
        a, b = load_file(left / name), load_file(right / name)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], msg=f"{name}: {key}")
    metadata = []
    for path in (left, right):
        with safe_open(path / "online_model.safetensors", "pt") as file:
            metadata.append(file.metadata())  # the Polyak update count
    assert metadata[0] == metadata[1]
    a, b = (torch.load(path / "optimizer.pt", weights_only=True) for path in (left, right))
    assert [g["player"] for g in a["param_groups"]] == ["vae", "adversary"]
    assert [g["lr"] for g in a["param_groups"]] == [g["lr"] for g in b["param_groups"]]
    assert a["state"].keys() == b["state"].keys() and len(a["state"]) > 0
    for index, state in a["state"].items():
        for key, value in state.items():
            torch.testing.assert_close(value, b["state"][index][key], msg=f"optimizer state {index} {key}")
    assert torch.load(left / "scheduler.pt") == torch.load(right / "scheduler.pt")


def assert_same_logs(left, right, after_step):
    """The training and evaluation log entries after `after_step`. The Trainer's closing summary (train_loss,
    runtime) describes one process's session, not the run, so it is left out."""
    later = [[entry for entry in history if entry["step"] > after_step and "train_runtime" not in entry]
             for history in (left, right)]
    assert len(later[0]) == len(later[1]) > 0
    for a, b in zip(*later):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["step"], key)


def test_resuming_from_a_checkpoint_continues_the_uninterrupted_run(tmp_path):
    """9 steps uninterrupted vs. checkpoint-3 of that run given to a fresh Trainer around a differently initialised
    model: step 3 is mid-epoch (4 steps per epoch), and the LR decays per epoch after steps 4 and 8."""
    options = dict(max_steps=9, learning_rate=0.01, lr_decay=0.5, polyak_decay=0.9, save_strategy="steps",
                   save_steps=3, save_total_limit=None, eval_strategy="steps", eval_steps=3)
    whole = tiny_trainer(tmp_path / "whole", **options)
    whole.train()
    shutil.copytree(tmp_path / "whole" / "checkpoint-3", tmp_path / "resumed" / "checkpoint-3")
    torch.manual_seed(123)
    model = SequenceVAE(tiny_config(vocab_size=whole.model.config.vocab_size))
    resumed = tiny_trainer(tmp_path / "resumed", model=model, **options)
    resumed.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-3"))
    for step in (6, 9):
        assert_same_checkpoint(tmp_path / "whole" / f"checkpoint-{step}", tmp_path / "resumed" / f"checkpoint-{step}")
    with safe_open(tmp_path / "resumed" / "checkpoint-9" / "online_model.safetensors", "pt") as file:
        assert file.metadata()["polyak_updates"] == "9"
    for a, b in zip(whole.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b)
    assert_same_logs(whole.state.log_history, resumed.state.log_history, after_step=3)


class Killed(Exception):
    pass


def test_a_run_killed_mid_way_and_resumed_from_latest_continues_identically(tmp_path, monkeypatch):
    """scripts/train.py: the same 6-step run uninterrupted, and killed during step 5 (checkpoint-3 saved) then
    resumed with --resume_from_checkpoint latest: the same checkpoint-6, final model, logs and test figures."""
    from hf_awd.training.trainer import AWDTrainer

    # One step per log entry: an entry whose window straddles the checkpoint averages only the resumed steps (the
    # Trainer's own `loss` too), which says nothing about the training state.
    common = ("--max_train_samples", "200", "--seed", "3", "--max_steps", "6", "--logging_steps", "1")
    train("--output_dir", str(tmp_path / "whole"), *common)

    compute_loss = AWDTrainer.compute_loss

    def killed_during_step_5(self, *args, **kwargs):
        if self.state.global_step == 4:
            raise Killed
        return compute_loss(self, *args, **kwargs)

    monkeypatch.setattr(AWDTrainer, "compute_loss", killed_during_step_5)
    with pytest.raises(Killed):
        train("--output_dir", str(tmp_path / "resumed"), *common)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "resumed").glob("checkpoint-*")) == ["checkpoint-3"]
    train("--output_dir", str(tmp_path / "resumed"), *common, "--resume_from_checkpoint", "latest")

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert_same_checkpoint(whole / "checkpoint-6", resumed / "checkpoint-6")
    final = (load_file(path / "model.safetensors") for path in (whole, resumed))
    for (key, a), b in zip(next(final).items(), next(final).values()):
        torch.testing.assert_close(a, b, msg=key)
    assert_same_logs(log_history(whole), log_history(resumed), after_step=3)
    test_results = [(path / "test_results.json").read_text() for path in (whole, resumed)]
    assert test_results[0] == test_results[1]
