"""Ownership leases of RUNNING work: keep this process's alive, take over expired ones.

Every accepted request is leased to the process that runs it. A live process renews its
leases every ``lease_s / 3``; a process that dies stops renewing, and once its leases
expire another process (or the next start) claims the rows and reruns them. So no process
reruns work that a live one is still doing: a paid oracle call is never repeated while its
first caller lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Collection

from splice.server.store.base import RequestRecord, Store

log = logging.getLogger("splice.leases")

CLAIM_BATCH = 500


def new_owner_id() -> str:
    """A unique id of this process as a lease owner: host and pid (for ops), then a uuid4."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


class LeaseKeeper:
    """Renews the leases of ``running()`` and hands expired rows to ``resume`` (if given)."""

    def __init__(
        self, store: Store, owner: str, lease_s: float, *,
        running: Callable[[], Collection[str]],
        resume: Callable[[RequestRecord], None] | None,
    ) -> None:
        self.store, self.owner, self.lease_s = store, owner, lease_s
        self._running, self._resume = running, resume
        self._renewer: asyncio.Task[None] | None = None
        self._claimer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Claim what expired while nobody was running it, then keep both loops going."""
        self._renewer = asyncio.create_task(self._renew_loop(), name="splice-lease-renew")
        if self._resume is not None:
            await self.claim()
            self._claimer = asyncio.create_task(self._claim_loop(), name="splice-lease-claim")

    async def claim(self) -> int:
        """Take over every expired RUNNING row (in batches); returns how many."""
        assert self._resume is not None
        total = 0
        while True:
            records = await self.store.claim_expired(self.owner, self.lease_s, CLAIM_BATCH)
            for record in records:
                self._resume(record)
            total += len(records)
            if len(records) < CLAIM_BATCH:
                return total

    async def stop_claiming(self) -> None:
        """Take over nothing more (shutdown has begun); this process's leases stay renewed."""
        await _cancel(self._claimer)
        self._claimer = None

    async def close(self) -> None:
        """Stop renewing too: what is left expires and is taken over elsewhere or later."""
        await self.stop_claiming()
        await _cancel(self._renewer)
        self._renewer = None

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            ids = list(self._running())
            if not ids:
                continue
            try:
                renewed = await self.store.renew_leases(self.owner, ids, self.lease_s)
            except Exception as exc:  # the store may come back before the leases expire
                log.warning("renewing %d leases failed: %s", len(ids), exc)
                continue
            if renewed < len(ids):  # finished meanwhile, or taken over after a long stall
                log.debug("renewed %d of %d leases", renewed, len(ids))

    async def _claim_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 2)
            try:
                claimed = await self.claim()
            except Exception as exc:
                log.warning("claiming expired work failed: %s", exc)
                continue
            if claimed:
                log.info("took over %d requests whose process stopped renewing", claimed)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
