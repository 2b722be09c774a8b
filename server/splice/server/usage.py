"""What the LLM oracles cost: totals per client and oracle, attempt rows, batch estimates.

Plain Python over the engine's oracles and the process's ledger; ``usage_servicer``
translates it to and from protobuf.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from splice.server.engine import InterventionEngine
from splice.server.errors import InvalidArgumentError, ServiceError
from splice.server.oracles.base import Oracle, OracleTask
from splice.server.oracles.llm.cascade import CascadeOracle
from splice.server.oracles.llm.estimate import BatchEstimate, estimate_batch
from splice.server.oracles.llm.ledger import (
    Attempt,
    Budget,
    Ledger,
    Spend,
    UsageRow,
    shared_ledger,
    start_of_day,
)
from splice.server.oracles.llm.oracle import LlmOracle
from splice.server.requests import InterveneInput, segment_rollout, validate

DEFAULT_TYPICAL_OUTPUT_TOKENS = 4000


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """Totals of one client on one oracle, with the budget that applies to it."""

    client_id: str
    oracle: str
    spend: Spend
    budget: Budget | None


def _walk(oracle: Oracle) -> Iterator[Oracle]:
    yield oracle
    if isinstance(oracle, CascadeOracle):
        for part in (*oracle.stages, oracle.confirm, oracle.on_disagree):
            if part is not None:
                yield from _walk(part)


def budget_for(oracle: LlmOracle, client_id: str) -> Budget | None:
    """The budget ``oracle`` applies to ``client_id`` (its own, else ``*``), if any."""
    for key in (client_id, "*"):
        if key in oracle.settings.budgets:
            return Budget.from_options(oracle.settings.budgets[key])
    return None


class UsageReport:
    """Answers the UsageService calls."""

    def __init__(self, engine: InterventionEngine, ledger: Ledger | None = None) -> None:
        self.engine = engine
        self._ledger = ledger

    @property
    def ledger(self) -> Ledger:
        """The ledger the oracles record into."""
        return self._ledger or shared_ledger()

    def llm_oracles(self) -> dict[str, LlmOracle]:
        """Every LLM oracle of the server by name, cascade stages included."""
        found: dict[str, LlmOracle] = {}
        for description in self.engine.list_oracles():
            top = self.engine.oracles.find(description.info.name)
            for oracle in _walk(top) if top is not None else ():
                if isinstance(oracle, LlmOracle):
                    found[oracle.name] = oracle
        return found

    async def usage(self, client_id: str = "", oracle: str = "",
                    since: datetime | None = None) -> list[UsageTotal]:
        """Totals since ``since`` (default: midnight UTC), optionally of one client/oracle.

        Given a client, oracles whose budget applies to it are listed even before any call.
        """
        rows = await self.ledger.totals(client_id or None, oracle or None,
                                        since or start_of_day())
        llm = self.llm_oracles()
        seen = {(r.client_id, r.oracle) for r in rows}
        if client_id:
            rows += [UsageRow(client_id, name, Spend()) for name, o in llm.items()
                     if (client_id, name) not in seen and oracle in ("", name)
                     and budget_for(o, client_id) is not None]
        return [UsageTotal(r.client_id, r.oracle, r.spend,
                           budget_for(llm[r.oracle], r.client_id) if r.oracle in llm else None)
                for r in sorted(rows, key=lambda r: (r.client_id, r.oracle))]

    async def attempts(self, request_id: str) -> list[Attempt]:
        """Every attempt made for ``request_id``, in order."""
        if not request_id:
            raise InvalidArgumentError("request_id", "is required")
        return await self.ledger.attempts(request_id)

    async def estimate(self, inputs: Sequence[InterveneInput], oracle: str = "",
                       typical_output_tokens: int = 0) -> tuple[LlmOracle, BatchEstimate]:
        """Price ``inputs`` on ``oracle``: prompts rendered and counted, nothing sent."""
        if typical_output_tokens < 0:
            raise InvalidArgumentError("typical_output_tokens", "must not be negative")
        found = self.engine.oracles.get(oracle)
        if not isinstance(found, LlmOracle):
            raise InvalidArgumentError(
                "oracle", f"{found.name!r} ({found.backend}) is not an LLM oracle; estimates "
                f"exist for: {', '.join(sorted(self.llm_oracles())) or 'none configured'}")
        limits = self.engine.settings.limits

        def run() -> BatchEstimate:
            tasks = []
            for i, inp in enumerate(inputs):
                try:
                    validate(inp, limits)
                    rollout = segment_rollout(inp, limits)
                    found.settings.with_request(dict(inp.options))
                except ServiceError as exc:
                    exc.args = (f"requests[{i}].{exc}",)
                    raise
                except ValidationError as exc:
                    raise InvalidArgumentError(f"requests[{i}].options",
                                               exc.errors()[0]["msg"]) from None
                tasks.append(OracleTask(
                    request_id=inp.request_id, client_id=inp.client_id, problem=inp.problem,
                    reference_solution=inp.reference_solution,
                    reference_answer=inp.reference_answer, steps=rollout.steps,
                    categorize=inp.categorize, options=dict(inp.options),
                    problem_id=inp.problem_id))
            return estimate_batch(found, tasks, typical_output_tokens=typical_output_tokens
                                  or DEFAULT_TYPICAL_OUTPUT_TOKENS)

        return found, await asyncio.to_thread(run)
