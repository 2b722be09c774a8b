"""Evaluation (§6.1-6.2): unbiased pass@k for k = 1..n, bootstrap CIs, per-problem table.

``pass_at_k`` is the unbiased estimator 1 - C(n-c, k) / C(n, k) from ``n`` samples with ``c``
correct, averaged over problems; confidence intervals resample problems. ``compare`` gives a
before/after diff (newly solved, lost, Δpass@k with a paired bootstrap CI).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice.trainer.engine import GenerationRequest, RolloutEngine
from splice.trainer.progress import print_table, progress_bar
from splice.trainer.records import Problem, SamplingParams, write_jsonl
from splice.trainer.rewards import RewardWorker


@dataclass
class EvalConfig:
    """``n`` samples per problem with App. E decoding (e3-1.7B: 0.6 / 0.95 / top-k 20)."""

    n: int = 8
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 20
    max_tokens: int = 32768
    seed: int = 1234
    bootstrap: int = 1000
    confidence: float = 0.95
    problems_per_batch: int = 8

    def sampling(self) -> SamplingParams:
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, max_tokens=self.max_tokens, seed=self.seed)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem: probability that k of the n samples hold a correct one."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) as a stable product
        miss *= 1.0 - k / i
    return 1.0 - miss


@dataclass
class EvalResult:
    """Correct counts per problem and the summary metrics."""

    n: int
    correct: dict[str, int]
    pass_at: dict[int, float] = field(default_factory=dict)
    ci: dict[int, tuple[float, float]] = field(default_factory=dict)
    solved_at_least_once: int = 0

    def per_problem(self) -> list[dict[str, Any]]:
        return [{"problem_id": pid, "n": self.n, "correct": c,
                 "pass@1": pass_at_k(self.n, c, 1)} for pid, c in self.correct.items()]


def _mean_pass(n: int, counts: Sequence[int], k: int) -> float:
    return sum(pass_at_k(n, c, k) for c in counts) / len(counts) if counts else 0.0


def _interval(values: list[float], confidence: float) -> tuple[float, float]:
    values.sort()
    lo = int((1 - confidence) / 2 * (len(values) - 1))
    return values[lo], values[len(values) - 1 - lo]


def summarize(n: int, correct: dict[str, int], bootstrap: int = 1000, confidence: float = 0.95,
              seed: int = 0) -> EvalResult:
    """pass@k for k = 1..n with percentile bootstrap intervals over problems."""
    counts = list(correct.values())
    rng = random.Random(seed)
    result = EvalResult(n, dict(correct), solved_at_least_once=sum(c > 0 for c in counts))
    samples = [[rng.choice(counts) for _ in counts] for _ in range(bootstrap)] if counts else []
    for k in range(1, n + 1):
        result.pass_at[k] = _mean_pass(n, counts, k)
        result.ci[k] = _interval([_mean_pass(n, s, k) for s in samples], confidence) \
            if samples else (0.0, 0.0)
    return result


def evaluate(problems: Sequence[Problem], engine: RolloutEngine, reward: RewardWorker,
             config: EvalConfig, show_progress: bool = True) -> EvalResult:
    """Sample ``n`` rollouts per problem and summarize."""
    correct: dict[str, int] = {}
    with progress_bar("evaluate", len(problems), show_progress) as bar:
        for start in range(0, len(problems), config.problems_per_batch):
            chunk = problems[start:start + config.problems_per_batch]
            groups = engine.generate([GenerationRequest(p.problem_id, p.problem) for p in chunk],
                                     config.sampling())
            for problem, group in zip(chunk, groups, strict=True):
                rewards = reward.score([r.text for r in group],
                                       [problem.reference_answer] * len(group))
                correct[problem.problem_id] = int(sum(x > 0 for x in rewards))
            bar.advance(len(chunk))
    result = summarize(config.n, correct, config.bootstrap, config.confidence, config.seed)
    print_table("evaluation", [{"k": k, "pass@k": result.pass_at[k],
                                "ci": f"[{result.ci[k][0]:.3f}, {result.ci[k][1]:.3f}]"}
                               for k in sorted(result.pass_at)], show_progress)
    return result


def compare(before: EvalResult, after: EvalResult, bootstrap: int = 1000,
            confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Before/after diff on the shared problems: newly solved, lost, Δpass@k (paired CI)."""
    shared = [p for p in before.correct if p in after.correct]
    n = min(before.n, after.n)
    rng = random.Random(seed)
    picks = [[rng.choice(shared) for _ in shared] for _ in range(bootstrap)] if shared else []
    delta: dict[int, dict[str, float]] = {}
    for k in range(1, n + 1):
        def gap(ids: Sequence[str], k: int = k) -> float:
            return (_mean_pass(after.n, [after.correct[i] for i in ids], k)
                    - _mean_pass(before.n, [before.correct[i] for i in ids], k))
        lo, hi = _interval([gap(s) for s in picks], confidence) if picks else (0.0, 0.0)
        delta[k] = {"delta": gap(shared), "ci_low": lo, "ci_high": hi}
    return {
        "problems": len(shared),
        "newly_solved": sorted(p for p in shared if before.correct[p] == 0 < after.correct[p]),
        "lost": sorted(p for p in shared if after.correct[p] == 0 < before.correct[p]),
        "delta_pass_at": delta,
    }


def save_eval(result: EvalResult, out_dir: Path, name: str = "eval") -> None:
    """``<name>.json`` (summary) and ``<name>_per_problem.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"n": result.n, "solved_at_least_once": result.solved_at_least_once,
               "problems": len(result.correct),
               "pass_at": {str(k): v for k, v in result.pass_at.items()},
               "ci": {str(k): list(v) for k, v in result.ci.items()}}
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2))
    write_jsonl(out_dir / f"{name}_per_problem.jsonl", result.per_problem())


def load_eval(out_dir: Path, name: str = "eval") -> EvalResult:
    """Inverse of :func:`save_eval`."""
    summary = json.loads((out_dir / f"{name}.json").read_text())
    rows = [json.loads(line) for line in
            (out_dir / f"{name}_per_problem.jsonl").read_text().splitlines() if line]
    return EvalResult(
        n=summary["n"], correct={r["problem_id"]: r["correct"] for r in rows},
        pass_at={int(k): v for k, v in summary["pass_at"].items()},
        ci={int(k): (v[0], v[1]) for k, v in summary["ci"].items()},
        solved_at_least_once=summary["solved_at_least_once"])

