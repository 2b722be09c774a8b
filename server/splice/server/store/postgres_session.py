"""Session settings of every connection Splice opens to PostgreSQL."""

from __future__ import annotations


def session_settings(schema: str | None) -> dict[str, str]:
    """asyncpg ``server_settings``: the schema (if any), and a plan for each execution.

    asyncpg prepares every statement. After five runs PostgreSQL may keep one generic plan,
    and on tables that start empty that plan scans them in full (a seq scan of an empty
    table is the cheapest plan). It then stays cached as the table grows, until an ANALYZE
    invalidates it, which never comes with autovacuum off. The writer scanned
    ``interventions`` twice per commit, and throughput fell from ~1,000 to ~400 requests/s
    in 40 s. ``force_custom_plan`` plans each execution for the table as it is.
    """
    settings = {"plan_cache_mode": "force_custom_plan"}
    if schema is not None:
        settings["search_path"] = f'"{schema}"'
    return settings
