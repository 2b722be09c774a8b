"""Harvester: zero-reward groups go to a real server in the background; it never blocks."""

from __future__ import annotations

import time

from splice.sdk import Client
from splice.sdk.harvester import Harvester, harvest_request_id
from splice.sdk.types import Intervention, Status
from splice.server.testing import running_server

PROBLEM, REFERENCE = "What is 12 times 13?", "$12 \\times 13 = 156$, so \\boxed{156}."
WRONG = "We need $12 \\times 13$.\n\n$12 \\times 13 = 146$.\n\nSo $\\boxed{146}$."
RIGHT = "We need $12 \\times 13$.\n\n$12 \\times 13 = 156$.\n\nSo $\\boxed{156}$."
ORACLES = {"symbolic": {"backend": "symbolic", "options": {"workers": 1}}}


def test_all_zero_groups_are_harvested_with_their_checkpoint() -> None:
    seen: list[Intervention] = []
    with running_server(oracles=ORACLES, default_oracle="symbolic") as address:
        with Harvester(address, policy_checkpoint="ckpt-7", per_group=2,
                       on_result=seen.append) as harvester:
            assert harvester.submit(PROBLEM, REFERENCE, [WRONG, RIGHT], [0.0, 1.0]) == 0
            assert harvester.submit(PROBLEM, REFERENCE, [WRONG, WRONG, WRONG + " "],
                                    [0.0, 0.0, 0.0], problem_id="p1", policy_step=3) == 2
            assert harvester.submit(PROBLEM, REFERENCE, [WRONG], [0.0, 0.0]) == 0  # invalid
            assert harvester.flush(60)
            stats = harvester.stats
        assert (stats.groups_seen, stats.groups_all_zero, stats.invalid) == (3, 1, 1)
        assert (stats.enqueued, stats.finished, stats.failed, stats.dropped) == (2, 2, 0, 0)
        assert stats.by_status == {"FOUND_ERROR": 2}
        assert len(seen) == 2
        rid = harvest_request_id("", "p1", PROBLEM, REFERENCE, WRONG)
        with Client(address) as client:
            stored = client.get(rid)
        assert stored.status is Status.FOUND_ERROR and stored.first_error_step == 2
        assert stored.provenance is not None
        assert (stored.provenance.policy_checkpoint, stored.provenance.policy_step) == \
            ("ckpt-7", 3)


def test_full_queue_drops_and_never_blocks() -> None:
    # nothing listens there: requests wait in retries, the queue fills up
    harvester = Harvester("127.0.0.1:9", max_queue=2, concurrency=1, timeout=30)
    try:
        t0 = time.monotonic()
        queued = [harvester.submit(PROBLEM, REFERENCE, [f"{WRONG} {k}"], [0.0])
                  for k in range(20)]
        assert time.monotonic() - t0 < 0.5
        assert sum(queued) == harvester.stats.enqueued <= 3
        assert harvester.stats.dropped == 20 - sum(queued)
        assert harvester.submit(PROBLEM, REFERENCE, None, [0.0]) == 0  # type: ignore[arg-type]
        assert harvester.stats.invalid == 1
    finally:
        t0 = time.monotonic()
        harvester.close(timeout=0.5)
        assert time.monotonic() - t0 < 10
    assert harvester.submit(PROBLEM, REFERENCE, [WRONG], [0.0]) == 0  # closed: ignored
