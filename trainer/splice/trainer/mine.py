"""Hard-set miner (§6.1): ``n`` rollouts per problem, keep the problems with zero correct.

Outputs in ``out_dir``: ``hard_set.jsonl`` (problems), ``failed_rollouts.jsonl`` (every
rollout of a hard problem, with its sampled ids and provenance), ``mine_stats.jsonl`` (correct
count per problem) and the same as ``datasets`` folders (``hard_set/``, ``failed_rollouts/``).
Resumable: finished problems are appended to ``mine_progress.jsonl`` and skipped on a rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splice.trainer.engine import GenerationRequest, RolloutEngine
from splice.trainer.progress import print_table, progress_bar
from splice.trainer.records import (
    JsonlWriter,
    Problem,
    Rollout,
    SamplingParams,
    digest,
    problem_from_json,
    read_jsonl,
    rollout_from_json,
    to_json,
    write_jsonl,
)
from splice.trainer.rewards import RewardWorker

HARD_SET, FAILED_ROLLOUTS, STATS, PROGRESS = (
    "hard_set.jsonl", "failed_rollouts.jsonl", "mine_stats.jsonl", "mine_progress.jsonl")


@dataclass
class MineConfig:
    """Rollouts per problem (paper: 32) and their sampling (App. E decoding for e3-1.7B)."""

    n: int = 32
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 20
    max_tokens: int = 32768
    seed: int = 0
    problems_per_batch: int = 8
    reward_timeout_s: float = 5.0

    def sampling(self) -> SamplingParams:
        return SamplingParams(n=self.n, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, max_tokens=self.max_tokens, seed=self.seed)


@dataclass
class MineResult:
    """The hard set, its failed rollouts and the correct count of every problem."""

    hard_set: list[Problem]
    failed_rollouts: list[Rollout]
    correct: dict[str, int]


def load_problems(path: Path) -> list[Problem]:
    """Problems from a JSONL file (problem_id, problem, reference_solution, reference_answer)."""
    return [problem_from_json(row) for row in read_jsonl(path)]


def mine_hard_set(problems: Sequence[Problem], engine: RolloutEngine, reward: RewardWorker,
                  config: MineConfig, out_dir: Path, show_progress: bool = True) -> MineResult:
    """Run the miner (resuming from ``out_dir``) and write its outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = {row["problem_id"]: row for row in read_jsonl(out_dir / PROGRESS)}
    todo = [p for p in problems if p.problem_id not in done]
    sampling = config.sampling()
    with progress_bar("mine", len(problems), show_progress) as bar, \
            JsonlWriter(out_dir / PROGRESS) as log:
        bar.advance(len(problems) - len(todo))
        hard = sum(row["correct"] == 0 for row in done.values())
        for start in range(0, len(todo), config.problems_per_batch):
            chunk = todo[start:start + config.problems_per_batch]
            # seeded by the chunk's first problem: a resumed run does not replay old draws
            seed = int(digest(str(sampling.seed), chunk[0].problem_id, size=8), 16)
            chunk_sampling = SamplingParams(**{**sampling.__dict__, "seed": seed})
            groups = engine.generate(
                [GenerationRequest(p.problem_id, p.problem) for p in chunk], chunk_sampling)
            for problem, group in zip(chunk, groups, strict=True):
                rewards = reward.score([r.text for r in group],
                                       [problem.reference_answer] * len(group))
                scored = [Rollout(**{**r.__dict__, "reward": x})
                          for r, x in zip(group, rewards, strict=True)]
                correct = int(sum(x > 0 for x in rewards))
                hard += correct == 0
                row = to_json({"problem_id": problem.problem_id, "correct": correct,
                               "rollouts": scored if correct == 0 else []})
                log.write(row)
                done[problem.problem_id] = row
                bar.advance(info=f"hard {hard}")
    return _finish(problems, done, out_dir, show_progress)


def _finish(problems: Sequence[Problem], done: dict[str, Any], out_dir: Path,
            show_progress: bool) -> MineResult:
    correct = {p.problem_id: int(done[p.problem_id]["correct"]) for p in problems}
    hard_set = [p for p in problems if correct[p.problem_id] == 0]
    failed = [rollout_from_json(r) for p in hard_set for r in done[p.problem_id]["rollouts"]]
    write_jsonl(out_dir / HARD_SET, hard_set)
    write_jsonl(out_dir / FAILED_ROLLOUTS, failed)
    write_jsonl(out_dir / STATS, [{"problem_id": k, "correct": v} for k, v in correct.items()])
    save_datasets(out_dir)
    print_table("hard-set miner", [{"problems": len(problems), "hard": len(hard_set),
                                    "failed rollouts": len(failed)}], show_progress)
    return MineResult(hard_set, failed, correct)


def save_datasets(out_dir: Path) -> None:
    """``hard_set/`` and ``failed_rollouts/`` as ``datasets`` folders (from the JSONL files)."""
    from datasets import Dataset  # type: ignore[import-untyped]

    for name in (HARD_SET, FAILED_ROLLOUTS):
        rows = list(read_jsonl(out_dir / name))
        if rows:
            Dataset.from_list(rows).save_to_disk(str(out_dir / name.removesuffix(".jsonl")))


def load_mine_result(out_dir: Path) -> MineResult:
    """The miner's outputs from ``out_dir``."""
    hard_set = [problem_from_json(r) for r in read_jsonl(out_dir / HARD_SET)]
    failed = [rollout_from_json(r) for r in read_jsonl(out_dir / FAILED_ROLLOUTS)]
    correct = {r["problem_id"]: int(r["correct"]) for r in read_jsonl(out_dir / STATS)}
    return MineResult(hard_set, failed, correct)
