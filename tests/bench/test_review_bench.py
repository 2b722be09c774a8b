"""Smoke test of bench/review.py: a tiny run prints the table and a JSON line for both stores.

No timing assertions: the numbers depend on the machine; only their presence is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_review_bench() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "review.py"), "--tasks", "30", "--reviewers", "2",
         "--json"], capture_output=True, text=True, timeout=200, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("store") and "reviews/s" in lines[0]
    results = json.loads(lines[-1])
    for store in ("sqlite", "postgres"):
        assert results[store]["reviews_per_s"] > 0
        assert results[store]["claim_p50_ms"] > 0
