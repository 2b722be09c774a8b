"""GRPO with TRL on the tiny model, harvesting all-zero groups into a Splice server (CPU).

    python examples/trl_harvest.py [--server HOST:PORT] [--steps 2] [--model DIR]

Without ``--server`` a local server with the symbolic oracle is started; without ``--model``
a tiny model is built (about a minute on a CPU). TRL's ``GRPOTrainer`` gets
:class:`~splice.sdk.adapters.HarvestingReward`, which returns the math reward unchanged and
offers every group of the batch to a :class:`~splice.sdk.harvester.Harvester`.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from datasets import Dataset  # type: ignore[import-untyped]
from splice.sdk.adapters import HarvestingReward
from splice.sdk.harvester import Harvester
from splice.trainer.rewards import MathReward
from splice.trainer.tiny import build_tiny, toy_problems
from trl import GRPOConfig, GRPOTrainer  # type: ignore[attr-defined]

ORACLES = {"symbolic": {"backend": "symbolic", "options": {"workers": 1}}}


@contextlib.contextmanager
def server(address: str | None, workdir: Path) -> Iterator[str]:
    """``address``, or a local server with the symbolic oracle for the block."""
    if address:
        yield address
        return
    from splice.server.testing import running_server

    with running_server(workdir / "server", oracles=ORACLES,
                        default_oracle="symbolic") as local:
        yield local


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None, help="a running Splice server")
    parser.add_argument("--model", type=Path, default=None, help="default: build a tiny one")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    work = args.out or Path(tempfile.mkdtemp(prefix="trl-harvest-"))
    model = args.model or build_tiny(work / "tiny", pretrain_steps=200)
    data = Dataset.from_list([
        {"prompt": [{"role": "user", "content": p.problem}], "problem": p.problem,
         "reference_solution": p.solution(), "reference_answer": p.answer,
         "problem_id": p.problem_id} for p in toy_problems(8, seed=3)])
    config = GRPOConfig(
        output_dir=str(work / "grpo"), max_steps=args.steps, per_device_train_batch_size=4,
        num_generations=4, max_completion_length=40, learning_rate=1e-5, report_to="none",
        save_strategy="no", use_cpu=not torch.cuda.is_available(), logging_steps=1)
    math = MathReward()
    try:
        with server(args.server, work) as address, \
                Harvester(address, policy_checkpoint=str(model)) as harvester:
            reward = HarvestingReward(math, harvester)
            trainer = GRPOTrainer(model=str(model), reward_funcs=[reward], args=config,
                                  train_dataset=data)
            trainer.train()
            harvester.flush(120)
            stats = harvester.stats
    finally:
        math.close()
    print(f"groups seen {stats.groups_seen}, all zero {stats.groups_all_zero}, "
          f"sent {stats.sent}, finished {stats.finished}, by status {stats.by_status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
