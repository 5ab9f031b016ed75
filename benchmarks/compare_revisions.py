"""Training-step speed of this checkout's model against the model of another git revision, in one process.

    python benchmarks/compare_revisions.py --baseline 2e8957b --modes none uniform adversarial --steps 40

`hf_awd/model/` imports only torch and transformers (it is copied next to checkpoints), so the baseline's copy of
that folder is imported as its own package. Both models get the same weights and batches, and the same bare
training step (`hf_awd.experiments.speed.bare_step`); steps alternate between the two (in alternating order), so a
change of machine load affects both alike. Reports medians of wall-clock and process CPU time per step.
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from hf_awd import SequenceVAE, SequenceVAEConfig
from hf_awd.experiments import speed

REPO_ROOT = Path(__file__).resolve().parents[1]


def import_model_package(revision: str, folder: Path):
    """The modelling code of `hf_awd/model/` as of `revision`, imported as the package `baseline_model` from
    `folder`. Its `__init__` is left empty: the real one registers the Auto classes a second time."""
    package = folder / "baseline_model"
    package.mkdir()
    (package / "__init__.py").write_text("")
    names = subprocess.run(["git", "ls-tree", "--name-only", f"{revision}:hf_awd/model"], cwd=REPO_ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith(".py") and name != "__init__.py":
            source = subprocess.run(["git", "show", f"{revision}:hf_awd/model/{name}"], cwd=REPO_ROOT, check=True,
                                    capture_output=True, text=True).stdout
            (package / name).write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("baseline_model.modeling_sequence_vae")


def timed_step(model, optimizer, batch, device) -> tuple[float, float]:
    """(wall, process CPU) seconds of one bare training step."""
    speed.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    speed.bare_step(model, optimizer, batch)
    speed.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(baseline_module, mode: str, sizes: dict, batch_size: int, steps: int, device) -> dict:
    decoder_type, word_dropout = speed.MODES[mode]
    config = {"vocab_size": speed.VOCAB_SIZE, **sizes, "decoder_type": decoder_type, "word_dropout": word_dropout,
              "word_dropout_rate": speed.RATES[word_dropout]}
    torch.manual_seed(0)
    models = {"current": SequenceVAE(SequenceVAEConfig(**config))}
    models["baseline"] = baseline_module.SequenceVAE(baseline_module.SequenceVAEConfig(**config))
    models["baseline"].load_state_dict(models["current"].state_dict())
    optimizers = {}
    for name, model in models.items():
        model.to(device).train()
        optimizers[name] = speed.trainer_optimizer(model)
    batches = speed.speed_batches(config["vocab_size"], 4, batch_size, device)
    for name, model in models.items():
        speed.bare_step(model, optimizers[name], batches[0])
    times = {name: [] for name in models}
    for i in range(steps):
        for name in ("baseline", "current") if i % 2 == 0 else ("current", "baseline"):
            times[name].append(timed_step(models[name], optimizers[name], batches[1 + i % 3], device))
    tokens = batch_size * (speed.SENTENCE_LENGTH - 1)
    wall = {name: statistics.median(t[0] for t in runs) for name, runs in times.items()}
    cpu = {name: statistics.median(t[1] for t in runs) for name, runs in times.items()}
    return {
        "tokens_per_second": {name: tokens / seconds for name, seconds in wall.items()},
        "cpu_seconds_per_step": cpu,
        "speedup_wall": wall["baseline"] / wall["current"],
        "speedup_cpu_time": cpu["baseline"] / cpu["current"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision whose hf_awd/model/ is the baseline")
    parser.add_argument("--modes", nargs="+", choices=list(speed.MODES), default=["adversarial"])
    parser.add_argument("--size", choices=sorted(speed.SIZES), default="cpu")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model and mode")
    parser.add_argument("--output", default=None, help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    device = speed.default_device()
    report = {"baseline": args.baseline, "device": str(device), "threads": torch.get_num_threads(),
              "size": args.size, "batch_size": args.batch_size, "steps": args.steps,
              "load_average_before": os.getloadavg()[0], "modes": {}}
    with tempfile.TemporaryDirectory() as folder:
        baseline_module = import_model_package(args.baseline, Path(folder))
        for mode in args.modes:
            result = compare(baseline_module, mode, speed.SIZES[args.size], args.batch_size, args.steps, device)
            report["modes"][mode] = result
            tokens = result["tokens_per_second"]
            print(f"{mode}: baseline {tokens['baseline']:.0f} tokens/s, current {tokens['current']:.0f} tokens/s, "
                  f"speed-up {result['speedup_wall']:.3f} (CPU time {result['speedup_cpu_time']:.3f})", flush=True)
    report["load_average_after"] = os.getloadavg()[0]
    print(f"load average (1 min) before {report['load_average_before']:.1f}, after {report['load_average_after']:.1f}")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
