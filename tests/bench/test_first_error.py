"""bench/first_error.py: the quality report's loading, its metrics, and a run through the
real service with the symbolic oracle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.first_error import (
    ERRONEOUS,
    ERROR_FREE,
    BenchItem,
    Verdict,
    compute_metrics,
    load_items,
)

ROOT = Path(__file__).resolve().parents[2]


def _item(name: str, truth: int, cls: str = "calc") -> BenchItem:
    return BenchItem(name, cls, ERRONEOUS if truth else ERROR_FREE, "p", "r", ("s",), truth)


def test_metrics_count_wrong_claims_and_abstentions_against_the_oracle() -> None:
    items = [_item("right", 2), _item("wrong step", 3), _item("abstained", 4),
             _item("accused", 0, "other"), _item("cleared", 0), _item("unsure", 0),
             _item("failed", 5, "other")]
    verdicts = [Verdict("FOUND_ERROR", 2), Verdict("FOUND_ERROR", 1), Verdict("ABSTAINED"),
                Verdict("FOUND_ERROR", 1), Verdict("NO_ERROR"), Verdict("ABSTAINED"),
                Verdict("FAILED")]
    total, per = compute_metrics(items, verdicts)
    assert (total.n, total.n_erroneous, total.n_error_free) == (7, 4, 3)
    assert (total.claims, total.claims_correct, total.abstained, total.failed) == (3, 1, 2, 1)
    f = total.figures
    assert f["precision"] == pytest.approx(1 / 3)  # the claim on an error-free rollout counts
    assert f["recall"] == f["accuracy_erroneous"] == pytest.approx(1 / 4)
    assert f["accuracy_error_free"] == pytest.approx(1 / 3)  # an abstention is wrong here too
    assert f["abstention_rate"] == pytest.approx(2 / 7)
    assert f["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert sorted(per) == ["calc", "other"]
    assert (per["other"].claims, per["other"].claims_correct, per["other"].failed) == (1, 0, 1)
    assert per["calc"].figures["precision"] == pytest.approx(1 / 2)


def _row(idx: str, cls: str, original: list[str], modified: list[str],
         errors: list[int]) -> str:
    return json.dumps({"idx": idx, "classification": cls, "modified_question": "Compute.",
                       "original_process": original, "modified_process": modified,
                       "error_steps": errors})


def _write_data(path: Path) -> None:
    original = ["We need 12 times 13.", "$12 \\times 13 = 156$.", "So the answer is \\boxed{156}."]
    modified = ["We need 12 times 13.", "$12 \\times 13 = 146$.", "So the answer is \\boxed{146}."]
    fine = ["We need 7 times 8.", "$7 \\times 8 = 56$.", "So the answer is \\boxed{56}."]
    path.write_text("\n".join([_row("a", "counterfactual", original, modified, [2, 3]), "",
                               _row("b", "confidence", fine, fine, [])]) + "\n")


def test_load_items_scores_both_halves_of_each_row(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    _write_data(data)
    items = load_items(data)
    assert [(i.item_id, i.half, i.truth) for i in items] == [
        ("a#0/mod", ERRONEOUS, 2), ("a#0/orig", ERROR_FREE, 0),
        ("b#2/mod", ERROR_FREE, 0), ("b#2/orig", ERROR_FREE, 0)]
    assert items[0].steps[1] == "$12 \\times 13 = 146$."
    assert items[1].reference_solution == items[0].reference_solution  # the original process
    assert items[0].reference_solution.endswith("\\boxed{156}.")


@pytest.mark.slow
def test_symbolic_oracle_through_the_service_on_a_data_file(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    _write_data(data)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "first_error.py"), "--data", str(data),
         "--oracle", "symbolic", "--json"],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    totals = json.loads(done.stdout.strip().splitlines()[-1])
    assert (totals["mode"], totals["n"], totals["n_erroneous"]) == ("service", 4, 1)
    assert (totals["claims"], totals["claims_correct"], totals["failed"]) == (1, 1, 0)
    assert totals["no_error_correct"] == 3  # the boxed answers match the reference
    assert totals["precision"] == 1.0 and totals["f1"] == 1.0
    assert "counterfactual" in done.stdout and "TOTAL" in done.stdout
