"""scripts/benchmark.py: the results table (the runs themselves take minutes each and are not part of the suite)."""

import importlib.util

from .conftest import REPO_ROOT


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO_ROOT / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markdown_table_reports_mean_and_std_beside_the_paper():
    benchmark = load_benchmark()
    run = {"test_nll": 100.0, "test_ppl": 120.0, "test_neg_elbo": 101.0, "test_kl": 5.0,
           "test_mutual_information": 4.0, "test_active_units": 30}
    results = {"adversarial": [run, {**run, "test_kl": 7.0}]}
    table = benchmark.markdown_table(results, "python scripts/benchmark.py")
    row = next(line for line in table.splitlines() if line.startswith("| adversarial"))
    assert "6.00 ± 1.41" in row  # KL mean and sample std over the two seeds
    assert row.endswith("99.7 / 5.1 / 4.3 |")
    assert table.startswith("Command: `python scripts/benchmark.py`")


def test_speed_batches_are_identical_for_every_method():
    benchmark = load_benchmark()
    first, second = benchmark.speed_batches(100, 3), benchmark.speed_batches(100, 3)
    assert all((a["input_ids"] == b["input_ids"]).all() for a, b in zip(first, second))
    assert first[0]["input_ids"].shape == (32, 23) and (first[0]["input_ids"][:, 0] == 2).all()
