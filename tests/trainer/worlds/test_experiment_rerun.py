"""Rerunning one arm with the same seed (same machine, same thread count) gives bitwise
identical pass@k: the GRPO stage, the model it saves and the evaluation are all seeded. The
rerun runs its seeds in two parallel processes: that changes nothing either."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from splice.trainer.worlds.arith.experiment import ARM_NAMES, PRESETS, run_experiment


def _arm_outputs(run: Path, seed_no: int = 0) -> tuple[bytes, bytes]:
    seed = run / f"seed{seed_no}"
    return ((seed / "eval" / "standard_rl.json").read_bytes(),
            (seed / "standard_rl" / "model" / "model.safetensors").read_bytes())


def test_standard_rl_rerun_is_bitwise_identical(tmp_path: Path) -> None:
    config = dataclasses.replace(PRESETS["smoke"], arms=["standard_rl", "int_rl"],
                                 grpo_steps=2, eval_n=4, seeds=[0, 1])
    first = run_experiment(config, tmp_path / "a")
    second = run_experiment(dataclasses.replace(config, jobs=2), tmp_path / "b")
    arm = ARM_NAMES["standard_rl"]
    assert first["arms"][arm] == second["arms"][arm]
    for seed in (0, 1):
        assert _arm_outputs(tmp_path / "a", seed) == _arm_outputs(tmp_path / "b", seed)
    eval_a, model_a = _arm_outputs(tmp_path / "a")
    assert _arm_outputs(tmp_path / "a", 1)[1] != model_a  # seeds differ
    # the arm did train: its weights moved away from the base policy's
    from splice.trainer.worlds.arith.policy import CHECKPOINT_DIR

    assert model_a != (CHECKPOINT_DIR / "model.safetensors").read_bytes()
    assert json.loads(eval_a)["n"] == config.eval_n
