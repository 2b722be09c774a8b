"""The durable ledger of LLM provider attempts (table ``oracle_attempts``, migration 3).

:class:`StoreLedger` implements :class:`~splice.server.oracles.llm.ledger.Ledger` over a
backend that owns its own connection (``attempts_sqlite``, ``attempts_postgres``), apart
from the store's write path. Rows being written, or whose write failed, stay in an in-memory
layer that :meth:`~StoreLedger.spent` adds to the database's sums, so a budget never misses
a call that was made; failed writes are retried on the next record and at close.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import logging
import re
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from splice.server.oracles.llm.ledger import Attempt, Ledger, Spend, UsageRow, group_totals

log = logging.getLogger("splice.store.attempts")

SCHEMA_VERSION = 3
"""The store migration that creates ``oracle_attempts``."""

ATTEMPT_COLUMNS = (
    "request_id, client_id, oracle, model, purpose, sample, attempt, started_at, latency_ms, "
    "outcome, http_status, input_tokens, output_tokens, cost_usd, error, prompt_version, "
    "retry_after_s"
)
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def filters(client_id: str | None, oracle: str | None, placeholder: str,
            first: int = 2) -> tuple[str, list[str]]:
    """Extra ``AND`` conditions (constant SQL text) and their values, for the totals query."""
    sql, values = "", list[str]()
    for column, value in (("client_id", client_id), ("oracle", oracle)):
        if value is not None:
            mark = placeholder if placeholder == "?" else f"${first + len(values)}"
            sql += f" AND {column} = {mark}"
            values.append(value)
    return sql, values


class AttemptRows(abc.ABC):
    """A backend: inserts and sums rows of ``oracle_attempts`` over its own connection."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect; fails if the store has not applied migration 3."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @abc.abstractmethod
    async def insert(self, attempt: Attempt) -> None:
        """Insert one row, durably."""

    @abc.abstractmethod
    async def for_request(self, request_id: str) -> list[Attempt]:
        """Rows of ``request_id`` in insertion order."""

    @abc.abstractmethod
    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        """Sums since ``since`` (uses the ``(client_id, started_at)`` index)."""

    @abc.abstractmethod
    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        """Sums per (client, oracle) since ``since``."""


class StoreLedger(Ledger):
    """The durable ledger (see the module docstring); ``await open()`` before use."""

    def __init__(self, rows: AttemptRows) -> None:
        super().__init__()
        self.rows = rows
        self._pending: dict[int, Attempt] = {}  # being written, or failed to be
        self._failed: set[int] = set()
        self._keys = itertools.count()
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect to the store's database."""
        await self.rows.open()

    async def aclose(self) -> None:
        """Write what is still pending, then disconnect."""
        await self._flush()
        if self._failed:
            log.error("%d attempt rows could not be written and are lost", len(self._failed))
        await self.rows.close()

    async def record(self, attempt: Attempt) -> None:
        key = next(self._keys)
        self._pending[key] = attempt
        if await self._write(key, attempt) and self._failed and not self._lock.locked():
            await self._flush()

    async def _write(self, key: int, attempt: Attempt) -> bool:
        try:
            await self.rows.insert(attempt)
        except Exception as exc:  # kept pending: still counted, retried later
            log.error("cannot write attempt row of %s (kept in memory, retried): %s",
                      attempt.request_id, exc)
            self._failed.add(key)
            return False
        self._pending.pop(key, None)
        return True

    async def _flush(self) -> None:
        async with self._lock:
            for key in sorted(self._failed):
                self._failed.discard(key)
                if not await self._write(key, self._pending[key]):
                    return

    def _unwritten(self, client_id: str | None, since: datetime) -> list[Attempt]:
        return [a for a in list(self._pending.values())
                if a.started_at >= since and client_id in (None, a.client_id)]

    async def attempts(self, request_id: str) -> list[Attempt]:
        return await self.rows.for_request(request_id)

    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        # Pending rows are read after the database: a row never goes uncounted (a row that
        # commits in between may count twice, for a moment, which only errs on the safe side).
        stored = await self.rows.spent(client_id, since)
        return stored + Spend.of(self._unwritten(client_id, since))

    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        stored = await self.rows.totals(client_id, oracle, since)
        extra = [a for a in self._unwritten(client_id, since) if oracle in (None, a.oracle)]
        if not extra:
            return stored
        merged = {(r.client_id, r.oracle): r.spend for r in stored}
        for row in group_totals(extra):
            key = (row.client_id, row.oracle)
            merged[key] = merged.get(key, Spend()) + row.spend
        return [UsageRow(c, o, s) for (c, o), s in sorted(merged.items())]


def open_ledger(store_url: str) -> StoreLedger:
    """The durable ledger of the store at ``store_url`` (same URL forms as ``open_store``).

    Call ``await ledger.open()`` after the store is open (it applies the migrations).
    """
    scheme, sep, rest = store_url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "sqlite" and rest.startswith("/") and rest not in ("/", "/:memory:"):
        from splice.server.store.attempts_sqlite import SqliteAttemptRows

        return StoreLedger(SqliteAttemptRows(rest[1:]))
    if sep and scheme in ("postgresql", "postgres"):
        parts = urlsplit(store_url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), None)
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"bad schema name {schema!r}: letters, digits and _ only")
        dsn = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                         if k != "schema"])))
        from splice.server.store.attempts_postgres import PostgresAttemptRows

        return StoreLedger(PostgresAttemptRows(dsn, schema=schema))
    raise ValueError(f"no attempt ledger for store URL {store_url!r}: expected "
                     "sqlite:///path.db or postgresql://user@host:port/db")
