"""Evaluate the base policy on held-out TRAIN and HARD problems, with the world oracle's view.

pass@k (unbiased, k up to ``n``) from ``n`` samples at temperature 1.0, greedy pass@1, the
share of problems never solved, and, for failed rollouts, the world checker's verdict (the
replay the ``world:arith`` oracle serves): FOUND_ERROR by finding and category, NO_ERROR
or ABSTAINED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from splice.trainer.engine import GenerationRequest
from splice.trainer.evaluate import pass_at_k
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.progress import progress_bar
from splice.trainer.records import SamplingParams
from splice.trainer.worlds.arith.check import Verdict, check, normalize_answer, split_steps
from splice.trainer.worlds.arith.requests import problem_id
from splice.trainer.worlds.arith.spec import ProblemSpec
from splice.trainer.worlds.arith.text import render_problem

KS = (1, 2, 4, 8, 16, 32)


def solved(spec: ProblemSpec, text: str) -> bool:
    """Whether the rollout's last boxed answer is the problem's answer."""
    return "\\boxed{" in text and normalize_answer(text) == str(spec.answer)


def verdict_label(verdict: Verdict) -> str:
    """``FOUND_ERROR/EXECUTION/wrong_result``, ``NO_ERROR`` or ``ABSTAINED``."""
    if verdict.finding is None:
        return verdict.status
    return f"{verdict.status}/{verdict.finding.category}/{verdict.finding.value}"


@dataclass
class SplitResult:
    """One split's numbers; ``verdicts`` counts the checker's labels on failed rollouts."""

    name: str
    n: int
    counts: list[int] = field(default_factory=list)
    greedy: list[bool] = field(default_factory=list)
    verdicts: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def pass_at(self, k: int) -> float:
        """Mean unbiased pass@k over problems."""
        return sum(pass_at_k(self.n, c, k) for c in self.counts) / max(1, len(self.counts))

    def summary(self) -> dict[str, Any]:
        """The split's row of the evaluation table."""
        failed = sum(self.verdicts.values())
        row: dict[str, Any] = {"split": self.name, "problems": len(self.counts),
                               "greedy pass@1": sum(self.greedy) / max(1, len(self.greedy))}
        row.update({f"pass@{k}": self.pass_at(k) for k in KS if k <= self.n})
        row["zero-success"] = sum(c == 0 for c in self.counts) / max(1, len(self.counts))
        row["failed rollouts"] = failed
        return row


def evaluate_split(engine: TransformersEngine, name: str, specs: Sequence[ProblemSpec],
                   n: int = 32, seed: int = 0, max_tokens: int = 160,
                   problems_per_batch: int = 4, keep_samples: int = 8) -> SplitResult:
    """Sample ``n`` rollouts per problem (temperature 1.0) and one greedy rollout."""
    result = SplitResult(name, n)
    sampling = SamplingParams(n=n, temperature=1.0, max_tokens=max_tokens, seed=seed)
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, seed=seed)
    with progress_bar(f"eval {name}", len(specs)) as bar:
        for lo in range(0, len(specs), problems_per_batch):
            chunk = specs[lo:lo + problems_per_batch]
            requests = [GenerationRequest(problem_id(s), render_problem(s)) for s in chunk]
            groups = engine.generate(requests, sampling)
            firsts = engine.generate(requests, greedy)
            for spec, group, first in zip(chunk, groups, firsts, strict=True):
                result.greedy.append(solved(spec, first[0].text))
                ok = [solved(spec, r.text) for r in group]
                result.counts.append(sum(ok))
                for rollout, good in zip(group, ok, strict=True):
                    if good:
                        continue
                    verdict = check(spec, split_steps(rollout.text))
                    result.verdicts[verdict_label(verdict)] += 1
                    if len(result.samples) < keep_samples and rollout.sample_index == 0:
                        result.samples.append({
                            "problem": render_problem(spec), "rollout": rollout.text,
                            "verdict": verdict_label(verdict),
                            "explanation": verdict.explanation, "solved_of_n": sum(ok)})
            bar.advance(len(chunk), f"pass@1 {result.pass_at(1):.2f}")
    return result


def evaluate_policy(model: Any, tokenizer: Any, splits: Mapping[str, Sequence[ProblemSpec]],
                    n: int = 32, seed: int = 0, max_batch_size: int = 128) -> dict[str, Any]:
    """Every split's summary, verdict breakdown and sample failures (JSON-ready)."""
    engine = TransformersEngine(model, tokenizer, max_batch_size=max_batch_size)
    out: dict[str, Any] = {}
    for name, specs in splits.items():
        result = evaluate_split(engine, name, specs, n=n, seed=seed)
        out[name] = {"summary": result.summary(), "verdicts": dict(result.verdicts.most_common()),
                     "samples": result.samples, "counts": result.counts}
    return out
