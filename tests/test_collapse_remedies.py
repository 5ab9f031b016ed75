"""Posterior-collapse remedies: KL schedules, beta-VAE weighting, free bits per dimension, FBP pretraining."""

from types import SimpleNamespace

import pytest
import torch

from hf_awd import SequenceVAE
from hf_awd.training import AWDTrainingArguments, TrainingObjective, thresholded_kl
from hf_awd.training.callbacks import AutoencoderPretrainingCallback
from hf_awd.training.polyak import PolyakAverage
from hf_awd.training.schedules import kl_weight

from .conftest import tiny_config
from .test_train_script import log_history, train


def weights(schedule, count, **options):
    return [round(kl_weight(step, schedule, **options), 6) for step in range(count)]


def test_linear_annealing_from_a_start_weight_with_a_hold():
    assert weights("linear", 7, start=0.2, steps=4, hold=2) == [0.2, 0.2, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_cyclical_annealing_ramps_over_half_of_each_cycle_then_stays_at_one():
    # 2 cycles of 4 steps, rising over the first half (Fu et al., 2019, R = 0.5), then 1 for good.
    assert weights("cyclical", 10, steps=4, cycles=2) == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert weights("cyclical", 6, steps=3, cycles=2, ramp_fraction=1.0, start=0.1) == [0.1, 0.4, 0.7, 0.1, 0.4, 0.7]


def test_constant_schedule_and_unknown_schedule():
    assert weights("constant", 3) == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="kl_annealing must be one of"):
        kl_weight(0, "sigmoid")


def test_beta_scales_the_schedule_and_pretraining_holds_the_weight_at_zero():
    objective = TrainingObjective(beta=0.5, kl_start_weight=0.0, kl_annealing_steps=4, autoencoder_pretraining_steps=3)
    # 3 autoencoder steps at 0, then beta * the linear ramp counted from the end of pretraining.
    assert [objective.kl_weight(step) for step in range(9)] == [0.0, 0.0, 0.0, 0.0, 0.125, 0.25, 0.375, 0.5, 0.5]


def test_the_objective_passes_every_schedule_option_on():
    """TrainingObjective's weights by hand: 2 cycles of 3 steps, each rising from 0.1 over the whole cycle (ramp
    fraction 1), doubled by beta = 2; 1 * beta after the last cycle."""
    objective = TrainingObjective(kl_annealing="cyclical", kl_start_weight=0.1, kl_annealing_steps=3, kl_cycles=2,
                                  kl_cycle_ramp_fraction=1.0, beta=2.0)
    assert [round(objective.kl_weight(step), 6) for step in range(8)] == [0.2, 0.8, 1.4, 0.2, 0.8, 1.4, 2.0, 2.0]


def test_free_bits_clamp_each_dimension_of_the_batch_mean_kl():
    kl_per_dimension = torch.tensor([[0.05, 0.5, 0.0], [0.15, 1.5, 0.6]], requires_grad=True)
    # batch means 0.1, 1.0, 0.3; threshold 0.2 lifts only the first dimension.
    loss = thresholded_kl(kl_per_dimension, 0.2)
    assert loss.item() == pytest.approx(0.2 + 1.0 + 0.3)
    loss.backward()
    assert kl_per_dimension.grad[:, 0].tolist() == [0.0, 0.0]  # below the threshold: no KL gradient
    assert kl_per_dimension.grad[:, 1:].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert thresholded_kl(kl_per_dimension, 0.0).item() == pytest.approx(kl_per_dimension.sum(dim=1).mean().item())


def test_free_bits_change_the_training_loss_not_the_model_loss():
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(word_dropout="none")).train()
    output = model(input_ids=torch.tensor([[2, 5, 6, 7, 3], [2, 8, 9, 3, 0]]))
    # 5 nats per dimension is above any dimension's KL at initialisation: the KL term is 5 * 4 dimensions.
    loss, _ = TrainingObjective(kl_annealing="constant", free_bits=5.0)(output, step=0)
    assert loss.item() == pytest.approx(output.reconstruction_nll.mean().item() + 5.0 * 4)
    assert output.loss.item() == pytest.approx((output.reconstruction_nll + output.kl).mean().item())


def test_fbp_reinitialises_the_decoder_its_optimizer_state_and_average_only():
    torch.manual_seed(0)
    model = SequenceVAE(tiny_config(word_dropout="adversarial")).train()
    optimizer = torch.optim.Adam(model.parameters())
    model(input_ids=torch.tensor([[2, 5, 6, 7, 3]])).loss.backward()
    optimizer.step()
    average = PolyakAverage(model, 0.9)
    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    callback = AutoencoderPretrainingCallback(average)
    args = SimpleNamespace(autoencoder_pretraining_steps=5)
    callback.on_step_begin(args, SimpleNamespace(global_step=4), None, model=model, optimizer=optimizer)
    assert all(torch.equal(before[name], param) for name, param in model.named_parameters())  # not yet
    callback.on_step_begin(args, SimpleNamespace(global_step=5), None, model=model, optimizer=optimizer)
    for name, param in model.named_parameters():
        is_decoder = name.startswith(("latent_to_state.", "decoder.", "lm_head."))
        if param.dim() == 2 and is_decoder:
            assert not torch.equal(before[name], param), name
            assert torch.equal(average.shadow[name], param), name
        if not is_decoder:
            assert torch.equal(before[name], param), name
        assert (param in optimizer.state) != is_decoder, name


def test_remedies_from_the_command_line(tmp_path):
    train("--output_dir", str(tmp_path), "--max_steps", "5", "--max_train_samples", "100", "--logging_steps", "1",
          "--kl_annealing", "cyclical", "--kl_annealing_steps", "2", "--kl_cycles", "1", "--beta", "0.5",
          "--autoencoder_pretraining_steps", "2", "--free_bits", "0.1", "--word_dropout", "uniform")
    logged = [entry["kl_weight"] for entry in log_history(tmp_path) if "loss" in entry]
    assert logged == [0.0, 0.0, 0.0, 0.5, 0.5]


def test_invalid_remedy_options_are_clear_errors():
    with pytest.raises(ValueError, match="kl_cycle_ramp_fraction"):
        AWDTrainingArguments(kl_cycle_ramp_fraction=0.0, report_to="none")
    with pytest.raises(ValueError, match="beta"):
        AWDTrainingArguments(beta=-1.0, report_to="none")
    with pytest.raises(ValueError, match="kl_annealing must be one of"):
        AWDTrainingArguments(kl_annealing="cosine", report_to="none")
