"""``splice-train``: run the InT loop (``run``), one stage, or build a tiny test model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from splice.trainer.pipeline import STAGES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="splice-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", *STAGES):
        cmd = sub.add_parser(name, help="all stages, skipping finished ones" if name == "run"
                             else f"the {name} stage only")
        cmd.add_argument("config", type=Path, help="run configuration (YAML)")
        cmd.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="KEY=VALUE", help="override a setting, e.g. mine.n=8")
        cmd.add_argument("--force", action="store_true",
                         help="run even if the stage is done" if name != "run"
                         else "rerun every stage")
    tiny = sub.add_parser("tiny", help="build a tiny test model (tokenizer + Qwen2)")
    tiny.add_argument("out", type=Path)
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--pretrain-steps", type=int, default=450)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``splice-train``."""
    args = _parser().parse_args(argv)
    if args.command == "tiny":
        from splice.trainer.tiny import build_tiny

        print(build_tiny(args.out, seed=args.seed, pretrain_steps=args.pretrain_steps))
        return 0
    from splice.trainer.config import load_config
    from splice.trainer.pipeline import run_all, run_stage

    config = load_config(args.config, args.overrides)
    if args.command == "run":
        run_all(config, force=STAGES if args.force else ())
    else:
        run_stage(config, args.command, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
