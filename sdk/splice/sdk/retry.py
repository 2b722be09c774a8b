"""Retry policy of the SDK: only retryable codes, exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from splice.sdk.errors import SpliceError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call that failed with a retryable code.

    Retrying ``Intervene`` is safe: the request_id makes it idempotent, so a retry joins the
    accepted work instead of paying for a second oracle call.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    multiplier: float = 2.0

    def should_retry(self, error: SpliceError, attempt: int) -> bool:
        """True if ``error`` on attempt number ``attempt`` (from 1) deserves another try."""
        return error.retryable and attempt < self.max_attempts

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        cap = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        return random.uniform(0, cap)


NO_RETRY = RetryPolicy(max_attempts=1)
