"""The test PostgreSQL (127.0.0.1:5432, database ``test``): a fresh schema per use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


async def _drop(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _drop_prefixed(prefix: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        names = [row[0] for row in await conn.fetch(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE $1",
            prefix + "%")]
    finally:
        await conn.close()
    for name in names:
        await _drop(name)
    return names


def drop_schemas(prefix: str) -> list[str]:
    """Drop the schemas whose names start with ``prefix`` (say, ones a benchmark made);
    their names."""
    return asyncio.run(_drop_prefixed(prefix))


@contextmanager
def fresh_schema_url(prefix: str) -> Iterator[str]:
    """A store URL on a new, uniquely named schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        asyncio.run(_drop(schema))


async def table_stats(schema: str, table: str, *columns: str) -> tuple[int, ...]:
    """``columns`` of ``pg_stat_user_tables`` for ``schema.table`` (say, ``n_tup_upd``)."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        row = await conn.fetchrow(
            f"SELECT {', '.join(columns)} FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = $2", schema, table)
    finally:
        await conn.close()
    assert row is not None, f"no statistics for {schema}.{table}"
    return tuple(int(value) for value in row)
