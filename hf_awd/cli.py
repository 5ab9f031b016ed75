"""Small helpers shared by the command-line scripts: argument types and one-line errors instead of tracebacks."""

import argparse

from .model import load_checkpoint


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def load_checkpoint_or_exit(name_or_path: str, require_adversary: bool = False):
    """`hf_awd.load_checkpoint`, exiting with a one-line `error: ...` when the checkpoint cannot be used."""
    try:
        return load_checkpoint(name_or_path, require_adversary=require_adversary)
    except (OSError, ValueError, RuntimeError) as error:
        raise SystemExit(f"error: {' '.join(str(error).split())}") from None
