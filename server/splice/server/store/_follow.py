"""Waking log followers: at once on this process's commits, by polling for other processes'."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("splice.store")


class LogFollower:
    """Tracks the highest committed sequence and wakes :meth:`wait` callers when it grows.

    One poller task per store (not per waiter) reads the log's head every ``interval``
    seconds, and only while someone waits; local commits call :meth:`advance` directly.
    """

    def __init__(self, head: Callable[[], Awaitable[int]], interval: float) -> None:
        self._head = head
        self._interval = interval
        self._seen = 0
        self._event = asyncio.Event()
        self._waiters = 0
        self._poller: asyncio.Task[None] | None = None

    @property
    def seen(self) -> int:
        """The highest sequence known to be committed."""
        return self._seen

    def advance(self, sequence: int) -> None:
        """Record that ``sequence`` is committed; wake waiters if it is new."""
        if sequence > self._seen:
            self._seen = sequence
            self._event.set()
            self._event = asyncio.Event()

    async def wait(self, after: int, timeout: float) -> None:
        """Return once a sequence > ``after`` is known, or after ``timeout`` seconds."""
        if self._seen > after or timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiters += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="splice-store-log-poller")
        try:
            while self._seen <= after:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), remaining)
        finally:
            self._waiters -= 1

    async def _poll(self) -> None:
        while self._waiters > 0:
            await asyncio.sleep(self._interval)
            try:
                self.advance(await self._head())
            except Exception as exc:  # a transient read error must not kill following
                log.warning("log poll failed: %s", exc)

    async def aclose(self) -> None:
        """Stop the poller."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
