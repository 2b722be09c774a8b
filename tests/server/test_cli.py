"""The ``splice`` command: help texts, intervene from JSONL, oracles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from splice.server.testing import ServerProcess

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT


def _splice(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splice.server.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [[], ["serve"], ["intervene"], ["oracles"]])
def test_help_is_useful(command: list[str]) -> None:
    out = _splice(*command, "--help")
    assert out.returncode == 0
    assert "usage: splice" in out.stdout
    if command == ["serve"]:
        assert "--store" in out.stdout and "symbolic" in out.stdout
    if command == ["intervene"]:
        assert "JSONL" in out.stdout and "--target" in out.stdout


def test_intervene_reads_jsonl_and_prints_json(server: ServerProcess, tmp_path: Path) -> None:
    rows = [
        {"problem": PROBLEM, "reference_solution": REFERENCE, "rollout": ROLLOUT,
         "oracle": "fake", "options": {"step": "1", "replacement": "First, 2 + 2 = 4."},
         "request_id": "cli-1"},
        {"problem": PROBLEM, "reference_solution": REFERENCE,
         "rollout_steps": ["2 + 2 = 4", "4 + 3 = 7"], "oracle": "noop", "request_id": "cli-2"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = _splice("intervene", "--target", server.address, "--file", str(path))
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    assert [p["request_id"] for p in printed] == ["cli-1", "cli-2"]
    assert printed[0]["status"] == "FOUND_ERROR" and printed[0]["first_error_step"] == 1
    assert printed[0]["replacements"][0]["content"] == "First, 2 + 2 = 4."
    assert printed[1]["status"] == "NO_ERROR" and len(printed[1]["steps"]) == 2


def test_intervene_flags_and_error_exit_code(server: ServerProcess) -> None:
    out = _splice("intervene", "--target", server.address, "--problem", PROBLEM,
                  "--reference", REFERENCE, "--rollout", ROLLOUT, "--oracle", "nope")
    assert out.returncode == 1
    (line,) = out.stdout.splitlines()
    error = json.loads(line)
    assert error["error"] == "INVALID_ARGUMENT" and "nope" in error["message"]


def test_oracles_lists_json(server: ServerProcess) -> None:
    out = _splice("oracles", "--target", server.address)
    assert out.returncode == 0, out.stderr
    names = {json.loads(line)["info"]["name"] for line in out.stdout.splitlines()}
    assert names == {"fake", "noop", "slow"}
