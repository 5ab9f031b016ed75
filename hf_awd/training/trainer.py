"""`AWDTrainer`: the Trainer for sequence VAEs with (adversarial) word dropout.

One backward pass trains both players of the minimax objective (paper Eq. 6): the VAE minimises the training
objective (-ELBO with the KL schedule and remedies of `TrainingObjective`); the adversary's gradient arrives through
the gradient-reversal layer in front of the drop mask, so it minimises the ELBO, plus its own regulariser. Each
player has its own optimizer (`TwoPlayerOptimizer`: the VAE with `--optim`, the adversary with Adam) and its own
gradient clipping. Evaluation and saved checkpoints use the Polyak-averaged weights.
"""

import contextlib
import dataclasses
import math
import os
from collections import defaultdict

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import EarlyStoppingCallback, Trainer

from ..evaluation.evaluate import evaluate_sequence_vae
from ..sharing.model_card import build_model_card
from .callbacks import (
    AutoencoderPretrainingCallback,
    EarlyLoggingCallback,
    PolyakAveragingCallback,
    TimeBudgetCallback,
)
from .diagnostics import training_statistics
from .objective import TrainingObjective
from .optimization import TwoPlayerOptimizer, per_epoch_decay, split_parameters
from .polyak import PolyakAverage

ONLINE_WEIGHTS_NAME = "online_model.safetensors"  # the raw (non-averaged) weights, needed to resume training


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; checkpoints written before it are intact."""


class AWDTrainer(Trainer):
    # The loss is a per-sentence mean that the Trainer must still divide by the gradient-accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.objective = TrainingObjective.from_args(self.args)
        self._train_statistics = defaultdict(list)
        self.polyak = None
        if self.args.polyak_decay > 0:
            self.polyak = PolyakAverage(self.model, self.args.polyak_decay, warmup=self.args.polyak_warmup)
            self.add_callback(PolyakAveragingCallback(self.polyak))
        if self.args.autoencoder_pretraining_steps > 0:
            self.add_callback(AutoencoderPretrainingCallback(self.polyak))
        if self.args.early_logging_steps > 0:
            self.add_callback(EarlyLoggingCallback(self.args.early_logging_steps))
        if self.args.max_train_minutes:
            self.add_callback(TimeBudgetCallback(self.args.max_train_minutes))
        if self.args.early_stopping_patience and self.args.load_best_model_at_end:
            self.add_callback(EarlyStoppingCallback(early_stopping_patience=self.args.early_stopping_patience))

    # ---- loss and logging ----

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        if not model.training:
            return (outputs.loss, outputs) if return_outputs else outputs.loss
        loss, kl_weight = self.objective(outputs, self.state.global_step)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss is {loss.item()} at step {self.state.global_step + 1}; training stopped before "
                f"the update, so the checkpoints in {self.args.output_dir} are intact. Lower --learning_rate or "
                "--max_grad_norm, or resume from the last checkpoint with another --seed."
            )
        for key, value in training_statistics(outputs, inputs["attention_mask"], kl_weight).items():
            self._train_statistics[key].append(value.float())
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, start_time=None):
        # Average the statistics recorded since the last log, over steps and processes, into the training log.
        if "loss" in logs and self._train_statistics:
            for key, values in self._train_statistics.items():
                mean = torch.stack(values).mean().to(self.args.device)
                logs[key] = round(self.accelerator.reduce(mean, reduction="mean").item(), 4)
            self._train_statistics.clear()
        super().log(logs, start_time)

    # ---- the two players' optimisers ----

    def create_optimizer(self, model=None):
        """The VAE with the Trainer's `--optim` and `--learning_rate`, the adversary (when there is one) with Adam at
        `--adversary_learning_rate`."""
        if self.optimizer is None:
            model = model or self.model
            vae, adversary = split_parameters(model)
            optimizer_class, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            players = {"vae": optimizer_class([{"params": vae, "weight_decay": self.args.weight_decay}], **kwargs)}
            if adversary:
                players["adversary"] = torch.optim.Adam(adversary, lr=self.args.adversary_learning_rate)
            self.optimizer = TwoPlayerOptimizer(players)
        return self.optimizer

    def _clip_grad_norm(self, model):
        """Clip each player's gradient to `max_grad_norm` on its own, so that the reversed gradient reaching the
        adversary never shrinks the VAE's step (nor the reverse). Returns the VAE's norm before clipping (the
        Trainer logs it as grad_norm); the adversary's goes into the log as adversary_grad_norm (paper Figure 3)."""
        vae, adversary = split_parameters(self.accelerator.unwrap_model(model))
        norm = self.accelerator.clip_grad_norm_(vae, self.args.max_grad_norm)  # unscales fp16 gradients once
        if adversary:
            adversary_norm = torch.nn.utils.clip_grad_norm_(adversary, self.args.max_grad_norm)
            self._train_statistics["adversary_grad_norm"].append(adversary_norm.detach().float())
        return norm

    # ---- learning-rate schedule: exponential decay per epoch ----

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.args.lr_decay == 1.0:
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            steps_per_epoch = max(1, self._update_steps_per_epoch())
            self.lr_scheduler = per_epoch_decay(optimizer or self.optimizer, self.args.lr_decay, steps_per_epoch)
        return self.lr_scheduler

    def _update_steps_per_epoch(self):
        batches = math.ceil(len(self.train_dataset) / self._train_batch_size / max(1, self.args.world_size))
        return batches // self.args.gradient_accumulation_steps

    # ---- evaluation and checkpoints with the Polyak-averaged weights ----

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        dataloader = self.get_eval_dataloader(eval_dataset)
        model = self.accelerator.unwrap_model(self.model)
        with self._averaged_weights():
            metrics = evaluate_sequence_vae(
                model, dataloader, iw_samples=self.args.eval_iw_samples, gather=self.accelerator.gather_for_metrics
            )
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in metrics.items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def save_model(self, output_dir=None, _internal_call=False):
        """During training, a checkpoint's model.safetensors holds the averaged weights (what was evaluated and
        what users load); the online weights go beside it to resume from."""
        if self.polyak is None or not _internal_call:
            return super().save_model(output_dir, _internal_call)
        with self.polyak.applied_to(self.model) as online:
            super().save_model(output_dir, _internal_call)
        if self.args.should_save:
            metadata = {"polyak_updates": str(self.polyak.num_updates)}
            save_file({k: v.contiguous() for k, v in online.items()}, os.path.join(output_dir, ONLINE_WEIGHTS_NAME),
                      metadata=metadata)

    def _save(self, output_dir=None, state_dict=None):
        """As the Trainer, but the training arguments go to JSON instead of the pickle `training_args.bin`, so that
        what is saved and pushed holds no pickle outside optimizer/RNG state (which resuming needs)."""
        super()._save(output_dir, state_dict)
        if not self.args.should_save:  # only the main process writes files
            return
        output_dir = output_dir or self.args.output_dir
        os.remove(os.path.join(output_dir, "training_args.bin"))
        with open(os.path.join(output_dir, "training_args.json"), "w") as file:
            file.write(self.args.to_json_string())

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        online_path = os.path.join(resume_from_checkpoint, ONLINE_WEIGHTS_NAME)
        if self.polyak is None or not os.path.exists(online_path):
            return
        model = model or self.model
        self.polyak.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if n in self.polyak.shadow}
        model.load_state_dict(load_file(online_path), strict=False)
        with safe_open(online_path, "pt") as file:
            self.polyak.num_updates = int(file.metadata()["polyak_updates"])

    def train(self, *args, **kwargs):
        output = super().train(*args, **kwargs)
        if self.polyak is not None:
            # With load_best_model_at_end the best checkpoint's averaged weights are already in the model.
            if not (self.args.load_best_model_at_end and self.state.best_model_checkpoint):
                self.polyak.copy_to(self.model)
            self.polyak = None  # from now on the model holds the final weights as they are
        self.remove_callback(EarlyStoppingCallback)  # later evaluations (e.g. of the test split) are not for it
        return output

    def _averaged_weights(self):
        return self.polyak.applied_to(self.model) if self.polyak is not None else contextlib.nullcontext()

    # ---- Hub ----

    def create_model_card(self, model_name=None, dataset=None, **kwargs):
        """Write our card (`hf_awd.sharing.build_model_card`) to output_dir/README.md, which `push_to_hub` uploads.

        The Trainer's generic card fits fine-tuned models ("fine-tuned version of [](...)" for one trained from
        scratch) and knows nothing of the method, the latent space or the data licence. `dataset`: the training
        data, when output_dir/run_arguments.json does not record it; other arguments of the Trainer's signature are
        accepted and ignored.
        """
        if not self.is_world_process_zero():
            return
        card = build_model_card(self.args.output_dir, dataset_name=dataset, repo_id=self.hub_model_id or model_name,
                                trainer_state=dataclasses.asdict(self.state))
        card.save(os.path.join(self.args.output_dir, "README.md"))
