"""Build (and evaluate) the arith world's base policy.

    .venv/bin/python scripts/build_base_policy.py build            # ~40 min on 2 cores
    .venv/bin/python scripts/build_base_policy.py eval             # pass@k + oracle verdicts

``build`` trains from scratch with the defaults of ``BuildConfig`` (override with flags) and
writes the checkpoint with its manifest; ``eval`` samples 32 rollouts per held-out problem
and stores ``eval.json`` next to the weights (covered by the manifest's checksums).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from splice.trainer.progress import print_table, progress_bar
from splice.trainer.worlds.arith.build_policy import (
    BuildConfig,
    build,
    held_out,
    step_accuracy,
    train_problems,
)
from splice.trainer.worlds.arith.generate import HARD, TRAIN
from splice.trainer.worlds.arith.policy import (
    CHECKPOINT_DIR,
    load_base_policy,
    read_manifest,
    write_manifest,
)

SCRIPT = Path(__file__).resolve()


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=SCRIPT.parent, capture_output=True,
                              text=True, check=False).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", str(SCRIPT), str(Path(build.__code__.co_filename)))
    return commit + ("+uncommitted-build-files" if dirty else "")


def _build(args: argparse.Namespace) -> None:
    overrides = {f.name: getattr(args, f.name) for f in fields(BuildConfig)
                 if getattr(args, f.name, None) is not None}
    config = replace(BuildConfig(), **overrides)
    with progress_bar("train", config.steps) as bar:
        def on_step(step: int, loss: float, tokens_per_s: float) -> None:
            bar.advance(1, f"loss {loss:.4f}  {tokens_per_s:.0f} tok/s")
            if step % 25 == 0 or step == config.steps - 1:
                print(f"step {step} loss {loss:.4f} tok/s {tokens_per_s:.0f}", flush=True)

        seen = train_problems(replace(config, n_problems=min(config.n_problems, 2000)))
        watch = {"TRAIN": held_out(100, config.world, seen, seed=config.seed + 7),
                 "HARD": held_out(100, HARD, seen, seed=config.seed + 8)}

        def monitor(step: int, model: Any, tokenizer: Any) -> None:
            for name, specs in watch.items():
                print(f"step {step} {name} step accuracy "
                      f"{step_accuracy(model, tokenizer, specs)}", flush=True)

        manifest = build(args.out, config, on_step,
                         {"build_script": str(SCRIPT.relative_to(SCRIPT.parents[1])),
                          "build_commit": _git_commit(), "command": " ".join(sys.argv)},
                         monitor)
    print_table("base policy", [{"parameters": manifest["parameters"],
                                 **manifest["training"], "wall_s": manifest["wall_s"]}])


def _eval(args: argparse.Namespace) -> None:
    import torch
    from splice.trainer.worlds.arith.policy_eval import evaluate_policy

    torch.set_num_threads(1)  # OpenMP threads that spin-wait crawl on a shared machine
    manifest = read_manifest(args.out)
    model, tokenizer = load_base_policy(args.out)
    config = replace(BuildConfig(), seed=manifest["build"]["seed"],
                     n_problems=manifest["data_size"], world=TRAIN)
    seen = train_problems(config)
    splits = {"TRAIN": held_out(args.problems, TRAIN, seen, seed=config.seed),
              "HARD": held_out(args.problems, HARD, seen, seed=config.seed + 1)}
    report: dict[str, Any] = {
        "step_accuracy": {name: step_accuracy(model, tokenizer, held_out(
            500, world, seen, seed=config.seed + 2 + i)) for i, (name, world) in
            enumerate((("TRAIN", TRAIN), ("HARD", HARD)))},
        **evaluate_policy(model, tokenizer, splits, n=args.n, seed=args.seed or 0),
    }
    (args.out / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    write_manifest(args.out, {k: v for k, v in manifest.items() if k != "sha256"})
    print_table("base policy on held-out problems",
                [report[name]["summary"] for name in splits])
    print_table("teacher-forced step accuracy",
                [{"split": k, **v} for k, v in report["step_accuracy"].items()])
    print_table("world-oracle verdicts on failed HARD rollouts",
                [{"verdict": k, "rollouts": v} for k, v in report["HARD"]["verdicts"].items()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("build", "eval"))
    parser.add_argument("--out", type=Path, default=CHECKPOINT_DIR)
    for f in fields(BuildConfig):
        if f.type in ("int", "float"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name,
                                type=int if f.type == "int" else float)
    parser.add_argument("--problems", type=int, default=100, help="held-out problems per split")
    parser.add_argument("--n", type=int, default=32, help="samples per problem")
    args = parser.parse_args(argv)
    (_build if args.command == "build" else _eval)(args)


if __name__ == "__main__":
    main()
