"""Apply realistic one-line bugs to a temporary copy of the package, one at a time, and run the tests that should
catch each (tests/MUTANTS.md, "Bugs applied by hand"). Not collected by pytest (no test_ prefix).

    python tests/hand_applied_bugs.py                # every bug; a Markdown table on stdout
    python tests/hand_applied_bugs.py polyak-decay   # only the bugs named
    python tests/hand_applied_bugs.py --jobs 2       # two at a time

Each bug is (name, file, old, new, tests): `old` must occur exactly once in the file. The repository itself is never
written to: the copy lives in a temporary directory and is put first on PYTHONPATH. Exit status 1 if any bug passes
its tests (or if `old` no longer matches the source).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPIED = ["hf_awd", "tests", "scripts", "configs", "benchmarks", "pyproject.toml"]

MODEL = "hf_awd/model/modeling_sequence_vae.py"
ADVERSARY = "hf_awd/model/adversary.py"
POLYAK = "hf_awd/training/polyak.py"
TRAINER = "hf_awd/training/trainer.py"
OPTIMIZATION = "hf_awd/training/optimization.py"
OBJECTIVE = "hf_awd/training/objective.py"
METRICS = "hf_awd/evaluation/metrics.py"
EVALUATE = "hf_awd/evaluation/evaluate.py"
GENERATION = "hf_awd/model/generation_sequence_vae.py"

# The tests each bug is run against: whole files where they are quick; in the slow files (trainer runs, scripts), the
# tests on the topic. Every other test of the suite is skipped here for time (2 busy cores).
OBJECTIVE_TESTS = [
    "tests/test_objective.py::test_model_loss_is_the_papers_plain_objective_by_hand",
    "tests/test_objective.py::test_kl_schedule_is_the_authors_linear_increase",
    "tests/test_objective.py::test_trainer_loss_applies_the_kl_weight_free_bits_and_lambda_by_hand",
    "tests/test_objective.py::test_each_player_has_its_own_optimizer_learning_rate_and_decay",
    "tests/test_objective.py::test_sgd_step_is_plain_gradient_descent_and_adam_steps_the_adversary",
    "tests/test_objective.py::test_two_player_optimizer_state_round_trips_through_a_checkpoint",
    "tests/test_collapse_remedies.py::test_free_bits_clamp_each_dimension_of_the_batch_mean_kl",
    "tests/test_collapse_remedies.py::test_free_bits_change_the_training_loss_not_the_model_loss",
    "tests/test_collapse_remedies.py::test_beta_scales_the_schedule_and_pretraining_holds_the_weight_at_zero",
]
EVALUATION_TESTS = [
    "tests/test_evaluation.py::test_token_counting_and_iw_nll_decreases_with_k_below_neg_elbo",
    "tests/test_evaluation.py::test_iw_nll_is_exact_when_posterior_is_the_prior_and_decoder_ignores_z",
    "tests/test_evaluation.py::test_evaluation_figures_of_a_posterior_far_from_the_prior_match_closed_forms",
    "tests/test_evaluation.py::test_evaluation_mutual_information_matches_an_independent_estimate",
    "tests/test_evaluation.py::test_evaluation_is_seeded_whatever_the_global_random_state",
]
GENERATION_TESTS = [
    "tests/test_generation.py::test_generation_config_has_special_tokens_and_sentence_length",
    "tests/test_generation.py::test_greedy_is_deterministic_stops_at_eos_and_matches_step_by_step_decoding",
    "tests/test_generation.py::test_explore_decodes_posterior_samples",
    "tests/test_generation.py::test_explore_samples_codes_with_the_posterior_spread",
]

# The 21 bugs that issue 17 names (of the 25 its audit applied to the suite at c921d54), four more of the
# same kind (λ, the regulariser, the adversary's ½, free bits), then variants.
BUGS = [
    ("mask-drops-largest", "hard mask drops the largest scores", ADVERSARY,
     "hard = smallest_k_mask(scores.detach(), k, eligible)", "hard = smallest_k_mask(-scores.detach(), k, eligible)",
     ["tests/test_model.py"]),
    ("relaxation-plus-scores", "straight-through relaxation on +scores (the adversary helps)", ADVERSARY,
     "soft = capped_simplex_projection(-scores, k, eligible)", "soft = capped_simplex_projection(scores, k, eligible)",
     ["tests/test_model.py"]),
    ("reversal-not-negated", "gradient reversal not negated", ADVERSARY,
     "return -grad_output", "return grad_output", ["tests/test_model.py"]),
    ("k-plus-one", "K + 1 words dropped", ADVERSARY,
     "return torch.floor(num_eligible.to(torch.float64) * rate + 0.5 + 1e-9).long()",
     "return torch.floor(num_eligible.to(torch.float64) * rate + 1.5 + 1e-9).long()", ["tests/test_model.py"]),
    ("bos-droppable", "`<bos>` droppable", MODEL,
     "        eligible[:, 0] = False\n", "", ["tests/test_model.py"]),
    ("polyak-decay", "Polyak `lerp(..., decay)` instead of `1 - decay`", POLYAK,
     "self.shadow[name].lerp_(param.detach(), 1.0 - decay)", "self.shadow[name].lerp_(param.detach(), decay)",
     ["tests/test_polyak.py"]),
    ("online-not-restored", "online weights not put back after `applied_to`", POLYAK,
     "                        param.copy_(online[name])", "                        pass", ["tests/test_polyak.py"]),
    ("online-saved-as-model", "online weights saved as the model", TRAINER,
     "        with self.polyak.applied_to(self.model) as online:\n            super().save_model(output_dir, _internal_call)",
     "        with self.polyak.applied_to(self.model) as online:\n            pass\n        super().save_model(output_dir, _internal_call)",
     ["tests/test_polyak.py", "tests/test_evaluation.py::test_polyak_average_is_what_checkpoints_hold"]),
    ("resume-ignores-online", "resume ignores `online_model.safetensors`", TRAINER,
     "        model.load_state_dict(load_file(online_path), strict=False)\n", "", ["tests/test_resume.py"]),
    ("resume-resets-polyak-count", "resume resets the Polyak update count", TRAINER,
     'self.polyak.num_updates = int(file.metadata()["polyak_updates"])', "self.polyak.num_updates = 0",
     ["tests/test_resume.py"]),
    ("kl-weight-ignored", "KL weight not applied in the training loss", OBJECTIVE,
     "+ weight * kl_term +", "+ kl_term +", OBJECTIVE_TESTS),
    ("kl-without-half", "KL without its ½ (model)", MODEL,
     "kl_per_dimension = 0.5 * (mean.pow(2)", "kl_per_dimension = (mean.pow(2)",
     OBJECTIVE_TESTS + ["tests/test_model.py"]),
    ("kl-mean-over-dims", "KL averaged over dimensions (training loss)", OBJECTIVE,
     "return kl_per_dimension.mean(dim=0).clamp(min=free_bits).sum()",
     "return kl_per_dimension.mean(dim=0).clamp(min=free_bits).mean()",
     OBJECTIVE_TESTS),
    ("iw-std-exp-logvar", "importance samples with std exp(logvar)", EVALUATE,
     "z = mean.unsqueeze(1) + eps * (0.5 * logvar).exp().unsqueeze(1)",
     "z = mean.unsqueeze(1) + eps * logvar.exp().unsqueeze(1)", EVALUATION_TESTS),
    ("iw-weight-without-log-pz", "IW weight without log p(z)", METRICS,
     "log_w = log_px_given_z + log_pz - log_qz", "log_w = log_px_given_z - log_qz",
     EVALUATION_TESTS + ["tests/test_metrics.py"]),
    ("active-units-fed-logvar", "active units fed `logvar`", EVALUATE,
     'active_units(stats["mean"])', 'active_units(stats["logvar"])', EVALUATION_TESTS),
    ("mi-fed-logvar-mean", "MI fed (logvar, mean)", EVALUATE,
     'stats["mean"].double(), stats["logvar"].double(), generator',
     'stats["logvar"].double(), stats["mean"].double(), generator', EVALUATION_TESTS),
    ("mi-sign", "MI sign", METRICS,
     "return (log_q_own - log_q_aggregate).mean()", "return (log_q_aggregate - log_q_own).mean()",
     EVALUATION_TESTS + ["tests/test_metrics.py"]),
    ("lr-decays-every-step", "LR decays every step instead of every epoch", OPTIMIZATION,
     "decay ** (step // steps_per_epoch)", "decay ** step", OBJECTIVE_TESTS),
    ("explore-std-exp-logvar", "`explore` samples with std exp(logvar)", GENERATION,
     "torch.randn_like(posterior.mean.expand(n, -1)) * (0.5 * posterior.logvar).exp()",
     "torch.randn_like(posterior.mean.expand(n, -1)) * posterior.logvar.exp()", GENERATION_TESTS),
    ("no-stop-at-eos", "no stop at `<eos>`", GENERATION,
     "        if self.generation_config.max_new_tokens is None:",
     "        self.generation_config.eos_token_id = None\n        if self.generation_config.max_new_tokens is None:",
     GENERATION_TESTS),
    ("lambda-ignored", "λ not applied", MODEL,
     "regularizer = self.config.adversary_kl_weight * adversary_output.regularizer",
     "regularizer = adversary_output.regularizer", OBJECTIVE_TESTS + ["tests/test_model.py"]),
    ("regularizer-left-out", "regulariser left out of the training loss", OBJECTIVE,
     " + outputs.adversary_regularizer.mean()", "", OBJECTIVE_TESTS),
    ("adversary-kl-without-half", "adversary KL without ½", ADVERSARY,
     "kl = 0.5 * (score_mean.pow(2)", "kl = (score_mean.pow(2)", OBJECTIVE_TESTS + ["tests/test_model.py"]),
    ("no-free-bits", "free bits not applied", OBJECTIVE,
     "return kl_per_dimension.mean(dim=0).clamp(min=free_bits).sum()", "return kl_per_dimension.mean(dim=0).sum()",
     OBJECTIVE_TESTS),
    # Variants
    ("model-kl-mean-over-dims", "KL averaged over dimensions (model)", MODEL,
     "kl = kl_per_dimension.sum(dim=-1)", "kl = kl_per_dimension.mean(dim=-1)",
     OBJECTIVE_TESTS + ["tests/test_model.py"]),
    ("scores-std-exp-logvar", "scores sampled with std exp(logvar)", ADVERSARY,
     "torch.randn_like(score_mean) * (0.5 * score_logvar).exp()", "torch.randn_like(score_mean) * score_logvar.exp()",
     ["tests/test_model.py"]),
    ("mask-from-mean", "hard mask from μ instead of the sampled scores", ADVERSARY,
     "hard = smallest_k_mask(scores.detach(), k, eligible)", "hard = smallest_k_mask(score_mean.detach(), k, eligible)",
     ["tests/test_model.py"]),
    ("polyak-warmup-max", "Polyak warm-up `max` instead of `min`", POLYAK,
     "decay = min(decay, (1 + self.num_updates) / (10 + self.num_updates))",
     "decay = max(decay, (1 + self.num_updates) / (10 + self.num_updates))", ["tests/test_polyak.py"]),
    ("evaluate-with-copy-to", "trainer evaluates with `copy_to` (average left in the model)", TRAINER,
     "return self.polyak.applied_to(self.model) if self.polyak is not None else contextlib.nullcontext()",
     "self.polyak.copy_to(self.model) if self.polyak is not None else None\n        return contextlib.nullcontext()",
     ["tests/test_polyak.py"]),
    ("save-with-copy-to", "trainer saves with `copy_to` (average left in the model)", TRAINER,
     "        with self.polyak.applied_to(self.model) as online:\n            super().save_model(output_dir, _internal_call)",
     "        online = {n: p.detach().clone() for n, p in self.model.named_parameters() if n in self.polyak.shadow}\n"
     "        self.polyak.copy_to(self.model)\n        super().save_model(output_dir, _internal_call)",
     ["tests/test_polyak.py"]),
    ("optimizer-groups-not-reshared", "`TwoPlayerOptimizer.load_state_dict` does not re-share groups and state",
     OPTIMIZATION, "        super().load_state_dict(state_dict)\n        self._share_groups_and_state()",
     "        super().load_state_dict(state_dict)", ["tests/test_resume.py"] + OBJECTIVE_TESTS),
    ("metrics-kl-without-half", "KL without its ½ (`metrics.gaussian_kl`)", METRICS,
     "return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)",
     "return (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)", EVALUATION_TESTS + ["tests/test_metrics.py"]),
    ("elbo-z-std-exp-logvar", "the evaluation ELBO's z with std exp(logvar)", EVALUATE,
     "z = mean + torch.randn(mean.shape, generator=generator, device=mean.device) * (0.5 * logvar).exp()",
     "z = mean + torch.randn(mean.shape, generator=generator, device=mean.device) * logvar.exp()",
     EVALUATION_TESTS),
    ("mi-fed-mean-mean", "MI fed (mean, mean)", EVALUATE,
     'stats["mean"].double(), stats["logvar"].double(), generator',
     'stats["mean"].double(), stats["mean"].double(), generator', EVALUATION_TESTS),
    ("mi-fed-logvar-zero", "MI fed logvar = 0", EVALUATE,
     'stats["mean"].double(), stats["logvar"].double(), generator',
     'stats["mean"].double(), 0 * stats["logvar"].double(), generator', EVALUATION_TESTS),
    ("explore-shared-std", "`explore` samples with one shared std", GENERATION,
     "torch.randn_like(posterior.mean.expand(n, -1)) * (0.5 * posterior.logvar).exp()",
     "torch.randn_like(posterior.mean.expand(n, -1)) * (0.5 * posterior.logvar.mean()).exp()",
     GENERATION_TESTS),
]


def copy_repository(destination: str) -> None:
    for name in COPIED:
        source = os.path.join(ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(destination, name),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mutants"))
        elif os.path.exists(source):
            shutil.copy2(source, os.path.join(destination, name))


def run_bug(bug, workdir: str) -> tuple[str, list[str], str]:
    """(summary line of pytest, failed test ids, status) with the bug applied in a fresh copy under workdir."""
    name, _, path, old, new, tests = bug
    copy = os.path.join(workdir, name)
    copy_repository(copy)
    full = os.path.join(copy, path)
    with open(full) as file:
        source = file.read()
    if source.count(old) != 1:
        return f"`old` occurs {source.count(old)} times in {path}", [], "STALE"
    with open(full, "w") as file:
        file.write(source.replace(old, new))
    env = {**os.environ, "PYTHONPATH": copy, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                             *tests], cwd=copy, env=env, capture_output=True, text=True)
    shutil.rmtree(copy, ignore_errors=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.M)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    return summary, failed, "killed" if result.returncode != 0 and failed else "NOT KILLED"


def main(arguments: list[str]) -> int:
    jobs = 1
    if arguments[:1] == ["--jobs"]:
        jobs, arguments = int(arguments[1]), arguments[2:]
    bugs = [bug for bug in BUGS if not arguments or bug[0] in arguments]
    print("| bug | change | tests run | result | failing tests |\n|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="hand-bugs-") as workdir, ThreadPoolExecutor(jobs) as pool:
        def run(bug):
            start = time.time()
            summary, failed, status = run_bug(bug, workdir)
            tests = ", ".join(f"`{t.removeprefix('tests/')}`" for t in bug[5])
            failing = "<br>".join(f"`{t.removeprefix('tests/')}`" for t in failed)
            print(f"| {bug[0]} | {bug[1]} | {tests} | {status} ({summary}; {time.time() - start:.0f} s) | {failing} |",
                  flush=True)
            return status
        statuses = list(pool.map(run, bugs))
    return 1 if any(status != "killed" for status in statuses) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
