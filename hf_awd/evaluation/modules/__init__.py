"""hf_awd's text metrics as `evaluate` modules, loaded from the installed package (no Hub): each file here is an
`evaluate.Metric` over the functions of `hf_awd.evaluation` (one implementation, two ways in).

    from hf_awd.evaluation import load_metric
    load_metric("sentence_reconstruction").compute(predictions=["a dog ran."], references=["A small dog ran."])

The model-based figures (IW-NLL, -ELBO, KL, MI, active units) need the model itself, not predictions and
references, so they stay in `evaluate_sequence_vae` / scripts/evaluate.py.
"""

from pathlib import Path

from ...utils import require

MODULES_DIR = Path(__file__).resolve().parent
METRIC_NAMES = tuple(sorted(path.stem for path in MODULES_DIR.glob("*.py") if path.stem != "__init__"))


def load_metric(name: str, **kwargs):
    """`evaluate.load` of one of `METRIC_NAMES` from this folder (works offline); kwargs go to `evaluate.load`."""
    if name not in METRIC_NAMES:
        raise ValueError(f"no hf_awd metric {name!r}; choose one of {METRIC_NAMES}")
    return require("evaluate", "eval").load(str(MODULES_DIR / f"{name}.py"), **kwargs)
