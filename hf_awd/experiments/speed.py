"""Training throughput on the device at hand (CUDA when available, else CPU): tokens/s of bare training steps per
decoder and word-dropout mode, the cost of AWD over no dropout, of `AWDTrainer` over a bare loop, and IW-NLL
evaluation speed. `scripts/benchmark.py --speed` and `--profile` call this module.

Every mode trains on the same random batches (PTB-like sentences: 21 words between `<bos>` and `<eos>`, so 22
predicted tokens each); each figure is a median over steps (after one warm-up step) and over repeats, each repeat
with a fresh model and optimizer. On CUDA the device is synchronised before every timer reading.
"""

import os
import statistics
import tempfile
import time

import torch
from datasets import Dataset
from transformers import TrainerCallback

from ..evaluation.evaluate import iw_log_likelihood_batch
from ..model import SequenceVAE, SequenceVAEConfig
from ..training import AWDTrainer, AWDTrainingArguments

SIZES = {  # model sizes: those of the speed figures measured since stop 9, and the paper's (Section 5)
    "cpu": {"embedding_size": 256, "encoder_hidden_size": 256, "decoder_hidden_size": 512},
    "paper": {"embedding_size": 512, "encoder_hidden_size": 1024, "decoder_hidden_size": 2048},
}
VOCAB_SIZE = 10000
SENTENCE_LENGTH = 23  # <bos>, 21 words, <eos>
MODES = {  # reported name -> (decoder_type, word_dropout); R as in the benchmarks (Table 5's for PTB)
    "none": ("double_lstm", "none"),
    "uniform": ("double_lstm", "uniform"),
    "adversarial": ("double_lstm", "adversarial"),
    "lstm": ("lstm", "none"),
    "transformer": ("transformer", "none"),
    "transformer_adversarial": ("transformer", "adversarial"),
}
RATES = {"none": 0.0, "uniform": 0.4, "adversarial": 0.2}
IW_SAMPLES = 50


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device):
    """Wait for queued kernels, so that a timer read afterwards measures them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def speed_batches(vocab_size: int, count: int, batch_size: int = 32, device="cpu", seed: int = 0) -> list[dict]:
    """The same `count` random batches for every mode: (batch_size, 23) ids `<bos> words <eos>`, no padding."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        input_ids = torch.randint(4, vocab_size, (batch_size, SENTENCE_LENGTH), generator=generator)
        input_ids[:, 0], input_ids[:, -1] = 2, 3
        batches.append({"input_ids": input_ids.to(device), "attention_mask": torch.ones_like(input_ids).to(device)})
    return batches


def speed_model(mode: str, sizes: dict, device="cpu") -> SequenceVAE:
    """A fresh model in training mode for a `MODES` entry; `sizes` are config fields (see `SIZES`)."""
    decoder_type, word_dropout = MODES[mode]
    config = SequenceVAEConfig(**{"vocab_size": VOCAB_SIZE, **sizes}, decoder_type=decoder_type,
                               word_dropout=word_dropout, word_dropout_rate=RATES[word_dropout])
    return SequenceVAE(config).to(device).train()


def trainer_optimizer(model):
    """The optimizer AWDTrainer builds by default, so the bare loop and the Trainer differ only in the Trainer."""
    optimizer_class, kwargs = AWDTrainer.get_optimizer_cls_and_kwargs(AWDTrainingArguments(report_to="none"), model)
    return optimizer_class(model.parameters(), **kwargs)


def bare_step(model, optimizer, batch):
    """One training step without the Trainer: forward, backward, gradient clipping, optimizer step."""
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def bare_step_time(model, batches) -> float:
    """Median seconds per bare training step over `batches[1:]` (`batches[0]` warms up)."""
    optimizer = trainer_optimizer(model)
    device = batches[0]["input_ids"].device
    bare_step(model, optimizer, batches[0])
    times = []
    for batch in batches[1:]:
        synchronize(device)
        start = time.perf_counter()
        bare_step(model, optimizer, batch)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class StepTimer(TrainerCallback):
    """Seconds per `AWDTrainer` step (callbacks, Polyak averaging, logging and moving the batch included)."""

    def __init__(self, device):
        self.device, self.step_times = device, []

    def on_step_begin(self, *args, **kwargs):
        synchronize(self.device)
        self.start = time.perf_counter()

    def on_step_end(self, *args, **kwargs):
        synchronize(self.device)
        self.step_times.append(time.perf_counter() - self.start)


def trainer_step_time(model, batches) -> float:
    """Median seconds per step of `AWDTrainer` on the sentences of `batches` (first step excluded)."""
    device = batches[0]["input_ids"].device
    rows = [{key: value[i].tolist() for key, value in batch.items()}
            for batch in batches for i in range(len(batch["input_ids"]))]
    timer = StepTimer(device)
    with tempfile.TemporaryDirectory() as output_dir:
        args = AWDTrainingArguments(
            output_dir=output_dir, max_steps=len(batches), per_device_train_batch_size=len(batches[0]["input_ids"]),
            eval_strategy="no", save_strategy="no", load_best_model_at_end=False, report_to="none",
            disable_tqdm=True, logging_steps=10, dataloader_drop_last=True, use_cpu=device.type == "cpu",
        )
        AWDTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), callbacks=[timer]).train()
    return statistics.median(timer.step_times[1:])


@torch.no_grad()
def iw_sentences_per_second(model, batch, iw_samples: int = IW_SAMPLES) -> float:
    """IW-NLL evaluation speed: sentences per second of `iw_log_likelihood_batch` with `iw_samples` samples."""
    model.eval()
    device = batch["input_ids"].device
    mean, logvar = model.encode(batch["input_ids"], batch["attention_mask"])
    synchronize(device)
    start = time.perf_counter()
    iw_log_likelihood_batch(model, batch["input_ids"], batch["attention_mask"], mean, logvar, iw_samples,
                            torch.Generator(device=device).manual_seed(0))
    synchronize(device)
    return len(batch["input_ids"]) / (time.perf_counter() - start)


def measure_setting(sizes: dict, batch_size: int, steps: int, repeats: int, modes, device) -> dict:
    """Throughput of every mode at one model size and batch size, plus the AWD and Trainer step-time ratios."""
    vocab_size = sizes.get("vocab_size", VOCAB_SIZE)
    batches = speed_batches(vocab_size, steps + 1, batch_size, device)
    tokens = batch_size * (SENTENCE_LENGTH - 1)
    # Repeats go round all modes in turn, so that a change in machine load affects every mode alike.
    runs = {mode: [] for mode in [*modes, "trainer"]}
    for _ in range(repeats):
        for mode in modes:
            runs[mode].append(bare_step_time(speed_model(mode, sizes, device), batches))
        runs["trainer"].append(trainer_step_time(speed_model("adversarial", sizes, device), batches))
    step_time = {mode: statistics.median(times) for mode, times in runs.items()}
    return {
        "sizes": sizes,
        "batch_size": batch_size,
        "tokens_per_step": tokens,
        "tokens_per_second": {mode: tokens / step_time[mode] for mode in modes},
        "awd_over_none_step_time": step_time["adversarial"] / step_time["none"],
        "trainer_over_bare_loop_step_time": step_time["trainer"] / step_time["adversarial"],
        "iw_nll_sentences_per_second": iw_sentences_per_second(speed_model("adversarial", sizes, device), batches[0]),
        "iw_samples": IW_SAMPLES,
    }


def measure_speed(sizes: dict, batch_sizes, steps: int = 20, repeats: int = 3, modes=tuple(MODES),
                  device=None) -> dict:
    """The report of `scripts/benchmark.py --speed`: one `measure_setting` entry per (size name, batch size),
    keyed "NAME-bBATCH". `sizes` maps a name to config fields (see `SIZES`); `modes` must include "none" and
    "adversarial"."""
    device = torch.device(device) if device is not None else default_device()
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "steps": steps,
        "repeats": repeats,
        "predicted_tokens_per_sentence": SENTENCE_LENGTH - 1,
        "load_average_before": os.getloadavg()[0],  # other processes on the machine slow every figure down
        "settings": {},
    }
    for name, size in sizes.items():
        for batch_size in batch_sizes:
            report["settings"][f"{name}-b{batch_size}"] = measure_setting(size, batch_size, steps, repeats, modes,
                                                                          device)
    report["load_average_after"] = os.getloadavg()[0]
    return report


def profile_training_step(sizes: dict, batch_size: int = 32, steps: int = 3, mode: str = "adversarial",
                          device=None, row_limit: int = 15) -> str:
    """torch.profiler's table of the operators (self time, by input shape) of `steps` bare training steps after one
    warm-up."""
    device = torch.device(device) if device is not None else default_device()
    batches = speed_batches(sizes.get("vocab_size", VOCAB_SIZE), steps + 1, batch_size, device)
    model = speed_model(mode, sizes, device)
    optimizer = trainer_optimizer(model)
    bare_step(model, optimizer, batches[0])
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities, record_shapes=True) as profiler:
        for batch in batches[1:]:
            bare_step(model, optimizer, batch)
        synchronize(device)
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    # By input shape: the output layer's products and the decoder's per-step ones are all `aten::mm`.
    return profiler.key_averages(group_by_input_shape=True).table(sort_by=sort_by, row_limit=row_limit)
