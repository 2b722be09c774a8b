"""``splice estimate``: what a batch would cost on an LLM oracle, before it is sent."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from splice.server.cli.common import add_target, dumps


def add_parser(sub: Any) -> None:
    """Register ``estimate``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "estimate", help="dry-run cost estimate of a batch on an LLM oracle",
        description="Render the prompts of the requests in --file (JSON or JSONL, as for "
        "'splice intervene') on the server, count their tokens and price them; nothing is "
        "sent to the provider. Prints one JSON object.")
    add_target(p)
    p.add_argument("--oracle", default="", help="LLM oracle name (default: the server's)")
    p.add_argument("--file", required=True, help="JSON or JSONL file ('-' for stdin)")
    p.add_argument("--typical-output-tokens", type=int, default=0,
                   help="expected answer length per call (default: the server's, 4000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the estimate as JSON."""
    from splice.sdk import Client, SpliceError
    from splice.server.cli.intervene import requests_from_file

    requests = requests_from_file(args.file)
    with Client(args.target, timeout=args.timeout) as client:
        try:
            estimate = client.estimate(requests, args.oracle,
                                       typical_output_tokens=args.typical_output_tokens)
        except SpliceError as exc:
            print(f"error: {exc.code.name}: {exc.message}", file=sys.stderr)
            return 1
    print(dumps(estimate))
    return 0
