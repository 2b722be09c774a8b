"""A store fixture parametrized over both backends, each test on a fresh database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from splice.server.store import Store, open_store

from tests.pg import PG_DSN, fresh_schema_url


def _postgres_available() -> str | None:
    """None if the test database answers, else why not."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed"

    async def probe() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {PG_DSN} is not reachable: {exc}"
    return None


_PG_PROBE: list[str | None] = []


def _pg_unavailable_reason() -> str | None:
    if not _PG_PROBE:
        _PG_PROBE.append(_postgres_available())
    return _PG_PROBE[0]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store: a SQLite file, or a fresh PostgreSQL schema dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    reason = _pg_unavailable_reason()
    if reason:  # PostgreSQL always runs here and in CI: its absence is a failure, not a skip
        pytest.fail(reason)
    with fresh_schema_url("t") as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open store on a fresh database."""
    s = open_store(store_url)
    await s.open()
    yield s
    await s.close()
