"""Trainer-side helpers: arith-world problems as trainer records and oracle requests.

The ``world:arith`` oracle reads a problem's spec from the request option ``world_spec``
(JSON) and falls back to parsing the problem text; requests built here always carry the
option, so the oracle never depends on the wording.
"""

from __future__ import annotations

from typing import Any

from splice.sdk import InterventionRequest
from splice.trainer.records import Problem, digest
from splice.trainer.worlds.arith import WORLD_SPEC_OPTION
from splice.trainer.worlds.arith.solutions import policy_solution
from splice.trainer.worlds.arith.spec import ProblemSpec
from splice.trainer.worlds.arith.text import render_problem


def problem_id(spec: ProblemSpec) -> str:
    """A stable id of the problem as written (spec and wording)."""
    return "arith-" + digest(spec.to_json(), size=16)


def to_problem(spec: ProblemSpec) -> Problem:
    """The trainer's record: text, policy-style reference solution and answer."""
    return Problem(problem_id=problem_id(spec), problem=render_problem(spec),
                   reference_solution=policy_solution(spec), reference_answer=str(spec.answer))


def world_options(spec: ProblemSpec) -> dict[str, str]:
    """The request options that hand ``spec`` to the ``world:arith`` oracle."""
    return {WORLD_SPEC_OPTION: spec.to_json()}


def intervention_request(spec: ProblemSpec, rollout: str, **fields: Any) -> InterventionRequest:
    """A request for one rollout of ``spec``; ``fields`` are further InterventionRequest
    fields (``oracle``, ``request_id``, ``categorize``, ``options`` to merge, ...)."""
    problem = to_problem(spec)
    options = {**world_options(spec), **dict(fields.pop("options", {}))}
    return InterventionRequest(
        problem=problem.problem, reference_solution=problem.reference_solution,
        reference_answer=problem.reference_answer, problem_id=problem.problem_id,
        rollout=rollout, options=options, **fields,
    )
