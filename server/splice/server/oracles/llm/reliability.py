"""Retries (tenacity), a requests/tokens-per-window limiter and a circuit breaker.

Time comes from an injectable :class:`Clock`, so tests can run a minute of provider time in a
few seconds and the behaviour under test is the one that runs in production.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import tenacity
from splice.server.oracles.llm.providers.base import ErrorKind, ProviderError

T = TypeVar("T")


class Clock(Protocol):
    """Monotonic time and sleeping, in seconds."""

    def now(self) -> float:
        """Current monotonic time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a provider's ``retry-after`` wins when given."""

    max_attempts: int = 5
    initial_s: float = 1.0
    max_s: float = 60.0
    max_retry_after_s: float = 300.0

    def wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.max_s, self.initial_s * 2 ** (state.attempt_number - 1))
        jittered = random.uniform(0, backoff)
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            return min(self.max_retry_after_s, exc.retry_after) + random.uniform(0, 0.1)
        return jittered

    async def run(self, attempt: Callable[[], Awaitable[T]], clock: Clock) -> T:
        """Call ``attempt`` until it succeeds, fails for good, or attempts run out."""
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, ProviderError) and e.retryable),
            wait=self.wait, sleep=clock.sleep, reraise=True,
        )
        return await retrying(attempt)


class RateLimiter:
    """At most ``rpm`` requests and ``tpm`` tokens in any sliding window of ``window_s``.

    A sliding log, not a token bucket: a bucket lets a full burst through at the end of one
    minute and another at the start of the next, which a provider's per-minute counter
    rejects. Waiters are served in arrival order.
    """

    def __init__(self, rpm: int | None = None, tpm: int | None = None, *,
                 window_s: float = 60.0, clock: Clock | None = None) -> None:
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self.clock = clock or MonotonicClock()
        self._log: deque[tuple[float, int]] = deque()
        self._tokens = 0
        self._lock = asyncio.Lock()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a provider answered 429 with ``retry-after``)."""
        self._paused_until = max(self._paused_until, self.clock.now() + seconds)

    async def acquire(self, tokens: int = 0) -> float:
        """Wait for room for one request of ``tokens``; returns the seconds waited."""
        if self.rpm is None and self.tpm is None:
            return 0.0
        start = self.clock.now()
        async with self._lock:
            while True:
                now = self.clock.now()
                while self._log and self._log[0][0] <= now - self.window_s:
                    self._tokens -= self._log.popleft()[1]
                wait = self._paused_until - now
                if wait <= 0:
                    wait = self._room_wait(now, tokens)
                if wait <= 0:
                    self._log.append((now, tokens))
                    self._tokens += tokens
                    return now - start
                await self.clock.sleep(wait)

    def _room_wait(self, now: float, tokens: int) -> float:
        if self.rpm is not None and len(self._log) >= self.rpm:
            return self._log[len(self._log) - self.rpm][0] + self.window_s - now
        if self.tpm is not None and self._log and self._tokens + tokens > self.tpm:
            need, freed = self._tokens + tokens - self.tpm, 0
            for stamp, used in self._log:
                freed += used
                if freed >= need:
                    return stamp + self.window_s - now
        return 0.0


class BreakerState(enum.StrEnum):
    """Circuit breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Fails fast while a provider is down; lets one probe through after ``reset_s``.

    ``failure_threshold`` consecutive provider-down failures (5xx, timeouts, connection
    errors) open it; a success closes it; a failed probe opens it again.
    """

    def __init__(self, failure_threshold: int = 5, reset_s: float = 30.0,
                 clock: Clock | None = None) -> None:
        self.failure_threshold, self.reset_s = failure_threshold, reset_s
        self.clock = clock or MonotonicClock()
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    def check(self) -> None:
        """Raise ``ProviderError(UNAVAILABLE)`` unless a call may go out now."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN and \
                self.clock.now() - self._opened_at >= self.reset_s:
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        retry_in = max(0.0, self._opened_at + self.reset_s - self.clock.now())
        raise ProviderError(ErrorKind.UNAVAILABLE,
                            f"provider marked down after {self._failures} failures; "
                            f"next probe in {retry_in:.0f} s", retry_after=retry_in)

    def record(self, error: ProviderError | None) -> None:
        """Record an attempt's outcome (None: success)."""
        if error is None or not error.kind.provider_down:
            if error is None or self.state is BreakerState.HALF_OPEN:
                self.state, self._failures, self._probing = BreakerState.CLOSED, 0, False
            return
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self.state, self._opened_at, self._probing = BreakerState.OPEN, self.clock.now(), False
