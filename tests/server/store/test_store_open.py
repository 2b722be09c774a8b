"""open_store URLs and forward-only schema migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from splice.server.store import StoreError, open_store
from splice.server.store import sqlite_sql as sqlite_sql
from splice.server.store.postgres import PostgresStore
from splice.server.store.sqlite import SqliteStore

from .helpers import make_record


def test_sqlite_urls() -> None:
    relative = open_store("sqlite:///data/splice.db")
    assert isinstance(relative, SqliteStore) and relative.path == "data/splice.db"
    absolute = open_store("sqlite:////var/lib/splice.db")
    assert isinstance(absolute, SqliteStore) and absolute.path == "/var/lib/splice.db"
    for bad in ("sqlite://splice.db", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="sqlite"):
            open_store(bad)


def test_postgres_urls() -> None:
    store = open_store("postgresql://u@db:5433/splice?schema=tenant_a&sslmode=disable")
    assert isinstance(store, PostgresStore)
    assert store.schema == "tenant_a" and store.dsn == "postgresql://u@db:5433/splice?sslmode=disable"
    plain = open_store("postgres://u@db/splice")
    assert isinstance(plain, PostgresStore) and plain.schema is None
    with pytest.raises(ValueError, match="schema"):
        open_store("postgresql://u@db/splice?schema=a;drop")


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unknown store URL 'mysql://x'"):
        open_store("mysql://x")
    with pytest.raises(ValueError, match="unknown store URL"):
        open_store("splice.db")


async def test_sqlite_migrations_are_recorded_and_forward_only(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    for _ in range(2):  # a second open applies nothing
        store = SqliteStore(path)
        await store.open()
        await store.accept(make_record(f"r{_}", text=str(_)))
        await store.close()
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, len(sqlite_sql.MIGRATIONS) + 1))
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)",
                     (len(sqlite_sql.MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer"):
        await SqliteStore(path).open()


async def test_migrations_on_every_backend(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    await store.close()
    again = open_store(store_url)  # reopening an up-to-date schema is a no-op
    await again.open()
    assert await again.last_sequence() == 0
    await again.close()
    if isinstance(again, PostgresStore):
        import asyncpg

        conn = await asyncpg.connect(again.dsn)
        try:
            await conn.execute(f"INSERT INTO {again.schema}.schema_migrations (version) "
                               "SELECT MAX(version) + 1 FROM " f"{again.schema}.schema_migrations")
        finally:
            await conn.close()
        with pytest.raises(StoreError, match="newer"):
            await open_store(store_url).open()
