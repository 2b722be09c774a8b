"""Rerunning one arm with the same seed (same machine, same thread count) gives bitwise
identical pass@k: the GRPO stage, the model it saves and the evaluation are all seeded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from splice.trainer.worlds.arith.experiment import ARM_NAMES, PRESETS, run_experiment


def _arm_outputs(run: Path) -> tuple[bytes, bytes]:
    seed = run / "seed0"
    return ((seed / "eval" / "standard_rl.json").read_bytes(),
            (seed / "standard_rl" / "model" / "model.safetensors").read_bytes())


def test_standard_rl_rerun_is_bitwise_identical(tmp_path: Path) -> None:
    config = dataclasses.replace(PRESETS["smoke"], arms=["standard_rl", "int_rl"],
                                 grpo_steps=2, eval_n=4)
    first = run_experiment(config, tmp_path / "a")
    second = run_experiment(config, tmp_path / "b")
    arm = ARM_NAMES["standard_rl"]
    assert first["arms"][arm] == second["arms"][arm]
    eval_a, model_a = _arm_outputs(tmp_path / "a")
    eval_b, model_b = _arm_outputs(tmp_path / "b")
    assert eval_a == eval_b and model_a == model_b
    # the arm did train: its weights moved away from the base policy's
    from splice.trainer.worlds.arith.policy import CHECKPOINT_DIR

    assert model_a != (CHECKPOINT_DIR / "model.safetensors").read_bytes()
    assert json.loads(eval_a)["n"] == config.eval_n
