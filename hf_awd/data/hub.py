"""Fail fast, with a message that says what to do, when the Hugging Face Hub cannot be reached.

Unreachable-Hub loads otherwise retry for 20-50 s and end in errors that name neither the Hub nor a local alternative.
"""

import contextlib
import os
import socket
from urllib.parse import urlparse

import huggingface_hub


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when a TCP connection to the Hub endpoint (HF_ENDPOINT) opens within `timeout` seconds."""
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def enable_offline_mode_if_unreachable() -> bool:
    """Switch huggingface_hub, transformers and datasets to offline mode when the Hub is unreachable, so that
    cached files still load and anything else fails at once. Returns True when offline."""
    if hub_reachable():
        return False
    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    import datasets  # imported here: hf_awd.model must stay importable without datasets for trust_remote_code

    datasets.config.HF_HUB_OFFLINE = True
    return True


@contextlib.contextmanager
def hub_errors_explained(name: str, what: str, local_alternative: str):
    """Re-raise a failed load of `name` from the Hub as one clear error naming the problem and the local route."""
    if not os.path.exists(name):
        enable_offline_mode_if_unreachable()
    try:
        yield
    except Exception as error:
        if os.path.exists(name):
            raise
        offline = huggingface_hub.constants.HF_HUB_OFFLINE
        reason = "the Hugging Face Hub cannot be reached (offline)" if offline else "it was not found on the Hub"
        raise RuntimeError(
            f"Could not load {what} {name!r}: {reason} and it is not a local path or cached. "
            f"Use {local_alternative} instead. ({type(error).__name__}: {error})"
        ) from error
