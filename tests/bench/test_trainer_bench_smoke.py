"""Smoke test of bench/trainer.py: a --quick run prints the table and JSON with every figure.

No timing assertions: the numbers depend on the machine; only their presence is checked.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_filter_and_sft(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "trainer.py"), "--quick", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    results = json.loads(lines[-1])
    assert any(line.startswith("filter") for line in lines)
    for name, unit in (("filter", "continuations/s"), ("sft", "patch tokens/s")):
        section = results[name]
        assert section["unit"] == unit
        for key in ("ours", "bare", "ratio_median", "ratio_min", "ratio_max"):
            assert isinstance(section[key], float) and math.isfinite(section[key]), key
        assert section["ratio_min"] <= section["ratio_median"] <= section["ratio_max"]
        assert len(section["peak_mib"]) == 2
