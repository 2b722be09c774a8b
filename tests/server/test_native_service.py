"""The server answers the same with the C hot path as without it (``SPLICE_NATIVE=0``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from splice.sdk import Client
from splice.sdk.types import SegmentationMode
from splice.server.testing import ServerProcess, start_server_process

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE

ROLLOUT = ("First, 2 + 2 = 5.\n\n  Wait, that is wrong. But 5 + 3 = 8.\n \n日本 😀 \\boxed{8}"
           "\n\nHmm. Maybe not.\n\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """One server on the C path and one on the Python path."""
    settings = {"oracles": FAKE_ORACLES, "default_oracle": "fake"}
    started: dict[str, ServerProcess] = {}
    try:
        for name, flag in (("native", "1"), ("python", "0")):
            started[name] = start_server_process(
                settings, tmp_path_factory.mktemp(name), env={"SPLICE_NATIVE": flag})
        yield started
    finally:
        for proc in started.values():
            proc.terminate()


def _log(proc: ServerProcess) -> str:
    return Path(proc.log_path).read_text(errors="replace")


@pytest.mark.parametrize("mode", [SegmentationMode.BLANK_LINE, SegmentationMode.KEYWORD])
def test_both_paths_give_the_same_answer(servers: dict[str, ServerProcess],
                                         mode: SegmentationMode) -> None:
    answers = {}
    for name, proc in servers.items():
        with Client(proc.address) as client:
            found = client.intervene(request_id=f"same-{mode.name}", client_id="t",
                                     problem=PROBLEM, reference_solution=REFERENCE,
                                     rollout=ROLLOUT, segmentation=mode)
            assert client.get(found.request_id).steps == found.steps  # and as stored
        answers[name] = found
    native, python = answers["native"], answers["python"]
    assert native.steps == python.steps
    assert "".join(s.text for s in native.steps) == ROLLOUT
    assert len(native.steps) >= (6 if mode is SegmentationMode.KEYWORD else 4)
    assert (native.status, native.first_error_step, native.replacements) == (
        python.status, python.first_error_step, python.replacements)


def test_the_log_says_which_path_runs(servers: dict[str, ServerProcess]) -> None:
    assert '"native": true' in _log(servers["native"])
    python_log = _log(servers["python"])
    assert '"native": false' in python_log
    assert "C hot path is not used (SPLICE_NATIVE=0)" in python_log
