"""Table 1 arms of the counterfactual filter on the tiny model with synthetic rollouts: naive
rollouts, continuations from the error step, and continuations with the intervention."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from splice.sdk.types import Replacement
from splice.trainer.collect import Collected
from splice.trainer.counterfactual import (
    ARMS,
    ARMS_FILE,
    FilterConfig,
    filter_candidates,
    load_arms,
)
from splice.trainer.engine import GenerationRequest, RolloutEngine
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import Rollout, SamplingParams
from splice.trainer.rewards import RewardWorker
from splice.trainer.tiny import toy_problems

from tests.trainer.helpers import make_intervention, toy_failures


class RecordingEngine(RolloutEngine):
    """The tiny engine, recording every request and counting batched calls."""

    def __init__(self, engine: TransformersEngine) -> None:
        self.engine, self.tokenizer = engine, engine.tokenizer
        self.requests: list[GenerationRequest] = []
        self.calls = 0

    def generate(self, requests: Sequence[GenerationRequest],
                 sampling: SamplingParams) -> list[list[Rollout]]:
        self.calls += 1
        self.requests.extend(requests)
        return self.engine.generate(requests, sampling)


@pytest.fixture(scope="module")
def reward() -> Iterator[RewardWorker]:
    with RewardWorker(timeout_s=5) as worker:
        yield worker


def test_arms_compare_success_rates_on_the_same_problems(
        engine: TransformersEngine, reward: RewardWorker, tmp_path: Path) -> None:
    problems = toy_problems(3, seed=8)
    hard, failed = toy_failures(problems, engine.tokenizer)
    collected = []
    for p, r in zip(problems, failed, strict=True):
        steps = [part + "\n\n" for part in r.text.split("\n\n")]
        steps[-1] = steps[-1].removesuffix("\n\n")
        fix = Replacement(2, f"${p.a} \\times {p.b} = {p.answer}$.")
        collected.append(Collected(p.problem_id, r.rollout_id,
                                   make_intervention(steps, [fix], f"r-{p.problem_id}")))
    with pytest.raises(ValueError):
        FilterConfig(arms=["prefix"])
    config = FilterConfig(k=4, max_tokens=16, candidates_per_batch=16, arms=list(ARMS))
    recorder = RecordingEngine(engine)
    scores = filter_candidates(collected, hard, failed, recorder,
                               reward, config, tmp_path, show_progress=False)
    table = json.loads((tmp_path / ARMS_FILE).read_text())
    assert table == load_arms(tmp_path) and list(table) == list(ARMS)
    for arm in ARMS:  # one prompt per problem (naive) or per candidate, k samples each
        assert table[arm]["prompts"] == 3 and table[arm]["samples"] == 12
        assert table[arm]["success_rate"] == table[arm]["successes"] / 12
    # the arms' prompts: the filter's 3, then one batched call of 9 arm prompts
    assert recorder.calls == 2 and len(recorder.requests) == 12
    arms = recorder.requests[3:]
    by_problem = {(c.problem_id): c for c in collected}
    for k, (arm, req) in enumerate(zip(ARMS * 3, arms, strict=True)):
        item = by_problem[req.problem_id]
        rollout = next(r for r in failed if r.rollout_id == item.rollout_id)
        text = engine.tokenizer.decode(list(req.prefix_ids))
        boundary = item.intervention.steps[1].char_start
        assert req.problem_id == problems[k // 3].problem_id
        if arm == "naive":
            assert req.prefix_ids == ()
        elif arm == "from_error_step":
            assert req.prefix_ids == rollout.sampled_ids[:len(req.prefix_ids)]
            assert text == rollout.text[:boundary]
        else:
            replacement = item.intervention.replacements[0].content
            assert text == rollout.text[:boundary] + replacement
    # the tiny model cannot multiply but copies a corrected product
    kept_rate = sum(s.successes for s in scores) / sum(s.samples for s in scores)
    assert table["with_intervention"]["success_rate"] > 0 and kept_rate > 0
    assert table["naive"]["success_rate"] < table["with_intervention"]["success_rate"]
    assert table["from_error_step"]["success_rate"] < table["with_intervention"]["success_rate"]
    # a rerun reads the table back and samples nothing
    filter_candidates(collected, hard, failed, recorder, reward,
                      config, tmp_path, show_progress=False)
    assert recorder.calls == 2
