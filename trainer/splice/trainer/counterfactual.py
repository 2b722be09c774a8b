"""Counterfactual filter (§4.2, Table 1 "prefix, no suffix, filter").

For every replacement candidate, sample ``k`` continuations of ``[y_<i, y_int,i]`` from the
base policy (the candidates of a chunk share one batched engine call) and keep the candidate
if at least ``min_successes`` of them reach the reference answer. Candidates that leak the
answer and duplicates are dropped first. Every candidate is written to ``candidates.jsonl``
with its success rate and, when dropped, the reason; a rerun skips the ones already scored.

Optional ``arms`` (Table 1): ``k`` samples per arm on the same problems, ``naive`` (fresh
rollouts from the prompt), ``from_error_step`` (continue ``y_<i`` without the replacement)
and ``with_intervention`` (continue ``[y_<i, y_int,i]``); success rates go to ``arms.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splice.sdk.types import Replacement, Status
from splice.trainer.collect import Collected
from splice.trainer.engine import GenerationRequest, RolloutEngine
from splice.trainer.patching import PatchedCompletion, RolloutMismatch, patched_completion
from splice.trainer.progress import print_table, progress_bar
from splice.trainer.records import (
    CandidateScore,
    JsonlWriter,
    Problem,
    Rollout,
    SamplingParams,
    candidate_from_json,
    read_jsonl,
)
from splice.trainer.rewards import RewardWorker

CANDIDATES, ARMS_FILE = "candidates.jsonl", "arms.json"
ARMS = ("naive", "from_error_step", "with_intervention")


@dataclass
class FilterConfig:
    """``k`` continuations per candidate; ``enabled=False`` is the "no filter" ablation."""

    enabled: bool = True
    k: int = 8
    min_successes: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 20
    max_tokens: int = 32768
    seed: int = 0
    drop_leaks: bool = True
    candidates_per_batch: int = 16
    arms: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = set(self.arms) - set(ARMS)
        if unknown:
            raise ValueError(f"filter arms {sorted(unknown)} are not among {ARMS}")

    def sampling(self) -> SamplingParams:
        return SamplingParams(n=self.k, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, max_tokens=self.max_tokens, seed=self.seed)


@dataclass(frozen=True)
class Candidate:
    """One replacement of one intervention, with its patched completion."""

    collected: Collected
    replacement: Replacement
    patched: PatchedCompletion

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.collected.intervention.request_id, self.replacement.location,
                self.replacement.content)


def _dropped(item: Collected, rep: Replacement, reason: str) -> CandidateScore:
    return CandidateScore(request_id=item.intervention.request_id, problem_id=item.problem_id,
                          rollout_id=item.rollout_id, location=rep.location,
                          content=rep.content, samples=0, successes=0, kept=False,
                          reason=reason)


def gather_candidates(
    collected: Sequence[Collected], problems: dict[str, Problem], rollouts: dict[str, Rollout],
    tokenizer: Any, reward: RewardWorker, drop_leaks: bool = True,
) -> tuple[list[Candidate], list[CandidateScore]]:
    """Candidates worth sampling, and the dropped ones (leaks, duplicates, mismatches)."""
    keep: list[Candidate] = []
    dropped: list[CandidateScore] = []
    seen: set[tuple[str, str]] = set()
    for item in collected:
        result = item.intervention
        if result.status is not Status.FOUND_ERROR:
            continue
        problem, rollout = problems.get(item.problem_id), rollouts.get(item.rollout_id)
        for rep in result.replacements:
            if problem is None or rollout is None:
                dropped.append(_dropped(item, rep, "unknown problem or rollout"))
                continue
            leak = rep.leaks_answer or reward.score([rep.content],
                                                    [problem.reference_answer])[0] > 0
            if drop_leaks and leak:
                dropped.append(_dropped(item, rep, "answer leak"))
                continue
            try:
                patched = patched_completion(tokenizer, rollout, result, rep)
            except (RolloutMismatch, ValueError):
                dropped.append(_dropped(item, rep, "mismatch"))
                continue
            if (item.problem_id, patched.text) in seen:
                dropped.append(_dropped(item, rep, "duplicate"))
                continue
            seen.add((item.problem_id, patched.text))
            keep.append(Candidate(item, rep, patched))
    return keep, dropped


def score_candidates(candidates: Sequence[Candidate], problems: dict[str, Problem],
                     engine: RolloutEngine, reward: RewardWorker,
                     config: FilterConfig) -> list[CandidateScore]:
    """Sample ``k`` continuations of each candidate (one batched call) and score them."""
    requests = [GenerationRequest(c.collected.problem_id,
                                  problems[c.collected.problem_id].problem, c.patched.ids)
                for c in candidates]
    groups = engine.generate(requests, config.sampling()) if config.enabled else \
        [[] for _ in candidates]
    stop = getattr(engine.tokenizer, "eos_token_id", None)
    scores = []
    for cand, group in zip(candidates, groups, strict=True):
        reference = problems[cand.collected.problem_id].reference_answer
        rewards = reward.score([r.text for r in group], [reference] * len(group))
        wins = [r for r, x in zip(group, rewards, strict=True) if x > 0]
        suffix = ()
        if wins:
            tail = (stop,) if wins[0].finish_reason == "stop" and stop is not None else ()
            suffix = wins[0].sampled_ids + tail
        kept = len(wins) >= config.min_successes if config.enabled else True
        scores.append(CandidateScore(
            request_id=cand.collected.intervention.request_id,
            problem_id=cand.collected.problem_id, rollout_id=cand.collected.rollout_id,
            location=cand.replacement.location, content=cand.replacement.content,
            samples=len(group), successes=len(wins), kept=kept,
            reason="" if kept else "no successful continuation", suffix_ids=suffix))
    return scores


def arm_requests(candidates: Sequence[Candidate], problems: dict[str, Problem],
                 arms: Sequence[str]) -> list[tuple[str, GenerationRequest]]:
    """The prompts of each arm: one per problem (naive) or per candidate (the others)."""
    out: list[tuple[str, GenerationRequest]] = []
    naive: set[str] = set()
    for c in candidates:
        pid = c.collected.problem_id
        text = problems[pid].problem
        if "naive" in arms and pid not in naive:
            naive.add(pid)
            out.append(("naive", GenerationRequest(pid, text)))
        if "from_error_step" in arms:
            out.append(("from_error_step", GenerationRequest(pid, text, c.patched.prefix_ids)))
        if "with_intervention" in arms:
            out.append(("with_intervention", GenerationRequest(pid, text, c.patched.ids)))
    return out


def score_arms(candidates: Sequence[Candidate], problems: dict[str, Problem],
               engine: RolloutEngine, reward: RewardWorker,
               config: FilterConfig) -> dict[str, dict[str, float]]:
    """Per arm: prompts, samples, successes and success rate (batched engine calls)."""
    requests = arm_requests(candidates, problems, config.arms)
    table: dict[str, dict[str, float]] = {
        arm: {"prompts": 0, "samples": 0, "successes": 0} for arm in config.arms}
    for start in range(0, len(requests), config.candidates_per_batch):
        chunk = requests[start:start + config.candidates_per_batch]
        groups = engine.generate([r for _, r in chunk], config.sampling())
        for (arm, req), group in zip(chunk, groups, strict=True):
            rewards = reward.score([r.text for r in group],
                                   [problems[req.problem_id].reference_answer] * len(group))
            row = table[arm]
            row["prompts"] += 1
            row["samples"] += len(group)
            row["successes"] += sum(x > 0 for x in rewards)
    for row in table.values():
        row["success_rate"] = row["successes"] / row["samples"] if row["samples"] else 0.0
    return table


def load_arms(out_dir: Path) -> dict[str, dict[str, float]]:
    """The arms table of ``out_dir`` ({} when the arms were not run)."""
    path = out_dir / ARMS_FILE
    return dict(json.loads(path.read_text())) if path.exists() else {}


def filter_candidates(collected: Sequence[Collected], problems: Sequence[Problem],
                      rollouts: Sequence[Rollout], engine: RolloutEngine, reward: RewardWorker,
                      config: FilterConfig, out_dir: Path,
                      show_progress: bool = True) -> list[CandidateScore]:
    """Run the filter (resuming from ``out_dir``); returns every candidate's score."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {p.problem_id: p for p in problems}
    candidates, dropped = gather_candidates(collected, by_id, {r.rollout_id: r for r in rollouts},
                                            engine.tokenizer, reward, config.drop_leaks)
    done = {(s.request_id, s.location, s.content): s
            for s in map(candidate_from_json, read_jsonl(out_dir / CANDIDATES))}
    todo = [c for c in candidates if c.key not in done]
    with progress_bar("filter", len(candidates), show_progress) as bar, \
            JsonlWriter(out_dir / CANDIDATES) as log:
        for score in dropped:
            if (score.request_id, score.location, score.content) not in done:
                log.write(score)
                done[(score.request_id, score.location, score.content)] = score
        bar.advance(len(candidates) - len(todo))
        for start in range(0, len(todo), config.candidates_per_batch):
            chunk = todo[start:start + config.candidates_per_batch]
            for cand, score in zip(chunk, score_candidates(chunk, by_id, engine, reward, config),
                                   strict=True):
                log.write(score)
                done[cand.key] = score
            kept = sum(s.kept for s in done.values())
            bar.advance(len(chunk), info=f"kept {kept}")
    scores = list(done.values())
    reasons: dict[str, int] = {}
    for s in scores:
        reasons[s.reason or "kept"] = reasons.get(s.reason or "kept", 0) + 1
    print_table("counterfactual filter", [{"candidates": len(scores), **reasons}], show_progress)
    if config.arms and not (out_dir / ARMS_FILE).exists():
        table = score_arms(candidates, by_id, engine, reward, config)
        (out_dir / ARMS_FILE).write_text(json.dumps(table, indent=2))
        print_table("Table 1 arms", [{"arm": arm, **row} for arm, row in table.items()],
                    show_progress)
    return scores


def load_scores(out_dir: Path) -> list[CandidateScore]:
    """The filter's scores from ``out_dir``."""
    return [candidate_from_json(row) for row in read_jsonl(out_dir / CANDIDATES)]
