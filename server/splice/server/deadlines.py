"""Time limits for many concurrent calls: one timer per time slot, not one per call.

``asyncio.timeout`` arms a timer for every call and cancels it afterwards (a heap push, a
cancellation, periodic heap clean-ups): about 50 µs of event-loop time per oracle call at
the service's request rates. :class:`Deadlines` rounds each limit up to the next slot of
``resolution_s`` (50 ms by default): the first call in a slot arms that slot's one timer,
the others only join a set. A call whose slot comes due is cancelled and, as with
``asyncio.timeout``, the cancellation leaves the ``with`` block as :class:`TimeoutError`.
Only for limits much longer than the resolution (oracle calls: seconds to minutes).
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType


class Limit:
    """One call's limit: a context manager for use inside the task it limits."""

    __slots__ = ("_cancelling", "_deadlines", "_slot", "_task", "expired", "seconds")

    def __init__(self, deadlines: Deadlines, seconds: float) -> None:
        self._deadlines = deadlines
        self._task: asyncio.Task[object] | None = None
        self._slot = 0
        self._cancelling = 0
        self.seconds = seconds
        self.expired = False

    def __enter__(self) -> Limit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._slot = self._deadlines._join(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._deadlines._leave(self)
        if not self.expired or self._task is None:
            return
        # Our cancel() is undone; one that arrived besides it (the caller's) stays.
        pending = self._task.uncancel()
        if pending <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc

    def _expire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()


class Deadlines:
    """Hands out :class:`Limit` objects; see the module docstring."""

    def __init__(self, resolution_s: float = 0.05) -> None:
        self.resolution_s = resolution_s
        self._slots: dict[int, set[Limit]] = {}

    def limit(self, seconds: float) -> Limit:
        """A context manager that cancels the current task after about ``seconds``
        (never earlier; up to ``resolution_s`` later) and raises TimeoutError then."""
        return Limit(self, seconds)

    def _join(self, limit: Limit) -> int:
        if not math.isfinite(limit.seconds):
            return -1  # no limit: the slot that never comes
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + limit.seconds) / self.resolution_s)
        members = self._slots.get(slot)
        if members is None:
            members = self._slots[slot] = set()
            loop.call_at(slot * self.resolution_s, self._expire, slot)
        members.add(limit)
        return slot

    def _leave(self, limit: Limit) -> None:
        members = self._slots.get(limit._slot)
        if members is not None:
            members.discard(limit)

    def _expire(self, slot: int) -> None:
        for limit in self._slots.pop(slot, ()):
            limit._expire()
