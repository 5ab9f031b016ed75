"""Sharing on the Hugging Face Hub: model cards, complete upload folders, pushing (or staging when offline)."""

from .model_card import build_model_card, save_run_arguments
from .push import (
    HubUnreachableError,
    disable_push_if_offline,
    push_checkpoint,
    stage_after_offline_training,
    stage_for_upload,
)

__all__ = [
    "HubUnreachableError",
    "build_model_card",
    "disable_push_if_offline",
    "push_checkpoint",
    "save_run_arguments",
    "stage_after_offline_training",
    "stage_for_upload",
]
