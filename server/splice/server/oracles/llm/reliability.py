"""Retries (tenacity), a requests/tokens-per-window limiter and a circuit breaker.

Time comes from an injectable :class:`Clock`, so tests can run a minute of provider time in a
few seconds and the behaviour under test is the one that runs in production.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
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
    rejects. A request counts from when it is sent until ``window_s`` after its *answer*
    came back (:meth:`release`): the provider counted it somewhere in between, so however
    late it arrived there (a busy event loop, a slow network), no window can overflow.
    Waiters are served in arrival order.
    """

    def __init__(self, rpm: int | None = None, tpm: int | None = None, *,
                 window_s: float = 60.0, clock: Clock | None = None) -> None:
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self.clock = clock or MonotonicClock()
        self._log: dict[int, tuple[float, int, bool]] = {}  # ticket -> (stamp, tokens, done)
        self._next = 0
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a provider answered 429 with ``retry-after``)."""
        self._paused_until = max(self._paused_until, self.clock.now() + seconds)

    async def acquire(self, tokens: int = 0) -> int:
        """Wait for room for one request of ``tokens``; returns a ticket for :meth:`release`."""
        self._next += 1
        ticket = self._next
        if self.rpm is None and self.tpm is None:
            return ticket
        async with self._lock:
            while True:
                now = self.clock.now()
                self._log = {k: v for k, v in self._log.items()
                             if not (v[2] and v[0] <= now - self.window_s)}
                wait = self._paused_until - now
                if wait <= 0:
                    wait = self._room_wait(now, tokens)
                if wait == 0:
                    self._log[ticket] = (now, tokens, False)
                    return ticket
                self._released.clear()
                if wait < 0:  # everything counted is still in flight: wait for an answer
                    await self._released.wait()
                    continue
                sleeper = asyncio.ensure_future(self.clock.sleep(wait))
                released = asyncio.ensure_future(self._released.wait())
                _, pending = await asyncio.wait({sleeper, released},
                                                return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()

    def release(self, ticket: int) -> None:
        """The request's answer came back: its window now runs from this moment."""
        entry = self._log.get(ticket)
        if entry is not None:
            self._log[ticket] = (self.clock.now(), entry[1], True)
            self._released.set()

    def _room_wait(self, now: float, tokens: int) -> float:
        """0 when the request fits; else seconds until it may (-1: until a release)."""
        entries = self._log.values()
        over_rpm = self.rpm is not None and len(self._log) >= self.rpm
        used = sum(e[1] for e in entries)
        over_tpm = self.tpm is not None and bool(self._log) and used + tokens > self.tpm
        if not (over_rpm or over_tpm):
            return 0.0
        done = sorted((e[0], e[1]) for e in entries if e[2])
        need_calls = len(self._log) - self.rpm + 1 if over_rpm and self.rpm is not None else 0
        need_tokens = used + tokens - self.tpm if over_tpm and self.tpm is not None else 0
        freed_tokens = 0
        for freed_calls, (stamp, used_tokens) in enumerate(done, 1):
            freed_tokens += used_tokens
            if freed_calls >= need_calls and freed_tokens >= need_tokens:
                return max(stamp + self.window_s - now, 1e-3)
        return -1.0


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
        self._probe_at = 0.0

    @property
    def is_open(self) -> bool:
        """True while calls fail fast (open and not yet due for a probe)."""
        return self.state is BreakerState.OPEN and \
            self.clock.now() - self._opened_at < self.reset_s

    def check(self) -> None:
        """Raise ``ProviderError(UNAVAILABLE)`` unless a call may go out now."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN and \
                self.clock.now() - self._opened_at >= self.reset_s:
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        stale = self.clock.now() - self._probe_at >= self.reset_s  # a probe that never ended
        if self.state is BreakerState.HALF_OPEN and (not self._probing or stale):
            self._probing, self._probe_at = True, self.clock.now()
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
