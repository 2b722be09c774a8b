"""The ``world:arith`` oracle: in-process, and through the real service with the SDK."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from splice.sdk import Client, InterventionRequest
from splice.sdk.types import ErrorCategory, Status, patched_prefix
from splice.server.oracles.base import OracleTask
from splice.server.oracles.registry import build_oracle
from splice.server.segmentation import segment
from splice.server.testing import start_server_process
from splice.trainer.worlds.arith import (
    HARD,
    Finding,
    ProblemSpec,
    generate,
    plant_error,
    plant_self_corrected,
    policy_solution,
    render_problem,
)
from splice.trainer.worlds.arith.requests import intervention_request, to_problem

SPEC = generate(7, HARD)  # v1 presets: a HARD problem where all four kinds can be planted


def _task(rollout: str, **fields: object) -> OracleTask:
    base: dict[str, object] = {
        "request_id": "r", "client_id": "c", "problem": render_problem(SPEC),
        "reference_solution": policy_solution(SPEC), "reference_answer": str(SPEC.answer),
        "steps": segment(rollout), "categorize": True}
    return OracleTask(**{**base, **fields})  # type: ignore[arg-type]


async def test_oracle_reads_the_spec_from_the_text_or_the_option() -> None:
    oracle = build_oracle("world", "world:arith", {})
    planted = plant_error(SPEC, Finding.WRONG_RESULT, random.Random(0))
    assert planted is not None
    by_text = await oracle.intervene(_task(planted.text))
    by_option = await oracle.intervene(_task(planted.text, problem="(reworded)",
                                             options={"world_spec": SPEC.to_json()}))
    for result in (by_text, by_option):
        assert result.status is Status.FOUND_ERROR
        assert result.first_error_step == planted.first_error_step
        assert result.category is ErrorCategory.EXECUTION
        assert result.replacements[0].location == planted.first_error_step


async def test_oracle_abstains_or_fails_when_it_cannot_tell() -> None:
    oracle = build_oracle("world", "world:arith", {})
    good = policy_solution(SPEC)
    assert (await oracle.intervene(_task(good, problem="What is 2 + 2?"))).status is (
        Status.ABSTAINED)
    assert (await oracle.intervene(_task(good, reference_answer="-1"))).status is (
        Status.ABSTAINED)
    failed = await oracle.intervene(_task(good, options={"world_spec": "{not json"}))
    assert failed.status is Status.FAILED and failed.failure is not None
    assert (await oracle.intervene(_task(good, categorize=False))).status is Status.NO_ERROR


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    workdir: Path = tmp_path_factory.mktemp("world-srv")
    proc = start_server_process(
        {"oracles": {"world": {"backend": "world:arith"}}, "default_oracle": "world"}, workdir)
    try:
        with Client(proc.address) as c:
            yield c
    finally:
        proc.terminate()


def test_service_finds_planted_errors_and_leaves_correct_ones(client: Client) -> None:
    rng = random.Random(1)
    cases: list[tuple[str, int, ErrorCategory]] = []
    for kind in (Finding.WRONG_RESULT, Finding.WRONG_OPERAND, Finding.SKIPPED_STEP,
                 Finding.WRONG_ORDER):
        planted = plant_error(SPEC, kind, rng)
        assert planted is not None
        category = ErrorCategory.HIGH_LEVEL if kind is Finding.WRONG_ORDER else (
            ErrorCategory.EXECUTION)
        cases.append((planted.text, planted.first_error_step, category))
    cases.append((plant_self_corrected(SPEC, rng).text, 0, ErrorCategory.UNSPECIFIED))
    cases.append((policy_solution(SPEC), 0, ErrorCategory.UNSPECIFIED))
    problem = to_problem(SPEC)
    requests = [InterventionRequest(
        problem=problem.problem, reference_solution=problem.reference_solution,
        reference_answer=problem.reference_answer, rollout=text, categorize=True)
        for text, _, _ in cases]
    results = client.intervene_many(requests)
    for (text, step, category), result in zip(cases, results, strict=True):
        assert not isinstance(result, Exception)
        assert result.first_error_step == step, (text, result.explanation)
        assert result.status is (Status.FOUND_ERROR if step else Status.NO_ERROR)
        assert result.category is category
        if step:  # the replacement is the correct line, spliced onto the on-policy prefix
            patched = patched_prefix(result, result.replacements[0])
            assert patched.startswith(text[:result.steps[step - 1].char_start])
    assert {o.info.backend for o in client.oracles()} == {"world:arith"}


def test_service_takes_the_spec_from_the_trainer_helper(client: Client) -> None:
    spec = ProblemSpec.from_json(SPEC.to_json())
    planted = plant_error(spec, Finding.SKIPPED_STEP, random.Random(2))
    assert planted is not None
    request = intervention_request(spec, planted.text, categorize=True)
    assert request.options["world_spec"] == spec.to_json()
    result = client.intervene(request)
    assert result.status is Status.FOUND_ERROR
    assert result.first_error_step == planted.first_error_step
    assert result.problem_id == request.problem_id
