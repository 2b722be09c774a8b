"""The ``fake`` oracle family for tests: a scripted verdict, delay or failure.

Behaviour comes from the oracle's options, overridden per request by the task's options:
``status`` (a Status name), ``step`` (first error step), ``replacement`` (text; placed at
``step``), ``category``, ``delay_s`` (sleep before answering), ``raise`` (raise this
message), ``input_tokens``/``output_tokens``/``cost_usd`` (reported usage), ``calls_file``
(oracle option only: append each call's request_id to this file, one a line, to count
calls across processes).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from splice.sdk.types import ErrorCategory, Replacement, Status, Usage
from splice.server.oracles.base import Oracle, OracleResult, OracleTask


class FakeOracleError(RuntimeError):
    """Raised on purpose by the fake oracle when asked to."""


class FakeOracle(Oracle):
    """Scripted oracle; see the module docstring for its options."""

    backend: ClassVar[str] = "fake"
    description: ClassVar[str] = "Scripted verdicts, delays and failures for tests."
    capabilities: ClassVar[tuple[str, ...]] = ("categorize",)

    def __init__(self, name: str, options: Any = None) -> None:
        super().__init__(name, options)
        self.calls = 0

    async def intervene(self, task: OracleTask) -> OracleResult:
        self.calls += 1
        opts: dict[str, Any] = {**self.options, **task.options}
        if self.options.get("calls_file"):  # never from a request: it names a server file
            with open(self.options["calls_file"], "a") as calls:
                calls.write(task.request_id + "\n")
        delay = float(opts.get("delay_s", 0) or 0)
        if delay > 0:
            await asyncio.sleep(delay)
        if opts.get("raise"):
            raise FakeOracleError(str(opts["raise"]))
        status = Status[str(opts.get("status", "FOUND_ERROR" if "step" in opts else "NO_ERROR"))]
        step = int(opts.get("step", 0) or 0) if status is Status.FOUND_ERROR else 0
        replacements: tuple[Replacement, ...] = ()
        if step and "replacement" in opts:
            replacements = (Replacement(location=step, content=str(opts["replacement"])),)
        category = ErrorCategory[str(opts.get("category", "UNSPECIFIED"))]
        usage = Usage(
            input_tokens=int(opts.get("input_tokens", 0)),
            output_tokens=int(opts.get("output_tokens", 0)),
            cost_usd=float(opts.get("cost_usd", 0.0)),
        )
        return OracleResult(
            status=status, first_error_step=step, replacements=replacements,
            category=category if task.categorize else ErrorCategory.UNSPECIFIED,
            explanation=str(opts.get("explanation", "")), usage=usage,
        )
