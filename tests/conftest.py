"""Shared fixtures: real server subprocesses on port 0, sample problems."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from splice.server.testing import ServerProcess, start_server_process

FAKE_ORACLES = {
    "fake": {"backend": "fake"},
    "noop": {"backend": "noop"},
    "slow": {"backend": "fake", "options": {"delay_s": 1.0, "step": 2,
                                            "replacement": "So 2 + 2 = 4."}},
}

PROBLEM = "What is 2 + 2 + 3?"
REFERENCE = "2 + 2 = 4.\n\n4 + 3 = 7.\n\nThe answer is \\boxed{7}."
ROLLOUT = "First, 2 + 2 = 5.\n\nThen 5 + 3 = 8.\n\nSo the answer is \\boxed{8}."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with the fake, noop and slow oracles on a fresh SQLite file."""
    workdir = tmp_path_factory.mktemp("server")
    proc = start_server_process({"oracles": FAKE_ORACLES, "default_oracle": "fake"}, workdir)
    yield proc
    proc.terminate()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own for tests that kill or stop it."""
    proc = start_server_process({"oracles": FAKE_ORACLES, "default_oracle": "fake"}, tmp_path)
    yield proc
    if proc.process.poll() is None:
        proc.kill()
