"""Oracle plugins: built-ins, dotted paths, and the ``splice.oracles`` entry-point group."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from splice.sdk import Client, Status
from splice.server.oracles.base import Oracle
from splice.server.oracles.registry import UnknownBackendError, build_oracle, resolve_backend
from splice.server.testing import start_server_process

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT

PLUGIN = textwrap.dedent('''
    """A third-party oracle that blames the last step."""
    from typing import ClassVar

    from splice.sdk.types import Replacement, Status
    from splice.server.oracles.base import Oracle, OracleResult, OracleTask


    class LastStepOracle(Oracle):
        backend: ClassVar[str] = "last-step"
        description: ClassVar[str] = "blames the last step"

        async def intervene(self, task: OracleTask) -> OracleResult:
            n = len(task.steps)
            return OracleResult(status=Status.FOUND_ERROR, first_error_step=n,
                                replacements=(Replacement(n, "plugin says hi"),))
''')


def _install_plugin(root: Path) -> Path:
    """A real installed distribution on a path entry: module + dist-info entry point."""
    root.mkdir(parents=True)
    (root / "lastplugin.py").write_text(PLUGIN)
    info = root / "lastplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lastplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[splice.oracles]\nlast-step = lastplugin:LastStepOracle\n")
    return root


def test_builtins_resolve() -> None:
    for name in ("noop", "fake", "symbolic"):
        assert issubclass(resolve_backend(name), Oracle)  # type: ignore[arg-type]


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(UnknownBackendError, match="noop"):
        resolve_backend("no-such-backend")


def test_dotted_path_backend() -> None:
    oracle = build_oracle("n", "splice.server.oracles.noop:NoopOracle", {})
    assert oracle.info.backend == "noop"
    with pytest.raises(UnknownBackendError, match="cannot import"):
        resolve_backend("nowhere.module:Thing")


def test_entry_point_plugin_serves_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    site = _install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    assert resolve_backend("last-step").__name__ == "LastStepOracle"  # type: ignore[attr-defined]
    settings = {"oracles": {"plug": {"backend": "last-step"}}, "default_oracle": "plug"}
    proc = start_server_process(settings, tmp_path / "srv",
                                env={"PYTHONPATH": f"{site}:{':'.join(sys.path)}"})
    try:
        with Client(proc.address) as client:
            result = client.intervene(problem=PROBLEM, reference_solution=REFERENCE,
                                      rollout=ROLLOUT)
            listed = {o.info.name: o for o in client.oracles()}
    finally:
        proc.terminate()
    assert result.status is Status.FOUND_ERROR and result.first_error_step == 3
    assert result.replacements[0].content == "plugin says hi"
    assert listed["plug"].info.backend == "last-step"
