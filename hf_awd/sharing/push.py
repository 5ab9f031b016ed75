"""Stage a trained checkpoint as a complete Hub repository folder, and push it, or say how to push it later.

The staged folder holds what `from_pretrained` needs and nothing to resume training: config.json (with `auto_map`),
model.safetensors, generation_config.json, the tokenizer, the modelling code that `trust_remote_code` runs, and
README.md (our card). Pickles (training_args.bin, optimizer.pt, ...) and the online weights stay behind.
"""

import json
import shutil
import sys
from pathlib import Path

import huggingface_hub
from huggingface_hub import HfApi
from transformers.dynamic_module_utils import get_relative_import_files

from ..data.hub import hub_reachable
from ..model import SequenceVAE
from .model_card import build_model_card

MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
OPTIONAL_TOKENIZER_FILES = ("special_tokens_map.json",)
CARD_NAME = "README.md"
STAGING_NAME = "hub_upload"  # default staging folder, inside the checkpoint folder


class HubUnreachableError(RuntimeError):
    """The Hub cannot be reached; `staged_folder` is complete and can be uploaded later."""

    def __init__(self, message: str, staged_folder: Path):
        super().__init__(message)
        self.staged_folder = staged_folder


def stage_for_upload(checkpoint_dir, staging_dir, evaluation_json=None, repo_id=None, dataset_name=None) -> Path:
    """Write the upload folder of `checkpoint_dir` to `staging_dir` and return its path.

    The model is re-saved with `save_pretrained`, which writes config.json with `auto_map` and copies the modelling
    code (with the modules it imports) from the installed hf_awd; tokenizer files are copied as they are.
    `evaluation_json`, `repo_id` and `dataset_name` go to the card (see `build_model_card`).
    """
    checkpoint_dir, staging_dir = Path(checkpoint_dir), Path(staging_dir)
    check_checkpoint(checkpoint_dir)
    prepare_staging_dir(staging_dir, checkpoint_dir)
    SequenceVAE.from_pretrained(checkpoint_dir).save_pretrained(staging_dir)
    for name in TOKENIZER_FILES + OPTIONAL_TOKENIZER_FILES:
        if (checkpoint_dir / name).is_file():
            shutil.copyfile(checkpoint_dir / name, staging_dir / name)
    card = build_model_card(checkpoint_dir, evaluation_json, dataset_name=dataset_name, repo_id=repo_id)
    card.save(staging_dir / CARD_NAME)
    check_staged_folder(staging_dir)
    return staging_dir


def check_checkpoint(checkpoint_dir: Path) -> None:
    if not checkpoint_dir.is_dir():
        raise FileNotFoundError(f"no checkpoint folder at {str(checkpoint_dir)!r}")
    needed = ("config.json", "model.safetensors") + TOKENIZER_FILES
    missing = [name for name in needed if not (checkpoint_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no complete checkpoint at {str(checkpoint_dir)!r}: missing {', '.join(missing)} "
                                "(expected a folder written by scripts/train.py)")


def prepare_staging_dir(staging_dir: Path, checkpoint_dir: Path) -> None:
    """An empty staging folder. A previous staging is replaced; any other non-empty folder is refused, so that a
    mistyped path never deletes someone's files (or the checkpoint itself)."""
    if staging_dir.resolve() == checkpoint_dir.resolve():
        raise ValueError(f"the staging folder must differ from the checkpoint folder {str(checkpoint_dir)!r}")
    entries = list(staging_dir.iterdir()) if staging_dir.exists() else []
    if entries:
        if not (staging_dir / CARD_NAME).is_file() or not all(map(_is_staged_file, entries)):
            raise ValueError(f"staging folder {str(staging_dir)!r} is not empty and not a previous staging; "
                             "choose another one")
        for entry in entries:
            entry.unlink()
    staging_dir.mkdir(parents=True, exist_ok=True)


def _is_staged_file(path: Path) -> bool:
    names = MODEL_FILES + TOKENIZER_FILES + OPTIONAL_TOKENIZER_FILES + (CARD_NAME,)
    return path.is_file() and (path.name in names or path.suffix == ".py")


def check_staged_folder(folder: Path) -> None:
    """Every file `from_pretrained` needs is there, including each module of `auto_map` and what it imports."""
    config = json.loads((folder / "config.json").read_text())
    modules = {reference.split(".")[0] + ".py" for reference in config.get("auto_map", {}).values()}
    code = {Path(path).name for module in modules for path in get_relative_import_files(str(folder / module))}
    missing = [name for name in (*MODEL_FILES, *TOKENIZER_FILES, CARD_NAME, *sorted(modules | code))
               if not (folder / name).is_file()]
    if missing or not modules:
        raise RuntimeError(f"staged folder {str(folder)!r} is incomplete: missing {', '.join(missing) or 'auto_map'}")


def upload_command(repo_id: str, folder: Path, private: bool = False) -> str:
    return f"hf upload {repo_id} {folder}" + (" --private" if private else "")


def hub_unreachable_reason() -> str | None:
    """Why the Hub cannot be written to now, or None when it can be reached."""
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    if not hub_reachable():
        return f"the Hub ({huggingface_hub.constants.ENDPOINT}) cannot be reached"
    return None


def push_checkpoint(checkpoint_dir, repo_id, private=False, token=None, evaluation_json=None, staging_dir=None):
    """Stage `checkpoint_dir` (default staging folder: CHECKPOINT/hub_upload), create the Hub repository if needed
    and upload the folder. Returns the commit info. Offline: `HubUnreachableError`, with the staged folder."""
    checkpoint_dir = Path(checkpoint_dir)
    staged = stage_for_upload(checkpoint_dir, staging_dir or checkpoint_dir / STAGING_NAME, evaluation_json,
                              repo_id=repo_id)
    reason = hub_unreachable_reason()
    if reason:
        raise HubUnreachableError(
            f"cannot push to {repo_id}: {reason}. The complete upload folder is staged at {staged.resolve()}; upload "
            f"it later with `{upload_command(repo_id, staged.resolve(), private)}` "
            f"or HfApi().upload_folder(repo_id={repo_id!r}, folder_path={str(staged.resolve())!r})", staged)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(folder_path=str(staged), repo_id=repo_id, repo_type="model",
                             commit_message="Upload sequence VAE (hf_awd)")


# ---- scripts/train.py --push_to_hub ----

def disable_push_if_offline(training_args) -> bool:
    """Before the Trainer is built (it creates the Hub repository then): when `--push_to_hub` is set but the Hub
    cannot be reached, warn, turn pushing off for this run and return True (stage the model at the end instead)."""
    if not training_args.push_to_hub:
        return False
    reason = hub_unreachable_reason()
    if reason is None:
        return False
    training_args.push_to_hub = False
    if training_args.should_save:
        print(f"WARNING: --push_to_hub: {reason}, so pushing is impossible; training without pushing. The final "
              f"model will be staged in {Path(training_args.output_dir) / STAGING_NAME} for a later upload.",
              file=sys.stderr)
    return True


def stage_after_offline_training(training_args) -> Path | None:
    """After training: stage the final model of `output_dir` into `output_dir/hub_upload` and print how to upload
    it. Main process only (returns None elsewhere)."""
    if not training_args.should_save:
        return None
    output_dir = Path(training_args.output_dir)
    repo_id = training_args.hub_model_id or output_dir.resolve().name
    staged = stage_for_upload(output_dir, output_dir / STAGING_NAME, repo_id=repo_id).resolve()
    print(f"\nThe Hub could not be reached, so nothing was pushed. The model is staged for upload in {staged}; "
          f"when online, run:\n  {upload_command(repo_id, staged, training_args.hub_private_repo or False)}")
    return staged
