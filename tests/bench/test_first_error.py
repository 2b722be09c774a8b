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
from bench.first_error_audit import audit, load_labels

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


def _write_labels(path: Path, rows: list[tuple[str, int, int, str]]) -> Path:
    path.write_text("".join(
        json.dumps({"idx": idx, "line": line, "first_error_step": step, "kind": kind,
                    "claim": "", "note": ""}) + "\n" for idx, line, step, kind in rows))
    return path


def _audit_case() -> tuple[list[BenchItem], list[Verdict]]:
    """Four erroneous rows (r0..r3: truth 2, 3, 4, 5) and one error-free row (r4)."""
    items, verdicts = [], []
    for n, (truth, verdict) in enumerate([
            (2, Verdict("FOUND_ERROR", 2)), (3, Verdict("FOUND_ERROR", 5)),
            (4, Verdict("ABSTAINED")), (5, Verdict("FOUND_ERROR", 5)), (0, Verdict("NO_ERROR"))]):
        items.append(BenchItem(f"r{n}#{n}/mod", "c", ERRONEOUS if truth else ERROR_FREE,
                               "p", "r", ("s",), truth))
        verdicts.append(verdict)
        items.append(BenchItem(f"r{n}#{n}/orig", "c", ERROR_FREE, "p", "r", ("s",), 0))
        verdicts.append(Verdict("FOUND_ERROR", 1) if n == 0 else Verdict("NO_ERROR"))
    return items, verdicts


def test_audit_counts_claims_by_kind_and_bounds_the_correct_ones(tmp_path: Path) -> None:
    items, verdicts = _audit_case()
    labels = load_labels(_write_labels(tmp_path / "l.jsonl", [
        ("r0", 0, 2, "numeric_claim"), ("r1", 1, 3, "not_arithmetic"),
        ("r2", 2, 4, "derived_value"), ("r3", 3, 5, "not_arithmetic")]))
    result = audit(items, verdicts, labels)
    kinds = result["kinds"]
    assert kinds["numeric_claim"] == {"rows": 1, "claims": 1, "exact": 1}
    assert kinds["derived_value"] == {"rows": 1, "claims": 0, "exact": 0}
    assert kinds["not_arithmetic"] == {"rows": 2, "claims": 2, "exact": 1}
    assert kinds["identity_with_unknowns"]["rows"] == kinds["unstated_computation"]["rows"] == 0
    assert result["bound_correct_claims"] == 2  # the two checkable rows
    assert result["needed_correct_claims"] == 27  # 30 claims at precision 0.9
    assert result["claims_on_error_free"] == 1 and not result["target_reachable"]
    small = audit(items, verdicts, labels, min_claims=2, min_precision=0.9)
    assert small["needed_correct_claims"] == 2 and small["target_reachable"]


def test_audit_refuses_labels_that_do_not_fit_the_data(tmp_path: Path) -> None:
    items, verdicts = _audit_case()
    rows = [("r0", 0, 2, "numeric_claim"), ("r1", 1, 3, "not_arithmetic"),
            ("r2", 2, 4, "derived_value"), ("r3", 3, 5, "not_arithmetic")]
    with pytest.raises(ValueError, match=r"unlabelled rows \['r3#3'\] \(1\)"):
        audit(items, verdicts, load_labels(_write_labels(tmp_path / "a.jsonl", rows[:3])))
    extra = load_labels(_write_labels(tmp_path / "b.jsonl",
                                      [*rows, ("r9", 9, 1, "not_arithmetic")]))
    with pytest.raises(ValueError, match=r"labels without an erroneous row \['r9#9'\]"):
        audit(items, verdicts, extra)
    assert audit(items, verdicts, extra, partial=True)["bound_correct_claims"] == 2
    moved = load_labels(_write_labels(tmp_path / "m.jsonl",
                                      [*rows[:3], ("r3", 3, 4, "not_arithmetic")]))
    with pytest.raises(ValueError, match=r"another first error step \['r3#3'\]"):
        audit(items, verdicts, moved)
    with pytest.raises(ValueError, match="kind 'arithmetic'"):
        load_labels(_write_labels(tmp_path / "c.jsonl", [("r0", 0, 2, "arithmetic")]))
    with pytest.raises(ValueError, match="labelled twice"):
        load_labels(_write_labels(tmp_path / "d.jsonl", [rows[0], rows[0]]))
    (tmp_path / "e.jsonl").write_text('{"idx": "r0", "line": 0, "kind": "numeric_claim"}\n')
    with pytest.raises(ValueError, match=r"e\.jsonl:1: not a label"):
        load_labels(tmp_path / "e.jsonl")


@pytest.mark.slow
def test_symbolic_oracle_through_the_service_on_a_data_file(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    _write_data(data)
    labels = _write_labels(tmp_path / "labels.jsonl", [("a", 0, 2, "numeric_claim")])
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "first_error.py"), "--data", str(data),
         "--oracle", "symbolic", "--json", "--audit", str(labels)],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    totals = json.loads(done.stdout.strip().splitlines()[-1])
    assert (totals["mode"], totals["n"], totals["n_erroneous"]) == ("service", 4, 1)
    assert (totals["claims"], totals["claims_correct"], totals["failed"]) == (1, 1, 0)
    assert totals["no_error_correct"] == 3  # the boxed answers match the reference
    assert totals["precision"] == 1.0 and totals["f1"] == 1.0
    assert "counterfactual" in done.stdout and "TOTAL" in done.stdout
    checked = totals["audit"]
    assert checked["kinds"]["numeric_claim"] == {"rows": 1, "claims": 1, "exact": 1}
    assert checked["bound_correct_claims"] == 1 and checked["claims_on_error_free"] == 0
