"""``splice tokens``: create, list and revoke access tokens (stored hashed in the store)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from splice.server.config import load_settings


def add_parser(sub: Any) -> None:
    """Register ``tokens create|list|revoke``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "tokens", help="manage access tokens (clients, reviewers, admins)",
        description="Tokens live in the store named by the settings (--config, SPLICE_*); "
        "only their SHA-256 is stored. 'create' prints the token once: keep it.")
    p.add_argument("--config", type=Path, help="YAML settings file")
    p.add_argument("--store", dest="store_url", help="store URL (default: from settings)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, help="who holds it (a client's client_id)")
    create.add_argument("--role", required=True, choices=["client", "reviewer", "admin"])
    actions.add_parser("list", help="list names, roles and dates (never tokens)")
    revoke = actions.add_parser("revoke", help="revoke every token of a name")
    revoke.add_argument("--name", required=True)
    p.set_defaults(run=run)


async def _run(args: argparse.Namespace) -> int:
    from splice.server.auth import create_token
    from splice.server.review.queue import open_review_queue
    from splice.server.store import open_store

    url = load_settings(args.config, store_url=args.store_url).store_url
    async with open_store(url), open_review_queue(url) as queue:  # the store migrates
        if args.action == "create":
            print(await create_token(queue, args.name, args.role))
        elif args.action == "list":
            for t in await queue.list_tokens():
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                print(f"{t.name}\t{t.role}\t{t.created_at:%Y-%m-%d %H:%M}\t{state}")
        else:
            print(f"revoked {await queue.revoke_tokens(args.name)} token(s) of {args.name}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the tokens action."""
    try:
        return asyncio.run(_run(args))
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
