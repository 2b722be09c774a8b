"""Two server processes on one store: each sees the other's results, exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

from splice.sdk import Client, InterventionRequest
from splice.sdk.types import Intervention
from splice.server.testing import start_server_process

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE, ROLLOUT


def test_watch_on_one_server_sees_both_servers_writes(
    shared_store_url: str, tmp_path: Path
) -> None:
    settings = {"oracles": FAKE_ORACLES, "default_oracle": "noop",
                "store_url": shared_store_url}
    servers = [start_server_process(settings, tmp_path / name) for name in ("a", "b")]
    per_server = 60
    seen: list[Intervention] = []
    try:
        with Client(servers[0].address) as watcher:
            done = threading.Event()
            stream = watcher.watch(0)

            def follow() -> None:
                for item in stream:
                    seen.append(item)
                    if len(seen) >= 2 * per_server:
                        break
                done.set()

            thread = threading.Thread(target=follow, daemon=True)
            thread.start()

            def write(address: str, tag: str) -> list[str]:
                reqs = [InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE,
                                            rollout=f"{ROLLOUT} {tag}{i}")
                        for i in range(per_server)]
                with Client(address) as client:
                    results = client.intervene_many(reqs, concurrency=16)
                return [r.request_id for r in results]  # type: ignore[union-attr]

            ids: list[list[str]] = [[], []]
            writers = [threading.Thread(target=lambda k=k: ids.__setitem__(
                k, write(servers[k].address, f"s{k}-"))) for k in (0, 1)]
            for w in writers:
                w.start()
            for w in writers:
                w.join(120)
            assert done.wait(60), f"watch saw {len(seen)} of {2 * per_server}"
    finally:
        for s in servers:
            s.terminate()
    sequences = [i.sequence for i in seen]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert sequences == list(range(1, len(seen) + 1)), "no gap"
    assert {i.request_id for i in seen} == set(ids[0]) | set(ids[1])
