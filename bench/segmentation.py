"""Micro-benchmark of rollout segmentation: µs per 20 KB rollout, blank-line and keyword mode.

Run as ``python bench/segmentation.py [--stress]``. Each figure is the median (and minimum) of
repeated ``timeit`` runs in one process; on a shared machine, compare medians taken together.
"""

from __future__ import annotations

import argparse
import random
import statistics
import timeit
from typing import Any

from splice.sdk.types import SegmentationMode
from splice.server.segmentation import segment, segmenter_for

ROLLOUT_CHARS = 20_000
MODES = (SegmentationMode.BLANK_LINE, SegmentationMode.KEYWORD)

_VOCABULARY = (
    "the we so then equals sum of terms is and compute value check factor both sides divide by "
    "multiply square root gives us which means that since this number must be positive integer "
    "solution equation term first second next let denote total count cases consider each pair "
    "where because therefore hence a an to in for with from"
)
_WORDS = _VOCABULARY.split()
_OPENERS = ("Wait, ", "But ", "Alternatively, ", "Hmm, ", "Let me check: ", "Actually, ",
            "So ", "Then ", "Now ", "Next, ", "Therefore ", "Thus ")


def math_rollout(chars: int = ROLLOUT_CHARS, step_chars: int = 300, seed: int = 0) -> str:
    """A deterministic rollout shaped like a math solution: lines of prose with inline LaTeX,
    steps of about ``step_chars`` separated by blank lines, a reflection opener in one sentence
    of four (so keyword mode finds about 1.5 times as many steps)."""
    rng = random.Random(seed)
    steps: list[str] = []
    total = 0
    while total < chars:
        lines: list[str] = []
        line = ""
        size = 0
        while size < step_chars:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
            if rng.random() < 0.3:
                equation = f"$x^{rng.randint(2, 9)} + {rng.randint(1, 99)} = {rng.randint(1, 999)}$"
                words.insert(rng.randrange(len(words)), equation)
            sentence = " ".join(words) + rng.choice(".....:?")
            sentence = sentence[0].upper() + sentence[1:]
            if rng.random() < 0.25:
                sentence = rng.choice(_OPENERS) + sentence
            if line and (len(line) + len(sentence) > 160 or rng.random() < 0.2):
                lines.append(line.rstrip())
                line = ""
            line += sentence + " "
            size += len(sentence) + 1
        lines.append(line.rstrip())
        steps.append("\n".join(lines))
        total += len(steps[-1]) + 2
    return "\n\n".join(steps)[:chars]


def short_steps_rollout(chars: int = ROLLOUT_CHARS) -> str:
    """A worst case: 1000 steps of 20 characters."""
    return "".join(f"Step {i:5d}: x = {i % 10}.\n\n" for i in range(chars // 20))[:chars]


def _time(text: str, mode: SegmentationMode, repeat: int) -> tuple[float, float]:
    """(median, min) µs per call over ``repeat`` timeit runs of about 20 ms each."""
    timer = timeit.Timer(lambda: segment(text, mode))
    number, _ = timer.autorange()
    number = max(1, number // 10)
    per_call = [t / number * 1e6 for t in timer.repeat(repeat, number)]
    return statistics.median(per_call), min(per_call)


def measure_segmentation(*, stress: bool = False, repeat: int = 15) -> list[dict[str, Any]]:
    """One row per (rollout, mode): mode, case, chars, steps, median_us, min_us.

    The rows are the realistic 20 KB rollout; ``stress`` adds the 1000-short-steps worst case.
    """
    cases = [("20 KB math rollout", math_rollout())]
    if stress:
        cases.append(("20 KB, 1000 short steps", short_steps_rollout()))
    rows: list[dict[str, Any]] = []
    for case, text in cases:
        for mode in MODES:
            median_us, min_us = _time(text, mode, repeat)
            rows.append({
                "mode": segmenter_for(mode).name, "case": case, "chars": len(text),
                "steps": len(segment(text, mode)), "median_us": round(median_us, 1),
                "min_us": round(min_us, 1),
            })
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The rows as an aligned text table."""
    headers = ["case", "mode", "chars", "steps", "median µs", "min µs"]
    cells = [[str(r["case"]), str(r["mode"]), str(r["chars"]), str(r["steps"]),
              f"{r['median_us']:.1f}", f"{r['min_us']:.1f}"] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    for line in (headers, ["-" * w for w in widths], *cells):
        print("  ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(line, widths, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stress", action="store_true", help="add the 1000-short-steps case")
    parser.add_argument("--repeat", type=int, default=15, help="timeit runs per figure")
    args = parser.parse_args()
    print_table(measure_segmentation(stress=args.stress, repeat=args.repeat))


if __name__ == "__main__":
    main()
