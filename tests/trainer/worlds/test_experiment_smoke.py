"""The comparison end to end at smoke size (real server, real stages): its table, plot and
report exist and the report's numbers are the JSON results'."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from splice.trainer.worlds.arith.experiment import (
    ALL_ARMS,
    ARM_NAMES,
    PRESETS,
    run_experiment,
)
from splice.trainer.worlds.arith.experiment_report import (
    PLOT,
    REPORT,
    RESULTS,
    aux_rows,
    table_rows,
)


def test_smoke_experiment_writes_agreeing_outputs(tmp_path: Path) -> None:
    grid = {"grpo_lr": [1e-5, 5e-5], "sft_lr": [3e-4], "sft_epochs": [1, 2]}
    config = dataclasses.replace(PRESETS["smoke"], arms=list(ALL_ARMS), tune=True, grid=grid,
                                 val=2, val_n=2, tune_steps=1)
    results = run_experiment(config, tmp_path)
    assert json.loads((tmp_path / RESULTS).read_text()) == results
    assert (tmp_path / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / REPORT).read_text()
    assert "REDUCED RUN" in report
    assert list(results["arms"]) == [ARM_NAMES[a] for a in ["base", *ALL_ARMS]]
    for row in [*table_rows(results), *aux_rows(results)]:  # every table row, verbatim
        assert "| " + " | ".join(str(v) for v in row.values()) + " |" in report
    for arm in results["arms"]:  # every arm also evaluated on the training and standard sets
        for name in ("hard_train", "standard"):
            assert results["aux"][name][arm]["n"] == config.aux_n
    costs = results["costs"]
    assert costs["(0) base"] == {"sft_tokens": 0, "filter_rollouts": 0}
    assert costs[ARM_NAMES["standard_rl"]]["sft_tokens"] == 0
    for arm in ("distill_rl", "int_rl", "prefix_rl", "int_nofilter_rl"):
        assert costs[ARM_NAMES[arm]]["sft_tokens"] > 0, arm
    # the prefix-alone control clones fewer tokens than InT's prefix + intervention
    assert costs[ARM_NAMES["prefix_rl"]]["sft_tokens"] < costs[ARM_NAMES["int_rl"]]["sft_tokens"]
    assert costs[ARM_NAMES["int_nofilter_rl"]]["filter_rollouts"] == 0
    scored = costs[ARM_NAMES["int_rl"]]["filter_rollouts"]  # k per scored candidate
    assert scored > 0 and scored % config.filter_k == 0
    diff = results["diff"]
    assert diff["k"] == config.eval_n and f"{diff['value']:+.3f} (95% CI " \
        f"[{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}]" in report
    for arm, row in results["table1"].items():
        assert f"| {arm} | {int(row['prompts'])} | {int(row['samples'])} | " \
            f"{row['success_rate']:.3f} |" in report
    assert f"wall time: {results['wall_s']:.0f} s" in report
    # tuning: every arm got the same GRPO trials; each SFT data set its own SFT grid
    log = json.loads((tmp_path / "tune" / "tune_log.json").read_text())
    trials = [r["arm"] for r in log if "arm" in r]
    assert sorted(trials) == sorted(ALL_ARMS * len(grid["grpo_lr"]))
    assert sorted(r["sft"] for r in log if "sft" in r) == sorted(
        ["int", "nofilter", "prefix", "distill"] * 2)
    for arm, choice in results["choices"].items():
        assert choice["grpo_lr"] in grid["grpo_lr"], arm
        sft = ("— | —" if arm == ARM_NAMES["standard_rl"]
               else f"{choice['sft_lr']:g} | {choice['sft_epochs']:g}")
        assert f"| {arm} | {sft} | {choice['grpo_lr']:g} |" in report
