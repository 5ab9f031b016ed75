"""Polyak averaging: the average after each update, worked by hand, and what the trainer evaluates, saves and trains."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import TrainerCallback

from hf_awd import SequenceVAE
from hf_awd.evaluation import evaluate_sequence_vae
from hf_awd.training.polyak import PolyakAverage

from .test_objective import tiny_trainer


def scalar_model(value: float) -> nn.Module:
    model = nn.Linear(1, 1, bias=False)
    set_weight(model, value)
    return model


def set_weight(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        model.weight.fill_(value)


@pytest.mark.parametrize("warmup, expected", [
    (False, [0.9 * 10 + 0.1 * 20, 0.9 * (0.9 * 10 + 0.1 * 20) + 0.1 * 0]),                 # 11, 9.9
    (True, [0.1 * 10 + 0.9 * 20, 2 / 11 * (0.1 * 10 + 0.9 * 20) + 9 / 11 * 0]),           # decay 1/10, then 2/11
])
def test_average_after_one_and_two_updates_by_hand(warmup, expected):
    """Weights 10 (start), 20, 0 with decay 0.9: a_n = d_n a_(n-1) + (1 - d_n) w_n, d_n = 0.9 or, with warm-up,
    min(0.9, (1 + n) / (10 + n)) for the n-th update counted from 0."""
    model = scalar_model(10.0)
    average = PolyakAverage(model, decay=0.9, warmup=warmup)
    for weight, value in zip((20.0, 0.0), expected):
        set_weight(model, weight)
        average.update(model)
        assert average.shadow["weight"].item() == pytest.approx(value, rel=1e-6)
    assert average.num_updates == 2 and model.weight.item() == 0.0  # the model keeps its own weights


def test_warmup_is_on_by_default_and_gives_way_to_the_decay():
    """Default warm-up: the first update uses decay 1/10; (1 + n) / (10 + n) exceeds 0.5 from n = 9 on, so the 10th
    update (n = 9) uses decay 0.5."""
    model = scalar_model(0.0)
    average = PolyakAverage(model, decay=0.5)
    set_weight(model, 10.0)
    average.update(model)
    assert average.shadow["weight"].item() == pytest.approx(9.0)
    average.num_updates = 9
    set_weight(model, 1.0)
    average.update(model)
    assert average.shadow["weight"].item() == pytest.approx(0.5 * 9.0 + 0.5 * 1.0)


def test_applied_to_swaps_the_average_in_and_the_online_weights_back_even_after_an_error():
    model = scalar_model(1.0)
    average = PolyakAverage(model, decay=0.9, warmup=False)
    set_weight(model, 3.0)
    average.update(model)  # 0.9 * 1 + 0.1 * 3 = 1.2
    with average.applied_to(model) as online:
        assert model.weight.item() == pytest.approx(1.2) and online["weight"].item() == 3.0
    assert model.weight.item() == 3.0
    with pytest.raises(RuntimeError), average.applied_to(model):
        raise RuntimeError("evaluation failed")
    assert model.weight.item() == 3.0
    average.copy_to(model)
    assert model.weight.item() == pytest.approx(1.2)


class RecordWeights(TrainerCallback):
    """Copies of the weights when each step ends (after the average's update, before evaluation and saving) and when
    the next begins (after them)."""

    def __init__(self, average):
        self.average, self.online, self.shadow, self.next_begin = average, {}, {}, {}

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.next_begin[state.global_step] = {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.online[state.global_step] = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.shadow[state.global_step] = {n: t.clone() for n, t in self.average.shadow.items()}


def test_trainer_averages_each_step_evaluates_and_saves_the_average_and_trains_on_with_the_online_weights(tmp_path):
    """The average against a hand recursion over the recorded online weights (decay 0.5, warm-up 1/10, 2/11, 3/12);
    evaluation and checkpoints hold it, and the next step starts from the online weights again."""
    trainer = tiny_trainer(tmp_path, max_steps=3, learning_rate=0.05, polyak_decay=0.5, eval_strategy="steps",
                           eval_steps=1, save_strategy="steps", save_steps=1, save_total_limit=None)
    initial = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    recorder = RecordWeights(trainer.polyak)
    trainer.add_callback(recorder)
    trainer.train()
    evaluations = [entry for entry in trainer.state.log_history if "eval_neg_elbo" in entry]
    for step in (1, 2, 3):
        decay = min(0.5, step / (9 + step))
        for name in initial:
            expected = decay * (initial[name] if step == 1 else recorder.shadow[step - 1][name])
            expected = expected + (1 - decay) * recorder.online[step][name]
            torch.testing.assert_close(recorder.shadow[step][name], expected)
        checkpoint = tmp_path / f"checkpoint-{step}"
        saved, online = load_file(checkpoint / "model.safetensors"), load_file(checkpoint / "online_model.safetensors")
        for name in initial:
            assert torch.equal(saved[name], recorder.shadow[step][name]), name
            assert torch.equal(online[name], recorder.online[step][name]), name
            if step < 3:
                assert torch.equal(recorder.next_begin[step][name], recorder.online[step][name]), name
        averaged = SequenceVAE.from_pretrained(checkpoint)
        loader = trainer.get_eval_dataloader(trainer.train_dataset)
        assert evaluations[step - 1]["eval_neg_elbo"] == pytest.approx(
            evaluate_sequence_vae(averaged, loader)["neg_elbo"], rel=1e-5)
