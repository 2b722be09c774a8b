"""Collector through a real server (symbolic oracle) and the counterfactual filter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from splice.sdk import Client
from splice.sdk.types import Replacement, Status
from splice.server.testing import running_server
from splice.trainer.collect import (
    INTERVENTIONS,
    CollectConfig,
    collect_interventions,
    load_collected,
    request_id_for,
)
from splice.trainer.counterfactual import FilterConfig, filter_candidates, gather_candidates
from splice.trainer.hf_engine import TransformersEngine
from splice.trainer.records import Problem
from splice.trainer.rewards import RewardWorker
from splice.trainer.tiny import toy_problems

from tests.trainer.helpers import make_intervention, make_rollout, toy_failures

ORACLES = {"symbolic": {"backend": "symbolic", "options": {"workers": 1, "time_limit_s": 5}}}


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    with running_server(oracles=ORACLES, default_oracle="symbolic") as addr:
        yield addr


@pytest.fixture(scope="module")
def reward() -> Iterator[RewardWorker]:
    with RewardWorker(timeout_s=5) as worker:
        yield worker


class CountingClient:
    """The SDK client, counting the requests it sends."""

    def __init__(self, client: Client) -> None:
        self.client, self.sent = client, 0

    def intervene_many(self, requests: Any, **kw: Any) -> Any:
        requests = list(requests)
        self.sent += len(requests)
        return self.client.intervene_many(requests, **kw)


def test_collect_is_deterministic_and_resumable(address: str, tokenizer: Any,
                                                tmp_path: Path) -> None:
    hard, failed = toy_failures(toy_problems(3, seed=5), tokenizer)
    config = CollectConfig(server=address, concurrency=2, chunk_size=2)
    with Client(address, client_id="tests") as raw:
        client = CountingClient(raw)
        result = collect_interventions(hard, failed, client, config, tmp_path,
                                       show_progress=False)
        assert client.sent == 3 and result.errors == 0
        assert result.by_status == {"FOUND_ERROR": 3}
        for item, problem, rollout in zip(result.interventions, hard, failed, strict=True):
            assert item.intervention.request_id == request_id_for(problem, rollout, "")
            assert item.intervention.first_error_step == 2
            a, b = problem.problem.removeprefix("What is ").removesuffix("?").split(" times ")
            assert item.intervention.replacements[0].content == \
                f"${a} \\times {b} = {problem.reference_answer}$."
            assert item.intervention.rollout_text == rollout.text
        # a rerun sends nothing; after losing a row (a crash), only that one is sent again
        collect_interventions(hard, failed, client, config, tmp_path, show_progress=False)
        assert client.sent == 3
        lines = (tmp_path / INTERVENTIONS).read_text().splitlines()
        (tmp_path / INTERVENTIONS).write_text("\n".join(lines[:2]) + "\n")
        again = collect_interventions(hard, failed, client, config, tmp_path,
                                      show_progress=False)
        assert client.sent == 4 and len(again.interventions) == 3
        resent, first = again.interventions[-1].intervention, result.interventions[-1].intervention
        assert resent.sequence == first.sequence  # the stored result, not a second oracle call
    assert len(load_collected(tmp_path)) == 3


def test_filter_keeps_interventions_whose_continuation_succeeds(
        address: str, engine: TransformersEngine, reward: RewardWorker, tmp_path: Path) -> None:
    problems = toy_problems(4, seed=6)
    hard, failed = toy_failures(problems, engine.tokenizer)
    p0 = problems[0]
    wrong = p0.a * p0.b - 10
    # same prefix and replacement as failed[0]: a duplicate candidate
    failed.append(make_rollout(engine.tokenizer, p0.problem_id,
                               p0.solution(wrong).replace("So $", "Hence $"), index=1))
    with Client(address, client_id="tests") as client:
        collected = collect_interventions(hard, failed, client, CollectConfig(
            rollouts_per_problem=2), tmp_path, show_progress=False).interventions
    config = FilterConfig(k=4, temperature=0.6, max_tokens=16, candidates_per_batch=3)
    scores = filter_candidates(collected, hard, failed, engine, reward, config, tmp_path,
                               show_progress=False)
    assert sorted(s.reason for s in scores if not s.samples) == ["duplicate"]
    sampled = [s for s in scores if s.samples]
    assert len(sampled) == 4 and all(s.samples == 4 for s in sampled)
    assert sum(s.kept for s in sampled) >= 2  # the tiny model copies the corrected product
    for s in sampled:
        assert s.kept == (s.successes >= 1) and 0 <= s.success_rate <= 1
        assert s.location == 2
        if s.kept:
            assert engine.tokenizer.decode(s.suffix_ids).startswith("\n\nSo $\\boxed{")
    # rerun: nothing is sampled again
    again = filter_candidates(collected, hard, failed, engine, reward,
                              FilterConfig(k=99), tmp_path, show_progress=False)
    assert sorted(map(str, again)) == sorted(map(str, scores))
    # "no filter" ablation keeps every non-leaking, distinct candidate without sampling
    loose = filter_candidates(collected, hard, failed, engine, reward,
                              FilterConfig(enabled=False), tmp_path / "loose",
                              show_progress=False)
    assert sum(s.kept for s in loose) == 4 and all(s.samples == 0 for s in loose)


def test_answer_leaks_are_dropped(tokenizer: Any, reward: RewardWorker) -> None:
    text = "A.\n\nB = 5.\n\n"
    rollout = make_rollout(tokenizer, "p", text)
    flagged = Replacement(2, "It is 7.", leaks_answer=True)
    boxed = Replacement(2, "So $\\boxed{7}$.")
    fine = Replacement(2, "B = 4.")
    from splice.trainer.collect import Collected

    item = Collected("p", rollout.rollout_id,
                     make_intervention(["A.\n\n", "B = 5.\n\n"], [flagged, boxed, fine]))
    problems = {"p": Problem("p", "?", "\\boxed{7}", "7")}
    keep, dropped = gather_candidates([item], problems, {rollout.rollout_id: rollout},
                                      tokenizer, reward)
    assert [c.replacement for c in keep] == [fine]
    assert [d.reason for d in dropped] == ["answer leak", "answer leak"]
    assert item.intervention.status is Status.FOUND_ERROR
