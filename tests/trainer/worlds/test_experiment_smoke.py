"""The comparison end to end at smoke size (real server, real stages): its table, plot and
report exist and the report's numbers are the JSON results'."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from splice.trainer.worlds.arith.experiment import INT, PRESETS, STANDARD, run_experiment
from splice.trainer.worlds.arith.experiment_report import PLOT, REPORT, RESULTS, table_rows


def test_smoke_experiment_writes_agreeing_outputs(tmp_path: Path) -> None:
    config = dataclasses.replace(PRESETS["smoke"])
    results = run_experiment(config, tmp_path)
    assert json.loads((tmp_path / RESULTS).read_text()) == results
    assert (tmp_path / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / REPORT).read_text()
    assert "REDUCED RUN" in report
    assert set(results["arms"]) == {"(0) base", STANDARD, INT}
    for row in table_rows(results):  # every table row, verbatim
        assert "| " + " | ".join(str(v) for v in row.values()) + " |" in report
    diff = results["diff"]
    assert diff["k"] == config.eval_n and f"{diff['value']:+.3f} (95% CI " \
        f"[{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}]" in report
    for arm, row in results["table1"].items():
        assert f"| {arm} | {int(row['prompts'])} | {int(row['samples'])} | " \
            f"{row['success_rate']:.3f} |" in report
    assert f"wall time: {results['wall_s']:.0f} s" in report
