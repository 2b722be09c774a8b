"""The ``splice`` command: serve, intervene, oracles, usage, estimate, tokens."""

from __future__ import annotations

import argparse
import sys

from splice.server.cli import estimate, intervene, oracles, serve, tokens, usage


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``splice`` console script."""
    parser = argparse.ArgumentParser(
        prog="splice", description="Splice: the oracle service of interventional training (InT).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, intervene, oracles, usage, estimate, tokens):
        module.add_parser(sub)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
