"""Why does (or doesn't) InT transfer? Exploratory diagnostics of a finished comparison run.

Not part of the pre-registered decision. For every arm's model (seed 0 by default):

* teacher-forced step accuracy by step type (``build_policy.step_accuracy``: the reference
  solution up to a step is given, is the step's result the argmax?) on the held-out HARD
  test set and on the HARD train set: does a patch teach a *skill* (hard step types get
  better on new problems) or *facts* (only the trained problems get better)?
* on the test set, pass@1 of problems that contain one of the exact computations the kept
  InT patches taught (``a op b`` of a kept replacement) against those that contain none.

    python bench/int_diagnose.py runs/full [--seed 0] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

HARD_TYPES = ("add_carry", "sub_borrow", "mul_table", "mul_multi")
CLAIM = re.compile(r"(\d+) *(\+|-|\\times|\\div) *(\d+) *= *(\d+)")
KINDS = {"+": "add", "-": "sub", "\\times": "mul", "\\div": "div"}


def _key(left: int, kind: str, right: int) -> tuple[int, str, int]:
    if kind in ("add", "mul"):
        left, right = sorted((left, right))
    return left, kind, right


def patched_facts(run: Path, seed: int) -> set[tuple[int, str, int]]:
    """The computations ``a op b`` that the kept InT replacements of ``seed`` state."""
    from splice.trainer.counterfactual import load_scores

    facts = set()
    for score in load_scores(run / f"seed{seed}" / "int" / "filter"):
        if score.kept and (m := CLAIM.search(score.content)):
            facts.add(_key(int(m[1]), KINDS[m[2]], int(m[3])))
    return facts


def models(run: Path, seed: int) -> dict[str, Path]:
    """Each arm's final model folder in a run directory."""
    from splice.trainer.worlds.arith.policy import CHECKPOINT_DIR

    root = run / f"seed{seed}"
    found = {"base": CHECKPOINT_DIR, "standard_rl": root / "standard_rl" / "model",
             "distill_rl": root / "distill_rl" / "model",
             "int_patch_only": root / "int" / "patch" / "model",
             "int_rl": root / "int" / "grpo" / "model",
             "int_rl_mix": root / "int_rl_mix" / "model",
             "prefix_rl": root / "prefix" / "grpo" / "model",
             "int_nofilter_rl": root / "int_nofilter" / "grpo" / "model"}
    return {arm: path for arm, path in found.items() if (path / "config.json").exists()}


def diagnose(run: Path, seed: int) -> dict[str, Any]:
    import dataclasses

    import torch
    from splice.trainer.records import read_jsonl
    from splice.trainer.worlds.arith.build_policy import step_accuracy
    from splice.trainer.worlds.arith.experiment import ExperimentConfig, problem_sets
    from splice.trainer.worlds.arith.requests import to_problem
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    cfg_json = json.loads((run / "results.json").read_text())["config"]
    fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
    cfg = ExperimentConfig(**{k: v for k, v in cfg_json.items() if k in fields})
    specs = problem_sets(cfg)
    hard_ids = {row["problem_id"] for row in read_jsonl(run / "shared" / "mine" /
                                                         "hard_set.jsonl")}
    sets = {"test": specs["test"],
            "hard_train": [s for s in specs["hard_pool"] if to_problem(s).problem_id in hard_ids]}
    facts = patched_facts(run, seed)
    touched = {to_problem(s).problem_id for s in specs["test"]
               if any(_key(c.left, str(c.kind), c.right) in facts for c in s.claims())}
    out: dict[str, Any] = {"seed": seed, "patched_facts": len(facts),
                           "test_with_patched_fact": len(touched), "test": len(specs["test"]),
                           "arms": {}}
    for arm, path in models(run, seed).items():
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        row: dict[str, Any] = {name: step_accuracy(model, tokenizer, group)
                               for name, group in sets.items()}
        per_problem = run / f"seed{seed}" / "eval" / f"{arm}_per_problem.jsonl"
        if per_problem.exists():
            rows = list(read_jsonl(per_problem))
            for label, keep in (("with_fact", True), ("without_fact", False)):
                chosen = [r["pass@1"] for r in rows if (r["problem_id"] in touched) == keep]
                row[f"pass@1_{label}"] = sum(chosen) / len(chosen) if chosen else None
        out["arms"][arm] = row
    return out


def markdown(result: dict[str, Any]) -> str:
    """Two tables: hard-step accuracy per arm and set; pass@1 by patched-fact overlap."""
    head = "| arm | " + " | ".join(f"{s} {t}" for s in ("test", "train") for t in HARD_TYPES)
    lines = [head + " |", "|---" * (1 + 2 * len(HARD_TYPES)) + "|"]
    for arm, row in result["arms"].items():
        cells = [f"{row[s].get(t, float('nan')):.3f}" for s in ("test", "hard_train")
                 for t in HARD_TYPES]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", f"Test problems containing a computation that a kept patch states: "
              f"{result['test_with_patched_fact']} of {result['test']} "
              f"({result['patched_facts']} patched computations).", "",
              "| arm | test pass@1, with a patched computation | without |", "|---|---|---|"]
    for arm, row in result["arms"].items():
        if "pass@1_with_fact" in row:
            fmt = [f"{row[k]:.3f}" if row[k] is not None else "—"
                   for k in ("pass@1_with_fact", "pass@1_without_fact")]
            lines.append(f"| {arm} | {fmt[0]} | {fmt[1]} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    result = diagnose(args.run, args.seed)
    print(markdown(result) if args.markdown else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
