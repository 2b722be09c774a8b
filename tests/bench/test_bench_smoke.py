"""Smoke test of bench/service.py: a --quick run ends with JSON holding every section.

No timing assertions: the numbers depend on the machine; only their presence is checked.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.pg import PG_DSN, drop_schemas, fresh_schema_url

ROOT = Path(__file__).resolve().parents[2]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_run_reports_every_section(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "service.py"), "--quick", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=280, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])

    assert _number(results["environment"]["cpus"])
    for name in ("unary", "stream"):
        section = results[name]
        for side in ("ours", "bare"):
            for key in ("rps", "p50_ms", "p99_ms", "server_cpu_pct", "client_cpu_pct",
                        "server_cpu_us_per_req"):
                assert _number(section[side][key]), (name, side, key)
        for key in ("ratio_median", "ratio_min", "ratio_max", "errors", "cached"):
            assert _number(section[key]), (name, key)
        assert isinstance(section["pass"], bool)
    for key in ("in_flight_500", "in_flight_1000"):
        run = results["concurrency"][key]
        for field in ("rps", "ideal_rps", "pct_of_ideal", "errors", "cached"):
            assert _number(run[field]), (key, field)
    seg = results["segmentation"]
    assert _number(seg["blank_line_us"]) and _number(seg["keyword_us"])
    sym = results["symbolic"]
    if "skipped" not in sym:
        for key in ("p50_ms", "p99_ms", "oracle_p50_ms", "errors", "cached"):
            assert _number(sym[key]), key


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_versus_runs_both_servers_and_removes_its_worktree(backend: str) -> None:
    before = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout
    sections, extra = ("unary", "stream", "flight"), []
    prefix = f"versus_{uuid.uuid4().hex[:8]}"
    if backend == "postgres":  # each side on its own schema, named after it
        sections, extra = ("unary",), ["--store-url", f"{PG_DSN}?schema={prefix}_{{side}}"]
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "service_versus.py"), "--baseline", "HEAD",
             "--repeats", "1", "--duration", "0.5", "--sections", ",".join(sections),
             "--json", *extra],
            capture_output=True, text=True, timeout=280, cwd=ROOT, check=False)
    finally:
        schemas = drop_schemas(prefix) if backend == "postgres" else []
    assert done.returncode == 0, done.stderr[-4000:]
    if backend == "postgres":
        assert sorted(name.split("_")[2] for name in schemas) == ["baseline", "current"]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for name in sections:
        section = results[name]
        assert section["errors"] == 0, name
        for side in ("current", "baseline"):
            assert section[f"{side}_rps"] > 0, (name, side)
            assert _number(section[f"{side}_server_cpu_us_per_req"]), (name, side)
        assert section["ratio_median"] > 0 and len(section["ratios"]) == 1
    after = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout
    assert after == before


@pytest.mark.slow
def test_headroom_reports_the_burn_curve_and_the_handler_cost() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "service_headroom.py"), "--burn", "200",
         "--rounds", "1", "--duration", "0.5", "--requests", "300", "--occupancy", "1",
         "--json"],
        capture_output=True, text=True, timeout=280, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [row["burn_us"] for row in results["curve"]] == [0.0, 200.0]
    assert results["curve"][0]["ratio"] == 1.0
    for row in results["curve"]:
        assert row["rps"] > 0 and _number(row["server_cpu_us_per_req"])
        assert row["client_cpu_us_per_req"] > 0
    assert results["handler"]["requests"] == 300
    assert results["handler"]["cpu_us_per_req"] > 0
    busy = results["occupancy"]
    assert busy["rps"] > 0 and busy["errors"] == 0
    parts = ("event_loop_thread", "other_threads", "writer_process", "load_generator")
    for name in parts:
        assert busy[name]["pct"] >= 0 and _number(busy[name]["us_per_req"]), name
    # The server's event loop and its writer process both work for every request.
    assert busy["event_loop_thread"]["pct"] > 5 and busy["writer_process"]["pct"] > 1
    # The parts split the whole: server and load generator, within what the machine has.
    assert sum(busy[n]["pct"] for n in parts) == pytest.approx(100 * busy["cores_busy"])
    assert 0 < busy["cores_busy"] <= (os.cpu_count() or 1) + 0.25


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_soak_reports_each_round(backend: str) -> None:
    def run(extra: list[str]) -> list[str]:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "service_soak.py"), "--rounds", "2",
             "--seconds", "1", *extra],
            capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        return done.stdout.strip().splitlines()

    if backend == "sqlite":
        lines = run([])
    else:
        with fresh_schema_url("soak") as url:
            lines = run(["--store-url", url])
    assert len(lines) == 2
    for n, line in enumerate(lines, 1):
        match = re.fullmatch(r"round (\d): ([\d,]+) requests/s, (\d+) errors, "
                             r"server RSS (\d+) MiB", line)
        assert match is not None, line
        assert int(match[1]) == n and int(match[2].replace(",", "")) > 0
        assert match[3] == "0" and int(match[4]) > 0
