"""Held-out pass@k during GRPO (Fig. 7): two steps on the tiny model, evaluated every step."""

from __future__ import annotations

from pathlib import Path

import pytest
from splice.trainer.grpo import GRPOStageConfig, step_metrics, train_grpo
from splice.trainer.records import Problem, read_jsonl
from splice.trainer.rewards import RewardWorker
from splice.trainer.tiny import toy_problems


def _problems(count: int, seed: int) -> list[Problem]:
    return [Problem(p.problem_id, p.problem, p.solution(), p.answer)
            for p in toy_problems(count, seed=seed)]


def test_pass_at_k_is_logged_every_step(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = GRPOStageConfig(train_batch_size=2, ppo_mini_batch_size=2, rollout_n=4,
                             per_device_train_batch_size=4, max_completion_length=24,
                             max_steps=2, learning_rate=1e-5, eval_every=1, eval_n=3,
                             eval_max_tokens=40)
    with RewardWorker(timeout_s=5) as worker:
        with pytest.raises(ValueError, match="held-out"):
            train_grpo(tiny_model_dir, _problems(2, 1), config, tmp_path / "none", worker)
        train_grpo(tiny_model_dir, _problems(2, 1), config, tmp_path, worker,
                   held_out=_problems(3, 2))
    log = list(read_jsonl(tmp_path / "grpo_log.jsonl"))
    evals = [row for row in log if "eval/pass@1" in row]
    assert [row["step"] for row in evals] == [1, 2]
    for row in evals:
        passes = [row[f"eval/pass@{k}"] for k in (1, 2, 3)]
        assert all(0.0 <= p <= 1.0 for p in passes) and passes == sorted(passes)
        assert 0 <= row["eval/solved"] <= 3
        assert (row["eval/pass@3"] > 0) == (row["eval/solved"] > 0)
    assert len(step_metrics(log)) == 2  # the training rows are unchanged
