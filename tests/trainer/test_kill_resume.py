"""Kill-and-resume of ``splice-train run`` (a subprocess, SIGKILLed) against a real server whose
fake oracle logs every call: inside collection and between collect and filter, no paid oracle
call is repeated, no intervention is lost, and the resumed outputs equal a clean run's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from splice.server.testing import start_server_process
from splice.trainer.collect import INTERVENTIONS, load_collected, request_id_for, select_rollouts
from splice.trainer.config import load_config
from splice.trainer.counterfactual import load_scores
from splice.trainer.mine import FAILED_ROLLOUTS, HARD_SET, STATS
from splice.trainer.pipeline import DONE, run_stage
from splice.trainer.records import read_jsonl, write_jsonl
from splice.trainer.tiny import toy_problems

from tests.trainer.helpers import toy_failures

SCENARIOS = ("clean", "in_collect", "between_stages")
PROBLEMS = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One server; each scenario has its own fake oracle (own request_ids, own calls file)."""
    work = tmp_path_factory.mktemp("server")
    oracles = {name: {"backend": "fake", "options": {
        "delay_s": 0.5, "step": 2, "replacement": "$1 \\times 1 = 1$.",
        "calls_file": str(work / f"{name}.calls")}} for name in SCENARIOS}
    proc = start_server_process({"oracles": oracles, "default_oracle": "clean"}, work)
    try:
        yield proc.address, work
    finally:
        proc.terminate()


def _setup(tmp: Path, model: Path, address: str, oracle: str, tokenizer: Any) -> Path:
    """A run directory whose mine stage is done (synthetic failed rollouts); its config."""
    hard, failed = toy_failures(toy_problems(PROBLEMS, seed=3), tokenizer)
    mine = tmp / "run" / "mine"
    mine.mkdir(parents=True)
    write_jsonl(mine / HARD_SET, hard)
    write_jsonl(mine / FAILED_ROLLOUTS, failed)
    write_jsonl(mine / STATS, [{"problem_id": p.problem_id, "correct": 0} for p in hard])
    (mine / DONE).write_text("{}")
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump({
        "run_dir": str(tmp / "run"), "model": str(model), "problems": str(tmp / "none.jsonl"),
        "show_progress": False,
        "collect": {"server": address, "oracle": oracle, "concurrency": 1, "chunk_size": 1},
        "filter": {"k": 2, "max_tokens": 8, "candidates_per_batch": 64}}))
    return path


def _run_killed(config: Path, ready: Callable[[], bool], tmp: Path) -> None:
    """Start ``splice-train run`` and SIGKILL it as soon as ``ready()`` holds."""
    log = (tmp / "pipeline.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "splice.trainer.cli", "run", str(config)],
                            stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, (tmp / "pipeline.log").read_text()
        assert time.monotonic() < deadline, "the pipeline never reached the kill point"
        time.sleep(0.02)
    proc.kill()
    assert proc.wait() == -9


def _resume(config_path: Path) -> None:
    config = load_config(config_path)
    for stage in ("collect", "filter"):
        run_stage(config, stage)


def _outcome(config_path: Path, calls: Path, tokenizer: Any) -> dict[str, Any]:
    """Check the invariants of one finished run; returns what must match the clean run."""
    config = load_config(config_path)
    run = config.root
    hard, failed = toy_failures(toy_problems(PROBLEMS, seed=3), tokenizer)
    expected = {request_id_for(p, r, config.collect.oracle)
                for p, r in select_rollouts(hard, failed, config.collect)}
    called = Counter(calls.read_text().split())
    assert set(called) == expected and set(called.values()) == {1}  # no paid call repeated
    rows = Counter(row["intervention"]["requestId"]
                   for row in read_jsonl(run / "collect" / INTERVENTIONS))
    assert set(rows) == expected and set(rows.values()) == {1}  # none lost, none twice
    collected = load_collected(run / "collect")
    scores = load_scores(run / "filter")
    assert (run / "filter" / DONE).exists()
    summary = json.loads((run / "collect" / DONE).read_text())
    return {"collect": (summary["interventions"], summary["by_status"],
                        sorted(c.rollout_id for c in collected)),
            "filter": sorted((s.rollout_id, s.samples, s.successes, s.kept) for s in scores)}


def test_kill_and_resume(server: tuple[str, Path], tiny_model_dir: Path, tokenizer: Any,
                         tmp_path: Path) -> None:
    address, work = server
    outcomes = {}
    for name in SCENARIOS:
        tmp = tmp_path / name
        config = _setup(tmp, tiny_model_dir, address, name, tokenizer)
        calls = work / f"{name}.calls"
        if name == "in_collect":  # some oracle calls made, not all

            def ready(calls: Path = calls) -> bool:
                return calls.exists() and len(calls.read_text().split()) >= 2

            _run_killed(config, ready, tmp)
            assert 2 <= len(calls.read_text().split()) < PROBLEMS
            assert not (tmp / "run" / "collect" / DONE).exists()
        elif name == "between_stages":
            _run_killed(config, (tmp / "run" / "collect" / DONE).exists, tmp)
            assert not (tmp / "run" / "filter" / DONE).exists()
        _resume(config)
        outcomes[name] = _outcome(config, calls, tokenizer)
    assert outcomes["in_collect"] == outcomes["clean"]
    assert outcomes["between_stages"] == outcomes["clean"]
