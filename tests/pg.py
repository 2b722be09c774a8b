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


@contextmanager
def fresh_schema_url(prefix: str) -> Iterator[str]:
    """A store URL on a new, uniquely named schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        asyncio.run(_drop(schema))
