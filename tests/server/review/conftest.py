"""Fixtures of the review tests: a store and its review queue, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from splice.server.review.desk import ReviewDesk
from splice.server.review.queue import ReviewQueue, TaskContent, open_review_queue
from splice.server.store import Store, open_store

from tests.pg import fresh_schema_url
from tests.server.store.conftest import (  # noqa: F401 - store_url: the parametrized fixture
    _pg_unavailable_reason,
    store_url,
)
from tests.server.store.helpers import make_record


@dataclass
class Env:
    """An open store, its review queue and a desk over both."""

    url: str
    store: Store
    queue: ReviewQueue
    desk: ReviewDesk

    async def add_task(self, request_id: str, *, priority: int = 0, overlap: int = 1,
                       categorize: bool = True) -> None:
        """Accept a PENDING request in the store and queue it for review."""
        record = make_record(request_id, text=request_id, pending=True)
        await self.store.accept(record)
        await self.queue.enqueue(request_id, TaskContent(
            problem=record.problem, reference_solution=record.reference_solution,
            reference_answer=record.reference_answer, problem_id=record.problem_id,
            steps=tuple(s.content for s in record.steps), categorize=categorize),
            priority=priority, overlap=overlap)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped after the test)."""
    reason = _pg_unavailable_reason()
    if reason:
        pytest.fail(reason)
    with fresh_schema_url("rv") as url:
        yield url


@pytest.fixture
async def env(store_url: str) -> AsyncIterator[Env]:  # noqa: F811
    """An empty store and queue; leases of 30 s unless a test says otherwise."""
    store = open_store(store_url)
    await store.open()
    queue = open_review_queue(store_url)
    await queue.open()
    yield Env(store_url, store, queue, ReviewDesk(queue, store, lease_s=30.0))
    await queue.close()
    await store.close()
