"""A sample of the oracle's verdicts on the base policy's *real* errors, for checking by hand.

Reads a comparison run's shared collect stage (the interventions that ``splice serve`` made on
the mined failed rollouts) and writes a Markdown sheet: per sampled rollout the problem's
wording, the numbered steps, the oracle's first-error step, its explanation and replacement,
and an empty verdict column. A reviewer works each problem out from its wording alone and
fills in the verdicts; ``--tally`` then counts them.

    python bench/oracle_hand_check.py runs/demo_all --n 50 --out docs/results/oracle_hand_check.md
    python bench/oracle_hand_check.py --tally docs/results/oracle_hand_check.md
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from pathlib import Path

VERDICT = re.compile(r"^\*\*verdict:\*\* *(\S+)", re.MULTILINE)
VERDICTS = ("correct", "wrong-step", "wrong-replacement", "no-error-missed")


def render(run: Path, n: int, seed: int) -> str:
    """The sheet for ``n`` interventions (at most one per problem), sampled with ``seed``."""
    from splice.trainer.collect import load_collected
    from splice.trainer.records import read_jsonl

    problems = {row["problem_id"]: row for row in read_jsonl(run / "data" / "hard_pool.jsonl")}
    by_problem: dict[str, list] = {}
    for item in load_collected(run / "shared" / "collect"):
        by_problem.setdefault(item.problem_id, []).append(item)
    rng = random.Random(seed)
    picked = [rng.choice(sorted(v, key=lambda c: c.rollout_id))
              for _, v in sorted(by_problem.items())]
    rng.shuffle(picked)
    lines = ["# Oracle hand check: first errors of the base policy's real failed rollouts", "",
             f"Run `{run}`, {min(n, len(picked))} of {len(picked)} problems (one rollout "
             f"each, seed {seed}). Verdicts: {', '.join(VERDICTS)}.", ""]
    for i, item in enumerate(picked[:n], 1):
        got = item.intervention
        lines += [f"## {i}. {item.problem_id}", "", f"> {problems[item.problem_id]['problem']}",
                  "", "| step | text |", "|---|---|"]
        lines += [f"| {s.index} | `{s.text.strip()}` |" for s in got.steps]
        replacement = "; ".join(f"step {r.location}: `{r.content}`" for r in got.replacements)
        lines += ["", f"Oracle: {got.status.name}, first error step {got.first_error_step}; "
                  f"{got.explanation}; replacement {replacement or '—'}", "",
                  "**verdict:** ", ""]
    return "\n".join(lines) + "\n"


def tally(sheet: Path) -> Counter[str]:
    """Verdict counts of a filled-in sheet."""
    return Counter(VERDICT.findall(sheet.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="?")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--tally", type=Path)
    args = parser.parse_args()
    if args.tally:
        counts = tally(args.tally)
        total = sum(counts.values())
        print(dict(counts), f"exact-step accuracy {counts['correct']}/{total}")
        return 0
    text = render(args.run, args.n, args.seed)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
