"""Trainer callbacks: Polyak averaging, FBP's decoder reset, dense logging early in training, a wall-clock budget."""

import time

from transformers import TrainerCallback


class AutoencoderPretrainingCallback(TrainerCallback):
    """FBP (Li et al., 2019): after `autoencoder_pretraining_steps` steps as an autoencoder, re-initialise the
    decoder, keeping the encoder (and the word embeddings it shares), so that VAE training starts from an encoder
    whose codes carry information and a decoder that has not yet learned to do without them. The decoder's optimiser
    moments and Polyak averages restart with it."""

    def __init__(self, average=None):
        self.average = average

    def on_step_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if state.global_step != args.autoencoder_pretraining_steps:
            return
        for name, param in model.reset_decoder():
            optimizer.state.pop(param, None)
            if self.average is not None:
                self.average.shadow[name] = param.detach().clone()


class PolyakAveragingCallback(TrainerCallback):
    """Updates the averaged weights after every optimiser step."""

    def __init__(self, average):
        self.average = average

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.average.update(model)


class EarlyLoggingCallback(TrainerCallback):
    """Log every `EVERY` steps during the first `until` steps, on top of `--logging_steps`: posterior collapse
    happens in the first ~100 steps, long before a usual logging interval."""

    EVERY = 10

    def __init__(self, until: int):
        self.until = until

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step <= self.until and state.global_step % self.EVERY == 0:
            control.should_log = True


class TimeBudgetCallback(TrainerCallback):
    """Stop training after `minutes` of wall-clock time, evaluating and saving the last step first, so that a run
    with a time budget ends like one that ran out of steps (the best checkpoint is then restored as usual)."""

    def __init__(self, minutes: float):
        self.seconds = 60 * minutes
        self.start = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self.start > self.seconds:
            control.should_training_stop = True
            control.should_evaluate = args.eval_strategy != "no"
            control.should_save = args.save_strategy != "no"
