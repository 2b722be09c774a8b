"""Patch dataset modes (Table 1 ablations) and the miner's resume, on synthetic data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from splice.sdk.types import Replacement
from splice.trainer.collect import Collected
from splice.trainer.engine import decode, prompt_ids
from splice.trainer.patch import PatchDataConfig, TokenizerMismatch, build_patch_dataset
from splice.trainer.records import CandidateScore, Problem

from tests.trainer.helpers import make_intervention, make_rollout

STEPS = ["We need $12 \\times 13$.\n\n", "$12 \\times 13 = 146$.\n\n", "So $\\boxed{146}$."]
FIX = Replacement(2, "$12 \\times 13 = 156$.")
PROBLEM = Problem("p", "What is 12 times 13?", "\\boxed{156}", "156")


def _inputs(tokenizer: Any) -> tuple[Any, ...]:
    rollout = make_rollout(tokenizer, "p", "".join(STEPS))
    collected = Collected("p", rollout.rollout_id, make_intervention(STEPS, [FIX]))
    suffix = (*tokenizer("\n\nSo $\\boxed{156}$.")["input_ids"], tokenizer.eos_token_id)
    score = CandidateScore("r1", "p", rollout.rollout_id, 2, FIX.content, 4, 1, True,
                           suffix_ids=tuple(suffix))
    return score, collected, rollout, suffix


def test_default_prefix_and_intervention_no_suffix(tokenizer: Any) -> None:
    score, collected, rollout, _ = _inputs(tokenizer)
    dropped = replace(score, kept=False, request_id="r2")
    (ex,) = build_patch_dataset([score, dropped], [collected], [PROBLEM], [rollout], tokenizer,
                                PatchDataConfig())
    n = len(prompt_ids(tokenizer, PROBLEM.problem))
    assert ex["prompt_length"] == n and ex["completion_mask"] == [0] * n + [1] * (
        len(ex["input_ids"]) - n)
    assert decode(tokenizer, ex["input_ids"][n:]) == STEPS[0] + FIX.content
    assert ex["input_ids"][-1] != tokenizer.eos_token_id


def test_ablations_suffix_and_intervention_only(tokenizer: Any) -> None:
    score, collected, rollout, suffix = _inputs(tokenizer)
    n = len(prompt_ids(tokenizer, PROBLEM.problem))
    (with_suffix,) = build_patch_dataset([score], [collected], [PROBLEM], [rollout], tokenizer,
                                         PatchDataConfig(clone_suffix=True))
    assert tuple(with_suffix["input_ids"][-len(suffix):]) == suffix
    assert with_suffix["input_ids"][-1] == tokenizer.eos_token_id  # a full trace ends its turn
    (only,) = build_patch_dataset([score], [collected], [PROBLEM], [rollout], tokenizer,
                                  PatchDataConfig(mode="intervention_only"))
    masked = n + only["prefix_length"]
    assert only["completion_mask"] == [0] * masked + [1] * (len(only["input_ids"]) - masked)
    assert decode(tokenizer, only["input_ids"][masked:]) == FIX.content
    with pytest.raises(ValueError):
        PatchDataConfig(mode="suffix_only")


def test_rollouts_of_another_tokenizer_are_refused(tokenizer: Any) -> None:
    score, collected, rollout, _ = _inputs(tokenizer)
    alien = replace(rollout, provenance=replace(rollout.provenance, tokenizer_hash="0" * 16))
    with pytest.raises(TokenizerMismatch):
        build_patch_dataset([score], [collected], [PROBLEM], [alien], tokenizer,
                            PatchDataConfig())


def test_miner_resumes_where_it_stopped(engine: Any, tmp_path: Path) -> None:
    from splice.trainer.mine import PROGRESS, MineConfig, load_mine_result, mine_hard_set
    from splice.trainer.rewards import RewardWorker
    from splice.trainer.tiny import toy_problems

    problems = [Problem(p.problem_id, p.problem, p.solution(), p.answer)
                for p in toy_problems(3, seed=21)]
    config = MineConfig(n=2, max_tokens=40, problems_per_batch=1)
    with RewardWorker() as reward:
        first = mine_hard_set(problems, engine, reward, config, tmp_path, show_progress=False)
        lines = (tmp_path / PROGRESS).read_text().splitlines()
        (tmp_path / PROGRESS).write_text(lines[0] + "\n" + lines[1][:20])  # a torn last line
        again = mine_hard_set(problems, engine, reward, config, tmp_path, show_progress=False)
    assert len((tmp_path / PROGRESS).read_text().splitlines()) == 4  # 1 kept + torn + 2 redone
    assert again.correct == first.correct
    assert [p.problem_id for p in load_mine_result(tmp_path).hard_set] == \
        [p.problem_id for p in again.hard_set]
    for r in again.failed_rollouts:
        assert r.reward == 0.0 and len(r.sampled_ids) <= 40
