"""Helpers shared across hf_awd (not by `hf_awd.model`, whose files travel alone): optional extras imported lazily
with an error that names the extra, and progress bars that follow `--disable_tqdm` and show on one process only."""

import contextlib
import importlib

import torch
from transformers.utils import logging as transformers_logging


def require(module: str, extra: str):
    """Import `module` from an optional extra, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"{module} is missing: it comes with hf_awd's [{extra}] extra, "
                          f"pip install 'hf_awd[{extra}]' (or -e '.[{extra}]' in a checkout)") from error


def progress_bar(iterable=None, desc: str | None = None, total: int | None = None, leave: bool = True):
    """A tqdm bar (with an ETA) over `iterable`, off where transformers' progress bars are off (`progress_bars`) and
    on every process of a distributed run but the first."""
    other_rank = torch.distributed.is_initialized() and torch.distributed.get_rank() != 0
    return transformers_logging.tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True,
                                     disable=other_rank)


@contextlib.contextmanager
def progress_bars(enabled: bool):
    """Progress bars on or off inside the block (the Trainer's `--disable_tqdm` covers only its own bars)."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    switch = {True: transformers_logging.enable_progress_bar, False: transformers_logging.disable_progress_bar}
    switch[enabled]()
    try:
        yield
    finally:
        switch[was_enabled]()
