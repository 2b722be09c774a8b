"""The durable store: ``open_store(url)`` picks the backend from the URL's scheme."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from splice.server.store.base import (
    Accepted,
    AcceptOutcome,
    Lease,
    RequestConflictError,
    RequestRecord,
    Store,
    StoreError,
    UnknownRequestError,
)

__all__ = [
    "AcceptOutcome",
    "Accepted",
    "Lease",
    "RequestConflictError",
    "RequestRecord",
    "Store",
    "StoreError",
    "UnknownRequestError",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store for ``url`` (call ``await store.open()`` before use).

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: one SQLite file.
    - ``postgresql://user@host:port/db[?schema=name]`` (or ``postgres://``): PostgreSQL;
      ``schema`` isolates the tables in that schema (created if missing).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ValueError(f"bad sqlite URL {url!r}: use sqlite:///relative/path.db "
                             "or sqlite:////absolute/path.db")
        path = rest[1:]
        if path == ":memory:":
            raise ValueError("sqlite in-memory databases are not supported: the store "
                             "shares its file between several connections")
        from splice.server.store.sqlite import SqliteStore

        return SqliteStore(path)
    if sep and scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), None)
        dsn = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                         if k != "schema"])))
        from splice.server.store.postgres import PostgresStore

        pg: Store = PostgresStore(dsn, schema=schema)
        return pg
    raise ValueError(f"unknown store URL {url!r}: expected sqlite:///path.db or "
                     "postgresql://user@host:port/db")
