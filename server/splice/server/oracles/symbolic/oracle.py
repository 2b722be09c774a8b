"""The ``symbolic`` oracle: sympy + math-verify, the embedded default that needs no key.

Options: ``workers`` (processes, default min(2, CPUs)), ``time_limit_s`` (hard limit per task,
default 2), ``memory_limit_mb`` (address-space cap per worker, default 1024).

A rollout that the checker cannot finish within the limit is answered ``ABSTAINED`` with the
explanation "checker time limit": the oracle could not tell, which is exactly what ABSTAINED
means (a cascade then asks the next oracle), while FAILED would invite a pointless retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from splice.sdk.types import ErrorCategory, FailureReason, Replacement, Status
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.server.oracles.symbolic.pool import (
    PoolClosed,
    WorkerCrashed,
    WorkerPool,
    WorkerTimeout,
    default_size,
)
from splice.server.oracles.symbolic.verdict import Analysis, analyse, warmup

DEFAULT_TIME_LIMIT_S = 2.0
DEFAULT_MEMORY_LIMIT_MB = 1024


class SymbolicOracle(Oracle):
    """Finds the first false arithmetic claim; otherwise checks the boxed answer."""

    backend: ClassVar[str] = "symbolic"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "sympy + math-verify checker: the first false arithmetic claim not corrected later, "
        "with a corrected replacement step; NO_ERROR when the boxed answer matches the "
        "reference, ABSTAINED otherwise."
    )
    capabilities: ClassVar[tuple[str, ...]] = ("categorize", "replacements")
    cost_model: ClassVar[str] = "free (local CPU)"
    free: ClassVar[bool] = True

    def __init__(self, name: str, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, options)
        self.time_limit_s = float(self.options.get("time_limit_s", DEFAULT_TIME_LIMIT_S))
        self.workers = int(self.options.get("workers", default_size()))
        self.memory_limit_mb = int(
            self.options.get("memory_limit_mb", DEFAULT_MEMORY_LIMIT_MB)
        )
        if self.time_limit_s <= 0 or self.workers < 1 or self.memory_limit_mb < 0:
            raise ValueError("symbolic oracle: time_limit_s, workers must be positive")
        self._pool: WorkerPool | None = None

    @property
    def pool(self) -> WorkerPool | None:
        """The worker pool, once started."""
        return self._pool

    async def start(self) -> None:
        if self._pool is None:
            pool = WorkerPool(
                self.workers, memory_limit=self.memory_limit_mb << 20, warmup=warmup
            )
            await pool.start()
            self._pool = pool

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    async def intervene(self, task: OracleTask) -> OracleResult:
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        steps = [step.content for step in task.steps]
        try:
            analysis: Analysis = await self._pool.run(
                analyse, task.reference_solution, task.reference_answer, steps,
                time_limit_s=self.time_limit_s,
            )
        except WorkerTimeout as exc:
            return OracleResult(status=Status.ABSTAINED, explanation=f"{exc}; worker replaced")
        except WorkerCrashed as exc:
            return OracleResult(status=Status.ABSTAINED, explanation=f"{exc}; worker replaced")
        except PoolClosed as exc:
            return OracleResult.failed(FailureReason.INTERNAL, str(exc), retryable=True)
        except RuntimeError as exc:
            return OracleResult.failed(FailureReason.ORACLE_ERROR, str(exc))
        return _to_result(analysis, task)


def _to_result(analysis: Analysis, task: OracleTask) -> OracleResult:
    status = Status[analysis.status]
    if status is not Status.FOUND_ERROR:
        return OracleResult(status=status, explanation=analysis.explanation)
    replacements: tuple[Replacement, ...] = ()
    if analysis.replacement and 1 <= analysis.step <= len(task.steps):
        replacements = (Replacement(location=analysis.step, content=analysis.replacement),)
    return OracleResult(
        status=status, first_error_step=analysis.step, replacements=replacements,
        category=ErrorCategory.EXECUTION if task.categorize else ErrorCategory.UNSPECIFIED,
        explanation=analysis.explanation,
    )
