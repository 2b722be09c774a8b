"""The ``noop`` oracle: answers NO_ERROR at once; measures the service, not an oracle."""

from __future__ import annotations

from typing import ClassVar

from splice.sdk.types import Status
from splice.server.oracles.base import Oracle, OracleResult, OracleTask


class NoopOracle(Oracle):
    """Answers ``NO_ERROR`` without looking at the task (for benchmarks)."""

    backend: ClassVar[str] = "noop"
    description: ClassVar[str] = "Answers NO_ERROR immediately; for benchmarks."
    free: ClassVar[bool] = True

    async def intervene(self, task: OracleTask) -> OracleResult:
        return OracleResult(status=Status.NO_ERROR)
