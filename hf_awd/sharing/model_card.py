"""Model cards for trained sequence VAEs, rendered from `model_cards/README_TEMPLATE.md`.

Everything on the card is read from what a run leaves on disk, never from the pickled `training_args.bin`:
config.json (sizes and method options), trainer_state.json (steps, training log), run_arguments.json (the model,
data and training arguments of `scripts/train.py`, as JSON), the test figures of training (test_results.json) and
the `evaluation_<split>.json` files of `scripts/evaluate.py`; the figures shown also go into the Hub's `model-index`
metadata.
"""

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from safetensors import safe_open

# A link to model_cards/README_TEMPLATE.md that setuptools copies into wheels as a file, so installed packages
# render cards too.
TEMPLATE_PATH = Path(__file__).parent / "README_TEMPLATE.md"
WORDNET_LICENSE_PATH = Path(__file__).resolve().parents[1] / "data" / "wordnet" / "LICENSE"
RUN_ARGUMENTS_NAME = "run_arguments.json"
TAGS = ["sequence-vae", "vae", "text-generation", "custom_code"]

METRICS = (  # (key in evaluate.py's JSON, model-index metric type, label)
    ("nll", "nll", "NLL (importance-weighted)"),
    ("ppl", "perplexity", "PPL (importance-weighted)"),
    ("neg_elbo", "neg_elbo", "−ELBO"),
    ("kl", "kl", "KL(q(z|x) ‖ p(z))"),
    ("mutual_information", "mutual_information", "mutual information I(x; z)"),
    ("active_units", "active_units", "active units"),
    ("ppl_elbo", "perplexity_bound", "PPL bound from −ELBO"),
)
CONFIG_LABELS = (
    ("vocab_size", ""), ("embedding_size", ""), ("encoder_hidden_size", ""), ("decoder_hidden_size", ""),
    ("latent_size", ""), ("decoder_type", ""), ("decoder_dropout", ""), ("word_dropout", "dropout mode"),
    ("word_dropout_rate", "R"), ("adversary_hidden_size", ""), ("adversary_kl_weight", "λ"), ("initialization", ""),
)
DECODER_DESCRIPTIONS = {
    "double_lstm": "Double-LSTM (paper, Appendix A)",
    "lstm": "single-LSTM",
    "transformer": "causal Transformer (z as a prefix position and added to every input embedding)",
}
TRAINING_KEYS = (
    "optim", "learning_rate", "adversary_learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs", "max_steps",
    "kl_annealing", "kl_start_weight", "kl_annealing_steps", "kl_cycles", "beta", "free_bits",
    "autoencoder_pretraining_steps", "polyak_decay", "polyak_warmup", "lr_decay", "max_grad_norm",
    "early_stopping_patience", "seed",
)
WORDNET_DESCRIPTION = (
    "The corpus embedded in `hf_awd`: lowercased, tokenised English sentences from the glosses and example "
    "sentences of WordNet 3.0 (161,609 training / 8,978 validation / 8,978 test sentences of 2 to 40 words)."
)
HUB_DATASET_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


@dataclass
class TrainingData:
    """What the model was trained on, for the card's text, its metadata and the licence section."""

    name: str
    description: str
    slug: str  # dataset "type" in model-index: the Hub id when there is one
    hub_id: str | None = None
    licence: str = "other"  # "wordnet", "ptb" or "other": which licence text the card shows


def build_model_card(checkpoint_dir, evaluation_json=None, dataset_name=None, repo_id=None,
                     trainer_state=None) -> ModelCard:
    """The model card of a checkpoint folder (config.json and model.safetensors, as saved by the Trainer).

    Args:
        evaluation_json: a JSON written by `scripts/evaluate.py`. Default: the folder's test figures (of
            `scripts/evaluate.py`, else of training), else its validation figures (`load_evaluations`).
        dataset_name: the training data (a Hub dataset id or a name), when run_arguments.json does not say.
        repo_id: the Hub repository, for the usage snippets and the card's title.
        trainer_state: the Trainer's state as a dict. Default: the folder's trainer_state.json.
    """
    checkpoint_dir = Path(checkpoint_dir)
    config = _read_json(checkpoint_dir / "config.json")
    run_arguments = load_run_arguments(checkpoint_dir)
    state = trainer_state if trainer_state is not None else _read_json(checkpoint_dir / "trainer_state.json")
    data = describe_training_data(run_arguments.get("data"), dataset_name)
    evaluations = load_evaluations(checkpoint_dir, evaluation_json, state)
    model_name = repo_id.split("/")[-1] if repo_id else checkpoint_dir.resolve().name
    card_data = ModelCardData(
        model_name=model_name,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=TAGS + ([config["word_dropout"] + "-word-dropout"] if config["word_dropout"] != "none" else []),
        datasets=[data.hub_id] if data.hub_id else None,
        language=["en"] if data.licence in ("wordnet", "ptb") else None,
        eval_results=[result for evaluation in evaluations for result in eval_results(evaluation, data)] or None,
    )
    context = card_context(checkpoint_dir, config, run_arguments, state, data, evaluations)
    return ModelCard.from_template(card_data, template_path=str(TEMPLATE_PATH), model_name=model_name,
                                   model_id=repo_id or "PATH_OR_REPO_ID", **context)


def save_run_arguments(output_dir, model_args, data_args, training_args) -> None:
    """Write the arguments of a training run as JSON (tokens redacted by `TrainingArguments.to_dict`), for the card.
    Only the main process writes."""
    if not training_args.should_save:
        return
    arguments = {"model": dataclasses.asdict(model_args), "data": dataclasses.asdict(data_args),
                 "training": training_args.to_dict()}
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / RUN_ARGUMENTS_NAME).write_text(json.dumps(arguments, indent=2, default=str))


# ---- reading what the run recorded ----

def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def load_run_arguments(checkpoint_dir: Path) -> dict:
    """run_arguments.json of the folder, or of its output_dir for a checkpoint-N folder."""
    folders = [checkpoint_dir]
    if checkpoint_dir.resolve().name.startswith("checkpoint-"):
        folders.append(checkpoint_dir.resolve().parent)
    for folder in folders:
        arguments = _read_json(folder / RUN_ARGUMENTS_NAME)
        if arguments is not None:
            return arguments
    return {}


def load_evaluations(checkpoint_dir: Path, evaluation_json, trainer_state: dict | None) -> list[dict]:
    """The figures the card shows: the given JSON of `scripts/evaluate.py`; else the test split's when there are any
    (`scripts/evaluate.py`'s, else the test evaluation at the end of training), else the validation split's
    (`scripts/evaluate.py`'s, else the training log's at the saved weights' step)."""
    if evaluation_json:
        return [_scripted_evaluation(Path(evaluation_json))]
    scripted = [_scripted_evaluation(path) for path in sorted(checkpoint_dir.glob("evaluation_*.json"))]
    candidates = [evaluation for evaluation in (*scripted, training_test_evaluation(checkpoint_dir),
                                                training_log_evaluation(trainer_state)) if evaluation]
    for split in ("test", "validation"):
        chosen = [evaluation for evaluation in candidates if evaluation.get("split") == split]
        if chosen:
            return chosen[:1]
    return scripted


def _scripted_evaluation(path: Path) -> dict:
    return {**json.loads(path.read_text()), "source": "scripts/evaluate.py"}


def training_test_evaluation(checkpoint_dir: Path) -> dict | None:
    """The test figures that `scripts/train.py` measured on the final weights (test_results.json), if any."""
    results = _read_json(checkpoint_dir / "test_results.json")
    if not results:
        return None
    figures = {key.removeprefix("test_"): value for key, value in results.items() if key.startswith("test_")}
    return {**figures, "split": "test", "source": "scripts/train.py, final weights"}


def training_log_evaluation(trainer_state: dict | None) -> dict | None:
    """The validation figures logged at the best step (the saved weights), or at the last evaluation."""
    entries = [entry for entry in (trainer_state or {}).get("log_history", []) if "eval_neg_elbo" in entry]
    if not entries:
        return None
    best = [entry for entry in entries if entry["step"] == trainer_state.get("best_global_step")]
    entry = (best or entries)[-1]
    figures = {key.removeprefix("eval_"): value for key, value in entry.items() if key.startswith("eval_")}
    return {**figures, "split": "validation", "source": f"training log, step {entry['step']}"}


def describe_training_data(data_args: dict | None, dataset_name: str | None) -> TrainingData:
    """Name, description and licence of the training data, from `scripts/train.py`'s data arguments."""
    data_args = data_args or {}
    subset = f" The first {data_args['max_train_samples']} training sentences were used." \
        if data_args.get("max_train_samples") else ""
    name = dataset_name or data_args.get("dataset_name")
    if data_args.get("train_file") and not dataset_name:
        files = {split: data_args.get(f"{split}_file") for split in ("train", "validation", "test")}
        shown = ", ".join(f"{split} `{_short_path(path)}`" for split, path in files.items() if path)
        ptb = "ptb" in str(files["train"]).lower()
        return TrainingData(name="PTB" if ptb else "local text files", slug="ptb" if ptb else "local-text-files",
                            description=f"Local text files, one sentence per line: {shown}.{subset}",
                            licence="ptb" if ptb else "other")
    if name:
        hub_id = name if HUB_DATASET_ID.match(name) else None
        shown = f"[{name}](https://huggingface.co/datasets/{name})" if hub_id else name
        return TrainingData(name=name, slug=hub_id or name, hub_id=hub_id, description=f"{shown}.{subset}",
                            licence="ptb" if "ptb" in name.lower() else "other")
    if data_args:  # scripts/train.py without data options: the embedded corpus
        return TrainingData(name="WordNet 3.0 glosses (hf_awd)", slug="wordnet-3.0-glosses",
                            description=WORDNET_DESCRIPTION + subset, licence="wordnet")
    return TrainingData(name="unrecorded data", slug="unknown", description="Not recorded with this checkpoint.")


def _short_path(path: str) -> str:
    """Last two path components: enough to recognise the data, without the local directory layout."""
    return "/".join(Path(path).parts[-2:])


# ---- what the card shows ----

def eval_results(evaluation: dict, data: TrainingData) -> list[EvalResult]:
    """model-index entries of one evaluation, rounded as the card shows them; non-finite values (which the Hub
    rejects) are left out."""
    return [
        EvalResult(task_type="text-generation", task_name="Sentence modelling", dataset_type=data.slug,
                   dataset_name=data.name, dataset_split=evaluation.get("split"), metric_type=metric_type,
                   metric_name=label, metric_value=_rounded(evaluation[key]))
        for key, metric_type, label in METRICS
        if key in evaluation and math.isfinite(evaluation[key])
    ]


def card_context(checkpoint_dir: Path, config: dict, run_arguments: dict, state: dict | None, data: TrainingData,
                 evaluations: list[dict]) -> dict:
    """The template's variables besides the metadata."""
    total, adversary = count_parameters(checkpoint_dir / "model.safetensors")
    training = run_arguments.get("training", {})
    return {
        "config": config,
        "config_rows": [(f"`{key}`" + (f" ({alias})" if alias else ""), config[key]) for key, alias in CONFIG_LABELS
                        if key in config],  # checkpoints written before an option existed lack it
        "method": {"adversarial": "adversarial word dropout (AWD)", "uniform": "uniform word dropout",
                   "none": "no word dropout"}[config["word_dropout"]],
        "decoder_description": DECODER_DESCRIPTIONS[config["decoder_type"]],
        "dropout_description": dropout_description(config),
        "num_parameters": _human_count(total),
        "adversary_parameters": _human_count(adversary) if adversary else None,
        "training_data": data,
        "training_rows": training_rows(training, state),
        "steps_trained": steps_trained(state),
        "trained_on_cpu": bool(training.get("use_cpu")),
        "polyak_decay": training.get("polyak_decay"),
        "evaluations": [evaluation_table(evaluation) for evaluation in evaluations],
        "collapsed": any(evaluation.get("active_units") == 0 for evaluation in evaluations),
        "vocabulary_description": vocabulary_description(checkpoint_dir, config),
        "wordnet_license": WORDNET_LICENSE_PATH.read_text().strip(),
    }


def count_parameters(weights_path: Path) -> tuple[int, int]:
    """(all parameters, adversary parameters) from the safetensors header, without loading the model."""
    total = adversary = 0
    with safe_open(weights_path, framework="pt") as weights:
        for name in weights.keys():
            size = math.prod(weights.get_slice(name).get_shape())
            total += size
            adversary += size if name.startswith("adversary.") else 0
    return total, adversary


def _human_count(count: int) -> str:
    return f"{count / 1e6:.2f}M" if count >= 1e6 else f"{count / 1e3:.1f}K"


def dropout_description(config: dict) -> str:
    rate = config["word_dropout_rate"]
    if config["word_dropout"] == "adversarial":
        return (f"an adversary (its own LSTM over the sentence) picks which K = round(R·T) of the T decoder inputs "
                f"to drop (R = {rate}), trained to make reconstruction hard, with regulariser weight "
                f"λ = {config['adversary_kl_weight']}.")
    if config["word_dropout"] == "uniform":
        return f"each decoder input is dropped with probability R = {rate} (Bowman et al., 2016; the paper's baseline)."
    return "no decoder input is dropped (the paper's unregularised baseline)."


def training_rows(training: dict, state: dict | None) -> list[tuple[str, object]]:
    """The method's training arguments (when recorded) and what the Trainer's state says about the run."""
    rows = [(f"`{key}`", training[key]) for key in TRAINING_KEYS if training.get(key) is not None]
    if state:
        rows += [("steps trained", state["global_step"]), ("epochs", round(state["epoch"] or 0, 2)),
                 ("batch size per device", state.get("train_batch_size"))]
        if state.get("best_metric") is not None:
            rows.append(("best validation −ELBO (saved weights)", round(state["best_metric"], 2)))
    return rows


def steps_trained(state: dict | None) -> str:
    if not state:
        return "an unrecorded number of steps"
    return f"{state['global_step']} optimisation steps ({round(state['epoch'] or 0, 2)} epochs)"


def evaluation_table(evaluation: dict) -> dict:
    """One evaluation as the template shows it: split, where the figures come from, and formatted rows."""
    rows = [(label, _format(evaluation[key])) for key, _, label in METRICS if key in evaluation]
    rows += [(label, evaluation[key]) for key, label in (("num_sentences", "sentences"),
                                                          ("num_tokens", "predicted tokens")) if key in evaluation]
    source = evaluation["source"]
    if evaluation.get("iw_samples"):
        source += f", {evaluation['iw_samples']} importance samples"
    return {"split": evaluation.get("split", "evaluation"), "source": source, "rows": rows}


def _format(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _rounded(value):
    return round(value, 2) if isinstance(value, float) else value


def vocabulary_description(checkpoint_dir: Path, config: dict) -> str:
    tokenizer = _read_json(checkpoint_dir / "tokenizer.json") or {}
    if tokenizer.get("model", {}).get("type") != "WordLevel":
        return f"{config['vocab_size']} token types; text outside the tokenizer's vocabulary is not modelled well."
    if (tokenizer.get("pre_tokenizer") or {}).get("type") == "Sequence":  # hf_awd.data.tokenizer.word_pre_tokenizer
        return (f"{config['vocab_size']} word types, special tokens included. The tokenizer normalises raw text "
                "(NFKC, lowercase) and splits it into words and punctuation as the Penn Treebank does (\"can't\" -> "
                "\"ca n't\", \"park.\" -> \"park .\"); any word outside the vocabulary becomes `<unk>`, which "
                "generation never outputs by default (`suppress_tokens` in generation_config.json).")
    return (f"{config['vocab_size']} word types, special tokens included; text is lowercased and split on "
            "whitespace only, so input must be tokenised like the training data (punctuation separated by "
            "spaces), and any other word becomes `<unk>`.")
