"""Shared pieces of the LLM oracle tests: tasks, backends and a fast clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from splice.server.oracles.base import OracleTask
from splice.server.oracles.llm.ledger import MemoryLedger
from splice.server.oracles.llm.oracle import (
    AnthropicOracle,
    GeminiOracle,
    LlmOracle,
    OpenAIOracle,
)
from splice.server.segmentation import segment

SECRET = "sk-test-S3CRET-0123456789abcdef"
KEY_ENV = "SPLICE_TEST_LLM_KEY"

PROBLEM = "What is $\\frac{1}{2} + \\frac{1}{3}$?"
REFERENCE = "$\\frac{1}{2} + \\frac{1}{3} = \\frac{3}{6} + \\frac{2}{6} = \\frac{5}{6}$."
ROLLOUT = ("We add the fractions.\n\n$\\frac{1}{2} + \\frac{1}{3} = \\frac{2}{5}$.\n\n"
           "So the answer is $\\frac{2}{5}$.")

BACKENDS: dict[str, tuple[type[LlmOracle], str]] = {
    "anthropic": (AnthropicOracle, ""),
    "openai": (OpenAIOracle, "/v1"),
    "gemini": (GeminiOracle, "/"),
}


def make_task(request_id: str = "r1", *, client_id: str = "c1", rollout: str = ROLLOUT,
              categorize: bool = False, options: dict[str, str] | None = None,
              reference_answer: str = "\\frac{5}{6}") -> OracleTask:
    return OracleTask(request_id=request_id, client_id=client_id, problem=PROBLEM,
                      reference_solution=REFERENCE, reference_answer=reference_answer,
                      steps=segment(rollout), categorize=categorize, options=options or {})


def make_oracle(backend: str, base_url: str, ledger: MemoryLedger, **options: Any) -> LlmOracle:
    cls, suffix = BACKENDS[backend]
    opts: dict[str, Any] = {
        "model": "test-model", "base_url": base_url + suffix, "api_key_env": KEY_ENV,
        "max_tokens": 2000, "timeout_s": 5.0, "max_attempts": 3, "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05, **options}
    return cls(f"{backend}-test", opts, ledger=ledger)


class ScaledClock:
    """``factor`` seconds of clock time per real second (a provider minute in 2 s)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.factor

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.factor)
