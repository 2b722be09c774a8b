"""Collector (Algorithm 1, lines 2-8): send failed rollouts to the oracle service.

Each request_id is a hash of the oracle, the problem and the rollout text, so a rerun after a
crash re-sends only what is missing and the server's idempotency makes even a re-sent
request free: no paid oracle call is lost or repeated. Results are appended to
``interventions.jsonl`` after every chunk; unfinished ones (errors, PENDING) are sent again
on the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from splice.sdk import InterventionRequest, SpliceError
from splice.sdk.types import Intervention, Status
from splice.trainer.patching import intervention_from_json, intervention_to_json
from splice.trainer.progress import print_table, progress_bar
from splice.trainer.records import JsonlWriter, Problem, Rollout, digest, read_jsonl

INTERVENTIONS, ERRORS = "interventions.jsonl", "collect_errors.jsonl"


@dataclass
class CollectConfig:
    """Where the service is, which oracle, how many rollouts per problem and in flight."""

    server: str = "127.0.0.1:50051"
    oracle: str = ""
    client_id: str = "splice-trainer"
    rollouts_per_problem: int = 1
    concurrency: int = 16
    chunk_size: int = 64
    timeout_s: float = 600.0
    categorize: bool = False
    skip_truncated: bool = False


class InterventionClient(Protocol):
    """What the collector needs of :class:`splice.sdk.Client`."""

    def intervene_many(
        self, requests: Iterable[InterventionRequest], *, concurrency: int = ...,
        timeout: float | None = ..., return_exceptions: bool = ...,
    ) -> list[Intervention | SpliceError]: ...


@dataclass
class Collected:
    """One finished intervention and the rollout it was made on."""

    problem_id: str
    rollout_id: str
    intervention: Intervention


@dataclass
class CollectResult:
    """Finished interventions, errors of this run, and the oracle cost of all of them."""

    interventions: list[Collected]
    errors: int = 0
    cost_usd: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)


def request_id_for(problem: Problem, rollout: Rollout, oracle: str) -> str:
    """Deterministic idempotency key of one (oracle, problem, rollout) intervention."""
    return "int-" + digest(oracle, problem.problem_id, problem.problem,
                           problem.reference_solution, rollout.text)


def select_rollouts(hard_set: Sequence[Problem], failed: Sequence[Rollout],
                    config: CollectConfig) -> list[tuple[Problem, Rollout]]:
    """Up to ``rollouts_per_problem`` distinct failed rollouts of each hard problem."""
    by_problem: dict[str, list[Rollout]] = {}
    for r in failed:
        if config.skip_truncated and r.finish_reason != "stop":
            continue
        group = by_problem.setdefault(r.problem_id, [])
        if len(group) < config.rollouts_per_problem and all(g.text != r.text for g in group):
            group.append(r)
    return [(p, r) for p in hard_set for r in by_problem.get(p.problem_id, [])]


def load_collected(out_dir: Path) -> list[Collected]:
    """Finished interventions in ``out_dir`` (the last row of a request_id wins)."""
    rows: dict[str, Collected] = {}
    for row in read_jsonl(out_dir / INTERVENTIONS):
        item = intervention_from_json(row["intervention"])
        if item.status.finished:
            rows[item.request_id] = Collected(row["problem_id"], row["rollout_id"], item)
    return list(rows.values())


def collect_interventions(hard_set: Sequence[Problem], failed: Sequence[Rollout],
                          client: InterventionClient, config: CollectConfig, out_dir: Path,
                          show_progress: bool = True) -> CollectResult:
    """Send the selected rollouts that have no finished intervention yet; write the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = {c.intervention.request_id: c for c in load_collected(out_dir)}
    todo: list[tuple[InterventionRequest, Rollout]] = []
    for problem, rollout in select_rollouts(hard_set, failed, config):
        rid = request_id_for(problem, rollout, config.oracle)
        if rid in done:
            continue
        todo.append((InterventionRequest(
            problem=problem.problem, reference_solution=problem.reference_solution,
            reference_answer=problem.reference_answer, problem_id=problem.problem_id,
            rollout=rollout.text, oracle=config.oracle, request_id=rid,
            client_id=config.client_id, categorize=config.categorize,
            provenance=rollout.provenance.to_sdk()), rollout))
    result = CollectResult(list(done.values()))
    result.cost_usd = sum(c.intervention.usage.cost_usd for c in result.interventions)
    total = len(todo) + len(done)
    with progress_bar("collect", total, show_progress) as bar, \
            JsonlWriter(out_dir / INTERVENTIONS) as log, JsonlWriter(out_dir / ERRORS) as errors:
        bar.advance(len(done), info=f"${result.cost_usd:.4f}")
        for start in range(0, len(todo), config.chunk_size):
            chunk = todo[start:start + config.chunk_size]
            answers = client.intervene_many([req for req, _ in chunk],
                                            concurrency=config.concurrency,
                                            timeout=config.timeout_s, return_exceptions=True)
            for (req, rollout), answer in zip(chunk, answers, strict=True):
                _record(req, rollout, answer, result, log, errors)
                bar.advance(info=f"${result.cost_usd:.4f} errors {result.errors}")
    for c in result.interventions:
        name = c.intervention.status.name
        result.by_status[name] = result.by_status.get(name, 0) + 1
    print_table("collector", [{**result.by_status, "errors": result.errors,
                               "cost_usd": result.cost_usd}], show_progress)
    return result


def _record(req: InterventionRequest, rollout: Rollout, answer: Intervention | SpliceError,
            result: CollectResult, log: JsonlWriter, errors: JsonlWriter) -> None:
    if isinstance(answer, SpliceError):
        result.errors += 1
        errors.write({"request_id": req.request_id, "error": type(answer).__name__,
                      "message": str(answer)})
        return
    row: dict[str, Any] = {"problem_id": req.problem_id, "rollout_id": rollout.rollout_id,
                           "intervention": intervention_to_json(answer)}
    log.write(row)
    if answer.status.finished:
        result.interventions.append(Collected(req.problem_id, rollout.rollout_id, answer))
        result.cost_usd += answer.usage.cost_usd
    elif answer.status is not Status.PENDING:
        result.errors += 1
