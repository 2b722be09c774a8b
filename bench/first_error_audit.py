"""What a sound arithmetic checker could claim on a PRMBench file: hand labels of each first error.

A labels file (JSONL) gives each erroneous row (``idx`` and ``line``, its 0-based line in the
data file) the *kind* of its labelled first error, judged by hand from the written step:

- ``numeric_claim``: a written relation, numeric once the rollout's earlier values are put
  in, that is false (``12 \\times 13 = 166``);
- ``derived_value``: a value given to an unknown that contradicts an equation about it
  stated before (``2p = 0.58``, then ``p = 0.58``);
- ``identity_with_unknowns``: a false equation between expressions with free unknowns
  (a constraint to the symbolic oracle, never called false);
- ``unstated_computation``: a wrong result whose computation is not written as a relation;
- ``not_arithmetic``: the step computes correctly from a wrong premise, method or reading.

Only the first two can be claimed, exactly and soundly, by a checker of written relations;
their count bounds the correct claims of any such oracle. ``--audit FILE`` of
``bench/first_error.py`` joins the labels with the oracle's verdicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.first_error import BenchItem, Verdict

KINDS = ("numeric_claim", "derived_value", "identity_with_unknowns", "unstated_computation",
         "not_arithmetic")
CHECKABLE = frozenset(KINDS[:2])
"""Kinds whose first error a checker of written relations can name exactly."""


@dataclass(frozen=True)
class Label:
    """The hand label of one erroneous row's first error."""

    key: str
    first_error_step: int
    kind: str
    claim: str
    note: str


def row_key(idx: str, line: int) -> str:
    """How a row is named in both files: its ``idx`` and its 0-based line in the data file."""
    return f"{idx}#{line}"


def load_labels(path: Path) -> dict[str, Label]:
    """The labels of ``path``, by row key; ValueError names a bad or repeated line."""
    labels: dict[str, Label] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            key = row_key(obj["idx"], int(obj["line"]))
            label = Label(key, int(obj["first_error_step"]), obj["kind"], obj.get("claim", ""),
                          obj.get("note", ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a label ({exc!r})") from exc
        if label.kind not in KINDS:
            raise ValueError(f"{path}:{n}: kind {label.kind!r} is not one of {KINDS}")
        if key in labels:
            raise ValueError(f"{path}:{n}: row {key} is labelled twice")
        labels[key] = label
    return labels


def _key_of(item: BenchItem) -> str:
    return item.item_id.rsplit("/", 1)[0]


def check_labels(items: Sequence[BenchItem], labels: dict[str, Label], *,
                 partial: bool = False) -> None:
    """ValueError unless every erroneous item has a label for its first error step and,
    unless ``partial`` (a run on the first rows only), every label an erroneous item."""
    truth = {_key_of(it): it.truth for it in items if it.truth}
    missing = sorted(set(truth) - set(labels))
    extra = [] if partial else sorted(set(labels) - set(truth))
    moved = sorted(k for k in set(truth) & set(labels)
                   if labels[k].first_error_step != truth[k])
    if missing or extra or moved:
        raise ValueError(f"labels do not match the data: unlabelled rows {missing[:5]} "
                         f"({len(missing)}), labels without an erroneous row {extra[:5]} "
                         f"({len(extra)}), another first error step {moved[:5]} ({len(moved)})")


def audit(items: Sequence[BenchItem], verdicts: Sequence[Verdict],
          labels: dict[str, Label], *, partial: bool = False, min_claims: int = 30,
          min_precision: float = 0.9) -> dict[str, Any]:
    """Per kind: rows, the oracle's claims on them and how many name the labelled step; the
    bound on correct claims, and how many a ``min_claims`` / ``min_precision`` target needs.

    The labels must fit the items (:func:`check_labels`).
    """
    check_labels(items, labels, partial=partial)
    kinds: dict[str, dict[str, int]] = {k: {"rows": 0, "claims": 0, "exact": 0} for k in KINDS}
    for item, verdict in zip(items, verdicts, strict=True):
        if not item.truth:
            continue
        counts = kinds[labels[_key_of(item)].kind]
        counts["rows"] += 1
        if verdict.status == "FOUND_ERROR":
            counts["claims"] += 1
            counts["exact"] += verdict.step == item.truth
    error_free_claims = sum(1 for it, v in zip(items, verdicts, strict=True)
                            if not it.truth and v.status == "FOUND_ERROR")
    bound = sum(kinds[k]["rows"] for k in CHECKABLE)
    needed = math.ceil(min_precision * min_claims)
    return {
        "kinds": kinds, "bound_correct_claims": bound, "needed_correct_claims": needed,
        "claims_on_error_free": error_free_claims, "partial": partial,
        "target_reachable": bound >= needed,
    }


def print_audit(result: dict[str, Any]) -> None:
    """The audit as a small table."""
    print("first errors by kind (hand labels)  rows  oracle claims  exact step")
    for kind, c in result["kinds"].items():
        mark = "*" if kind in CHECKABLE else " "
        print(f"  {mark} {kind:<32} {c['rows']:5d}  {c['claims']:13d}  {c['exact']:10d}")
    print(f"  * checkable: at most {result['bound_correct_claims']} correct claims for a sound "
          f"checker of written relations; the target needs {result['needed_correct_claims']} "
          f"({'reachable' if result['target_reachable'] else 'not reachable'} on "
          f"{'these rows' if result['partial'] else 'this file'})")
    print(f"  claims on error-free rollouts: {result['claims_on_error_free']}")
