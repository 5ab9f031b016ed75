"""Sharing on the Hub: staged upload folders, model cards, pushing through a mocked Hub client, offline staging.

No test touches the network: HF_HUB_OFFLINE=1 (conftest), and the Hub client is patched where a push must succeed.
"""

import contextlib
import io
import json
import re
import shutil
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
import yaml
from huggingface_hub import HfApi
from transformers import AutoModel, AutoTokenizer

from hf_awd.sharing import HubUnreachableError, push_checkpoint, stage_for_upload
from hf_awd.sharing import push as push_module
from hf_awd.sharing.model_card import TEMPLATE_PATH

from .conftest import REPO_ROOT, run_without_hf_awd
from .test_train_script import TINY, load_train_script

EXPECTED_FILES = {
    "README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
    "tokenizer_config.json", "configuration_sequence_vae.py", "modeling_sequence_vae.py", "adversary.py",
    "generation_sequence_vae.py", "double_lstm.py",
}
SENTENCE = "a small dog ran in the park ."


def load_script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quietly(function, *args):
    """Call `function`, returning what it printed (stdout + stderr)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        function(*args)
    return output.getvalue()


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """A tiny `scripts/train.py --push_to_hub` run with the Hub offline: its output_dir and what it printed."""
    output_dir = tmp_path_factory.mktemp("run")
    printed = run_quietly(load_train_script().main, [
        *TINY, "--output_dir", str(output_dir), "--max_steps", "6", "--max_train_samples", "200",
        "--push_to_hub", "--hub_model_id", "me/test",
    ])
    return output_dir, printed


@pytest.fixture(scope="module")
def evaluation_json(offline_run, tmp_path_factory):
    """scripts/evaluate.py figures (with importance sampling) of the run, written outside its folder."""
    path = tmp_path_factory.mktemp("evaluation") / "evaluation_test.json"
    run_quietly(load_script("evaluate").main, [str(offline_run[0]), "--max_samples", "20", "--iw_samples", "3",
                                               "--num_reconstructions", "10", "--num_prior_samples", "20",
                                               "--output_file", str(path)])
    return path


def front_matter(card_path: Path) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", card_path.read_text(), re.DOTALL)
    assert match, "README.md has no YAML front matter"
    return yaml.safe_load(match.group(1))


def test_offline_train_with_push_to_hub_warns_and_stages_the_final_model(offline_run):
    output_dir, printed = offline_run
    staged = output_dir / "hub_upload"
    assert "pushing is impossible" in printed and "offline mode is on (HF_HUB_OFFLINE=1)" in printed
    assert f"hf upload me/test {staged.resolve()}" in printed
    assert {path.name for path in staged.iterdir()} == EXPECTED_FILES
    index = front_matter(staged / "README.md")["model-index"][0]
    assert index["name"] == "test"
    # The test figures that training measured on the final weights, not validation's; rounded as the card shows them.
    result = index["results"][0]
    test_figures = json.loads((output_dir / "test_results.json").read_text())
    assert result["dataset"]["split"] == "test"
    reported = {metric["type"]: metric["value"] for metric in result["metrics"]}
    assert reported["neg_elbo"] == round(test_figures["test_neg_elbo"], 2) != test_figures["test_neg_elbo"]
    assert reported["kl"] == round(test_figures["test_kl"], 2)
    card = (staged / "README.md").read_text()
    assert "**test split** of WordNet 3.0 glosses (hf_awd) (scripts/train.py, final weights)" in card
    assert f"| −ELBO | {test_figures['test_neg_elbo']:.2f} |" in card
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in card and "arxiv.org/abs/2209.12590" in card
    assert json.loads((output_dir / "run_arguments.json").read_text())["training"]["hub_token"] == "<HUB_TOKEN>"


def test_staged_folder_has_exactly_the_upload_files_and_the_evaluation_as_model_index(offline_run, evaluation_json,
                                                                                      tmp_path):
    staged = stage_for_upload(offline_run[0] / "checkpoint-6", tmp_path / "staged", evaluation_json,
                              repo_id="me/awd-test")
    assert {path.name for path in staged.iterdir()} == EXPECTED_FILES  # no pickles, online weights or checkpoints
    assert json.loads((staged / "config.json").read_text())["auto_map"]["AutoModel"] == (
        "modeling_sequence_vae.SequenceVAE")
    metadata = front_matter(staged / "README.md")
    assert metadata["license"] == "apache-2.0" and "sequence-vae" in metadata["tags"]
    result = metadata["model-index"][0]["results"][0]
    assert result["dataset"]["split"] == "test"
    figures = json.loads(evaluation_json.read_text())
    assert figures["num_reconstructions"] == 10 and 0 <= figures["reconstruction_bleu"] <= 100
    assert figures["num_prior_samples"] == 20 and 0 <= figures["repeated_trigram_rate"] <= 1
    reported = {metric["type"]: metric["value"] for metric in result["metrics"]}
    expected = {"nll": "nll", "ppl": "perplexity", "neg_elbo": "neg_elbo", "kl": "kl",
                "mutual_information": "mutual_information", "active_units": "active_units"}
    for key, metric_type in expected.items():
        assert reported[metric_type] == round(figures[key], 2), key
    card = (staged / "README.md").read_text()
    assert 'AutoModel.from_pretrained("me/awd-test", trust_remote_code=True)' in card
    assert "| `learning_rate` | 0.001 |" in card  # from the run's run_arguments.json, not training_args.bin


def test_restaging_replaces_a_previous_staging_but_never_other_files(offline_run, tmp_path):
    staged = stage_for_upload(offline_run[0], tmp_path / "staged")
    stage_for_upload(offline_run[0], staged)
    assert {path.name for path in staged.iterdir()} == EXPECTED_FILES
    with pytest.raises(ValueError, match="not empty and not a previous staging"):
        stage_for_upload(offline_run[0], offline_run[0] / "checkpoint-3")


def test_staged_folder_loads_and_runs_the_card_snippet_where_hf_awd_is_not_importable(offline_run, tmp_path):
    staged = stage_for_upload(offline_run[0], tmp_path / "staged", repo_id="me/awd-test")
    model = AutoModel.from_pretrained(staged).eval()
    tokenizer = AutoTokenizer.from_pretrained(staged)
    z = torch.randn(2, model.config.latent_size, generator=torch.Generator().manual_seed(0))
    expected = {"mean": model.encode_texts(SENTENCE, tokenizer).mean.tolist(),
                "greedy": model.generate(z=z, do_sample=False).tolist()}
    # The card's snippet for users without hf_awd, pointed at the folder instead of the Hub repository.
    snippet = re.findall(r"```python\n(.*?)```", (staged / "README.md").read_text(), re.DOTALL)[1]
    snippet = snippet.replace('"me/awd-test"', repr(str(staged)))
    script = f"""
import importlib.util, json, torch
from transformers import AutoModel, AutoTokenizer
model = AutoModel.from_pretrained({str(staged)!r}, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained({str(staged)!r}, trust_remote_code=True)  # it reads config.json
z = torch.tensor({z.tolist()})
result = {{"mean": model.encode_texts({SENTENCE!r}, tokenizer).mean.tolist(),
          "greedy": model.generate(z=z, do_sample=False).tolist()}}
{snippet}
print(json.dumps(result))
"""
    result = run_without_hf_awd(script, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Do you wish to run the custom code" not in result.stdout + result.stderr  # a user would be prompted
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert torch.allclose(torch.tensor(loaded["mean"]), torch.tensor(expected["mean"]))
    assert loaded["greedy"] == expected["greedy"]


def test_card_snippet_with_hf_awd_runs(offline_run, tmp_path, capsys):
    """The card's first snippet (hf_awd installed), pointed at the staged folder, runs offline as written."""
    staged = stage_for_upload(offline_run[0], tmp_path / "staged", repo_id="me/awd-test")
    snippet = re.findall(r"```python\n(.*?)```", (staged / "README.md").read_text(), re.DOTALL)[0]
    exec(snippet.replace('"me/awd-test"', repr(str(staged))), {})
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("['") and "<" not in printed  # one reconstruction, without special tokens


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """HfApi.create_repo / upload_folder recorded, uploads copied to a local fake repository; the Hub 'online'."""
    calls, repos = [], tmp_path / "fake_hub"

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        calls.append(("upload_folder", repo_id, {"folder_path": folder_path, **kwargs}))
        shutil.copytree(folder_path, repos / repo_id, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*kwargs.get("ignore_patterns") or []))
        return SimpleNamespace(repo_url=f"https://huggingface.co/{repo_id}")

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(push_module, "hub_unreachable_reason", lambda: None)
    return SimpleNamespace(calls=calls, repos=repos)


def test_push_creates_the_repository_and_uploads_the_staged_folder(offline_run, fake_hub, tmp_path):
    push_checkpoint(offline_run[0], "me/awd-test", private=True, staging_dir=tmp_path / "staged")
    (create, repo_id, create_kwargs), (upload, upload_repo, upload_kwargs) = fake_hub.calls
    assert (create, repo_id, upload, upload_repo) == ("create_repo", "me/awd-test", "upload_folder", "me/awd-test")
    assert create_kwargs["private"] is True and create_kwargs["exist_ok"] is True
    assert Path(upload_kwargs["folder_path"]) == tmp_path / "staged"
    uploaded = fake_hub.repos / "me" / "awd-test"
    assert {path.name for path in uploaded.iterdir()} == EXPECTED_FILES
    original, reloaded = AutoModel.from_pretrained(offline_run[0]), AutoModel.from_pretrained(uploaded)
    for (name, weight), (_, other) in zip(original.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(weight, other), name


@pytest.mark.parametrize("offline_mode", [True, False])
def test_unreachable_hub_is_a_quick_clear_error_with_the_staged_folder(offline_run, monkeypatch, tmp_path,
                                                                       offline_mode):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline_mode)
    monkeypatch.setattr(push_module, "hub_reachable", lambda: False)  # offline_mode=False: a failed connection
    monkeypatch.setattr(HfApi, "create_repo", lambda *args, **kwargs: pytest.fail("must not call the Hub"))
    start = time.monotonic()
    with pytest.raises(HubUnreachableError, match="cannot push to me/awd-test") as error:
        push_checkpoint(offline_run[0], "me/awd-test", staging_dir=tmp_path / "staged")
    assert time.monotonic() - start < 5
    staged = (tmp_path / "staged").resolve()
    assert f"hf upload me/awd-test {staged}" in str(error.value) and error.value.staged_folder == tmp_path / "staged"
    assert ("HF_HUB_OFFLINE=1" in str(error.value)) == offline_mode
    assert {path.name for path in staged.iterdir()} == EXPECTED_FILES


def test_push_script_errors_are_one_line(offline_run, tmp_path):
    script = load_script("push_to_hub")
    with pytest.raises(SystemExit, match=r"^error: no checkpoint folder at .*nope'$"):
        script.main([str(tmp_path / "nope"), "me/awd-test"])
    with pytest.raises(SystemExit) as error:
        script.main([str(offline_run[0]), "me/awd-test", "--private", "--staging_dir", str(tmp_path / "staged")])
    message = str(error.value.code)
    assert "\n" not in message and f"hf upload me/awd-test {(tmp_path / 'staged').resolve()} --private" in message


def test_online_train_pushes_with_the_trainer_and_our_model_card(fake_hub, tmp_path):
    run_quietly(load_train_script().main, [
        *TINY, "--output_dir", str(tmp_path / "run"), "--max_steps", "3", "--max_train_samples", "100",
        "--push_to_hub", "--hub_model_id", "me/online", "--hub_strategy", "end",
    ])
    assert [call[:2] for call in fake_hub.calls] == [("create_repo", "me/online"), ("upload_folder", "me/online")]
    card = (fake_hub.repos / "me" / "online" / "README.md").read_text()
    assert "adversarial word dropout (AWD)" in card and "fine-tuned version of" not in card
    assert front_matter(fake_hub.repos / "me" / "online" / "README.md")["model-index"][0]["name"] == "online"
    assert not (tmp_path / "run" / "hub_upload").exists()


def test_wheels_carry_the_model_card_template_of_model_cards_folder():
    """Cards must render from an installed (non-editable) package too: the template ships as package data."""
    source = REPO_ROOT / "model_cards" / "README_TEMPLATE.md"
    assert TEMPLATE_PATH.read_text() == source.read_text()
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert TEMPLATE_PATH.name in package_data["hf_awd.sharing"]
