"""500 requests in flight against a provider that answers in 1 s and allows 300 per minute.

The oracle-level test runs a provider minute in 2 s through an injectable clock shared by
our limiter and the fake provider. The service-level test starts a real server whose
limiter window is scaled the same way (300 per 2 s), lets callers' deadlines pass, and
collects the results later with GetIntervention and WatchInterventions.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from splice.sdk.aio import AsyncClient
from splice.sdk.errors import DeadlineExceededError, NotFoundError
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import NO_RETRY
from splice.sdk.types import Status
from splice.server.oracles.llm.ledger import MemoryLedger
from splice.server.testing import start_server_process

from .fake_provider import Act, FakeProvider, verdict
from .helpers import KEY_ENV, PROBLEM, REFERENCE, ROLLOUT, SECRET, ScaledClock, make_task

pytestmark = pytest.mark.timeout(120)

N = 500
GOOD = verdict(2, (2, "Wait, the denominators differ: I need 6 as a common denominator."))


async def test_oracle_keeps_rate_limit_and_finishes_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    clock = ScaledClock(30.0)  # one provider minute = 2 real seconds
    fake = FakeProvider(default=Act(text=GOOD, delay_s=1.0), clock=clock.now, rpm=300)
    await fake.start()
    from .helpers import make_oracle
    oracle = make_oracle("openai", fake.base_url, MemoryLedger(), rpm=300,
                         rate_window_s=61.0, max_concurrency=N, timeout_s=600.0)
    oracle.clock = clock
    started = time.monotonic()
    try:
        results = await asyncio.gather(*(oracle.intervene(make_task(f"r{i}"))
                                         for i in range(N)))
    finally:
        await oracle.aclose()
        await fake.close()
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == [Status.FOUND_ERROR] * N
    assert fake.rejected_429 == 0
    assert len(fake.seen) == N
    stamps = sorted(s.at for s in fake.seen)
    assert all(sum(t <= u < t + 60 for u in stamps) <= 300 for t in stamps)
    assert elapsed < 20


async def test_service_deadlines_pass_results_collected_later(tmp_path: Path) -> None:
    fake = FakeProvider(default=Act(text=GOOD, delay_s=1.0), rpm=300, window_s=2.0)
    await fake.start()
    settings = {
        "default_oracle": "policy",
        "oracles": {"policy": {"backend": "llm:openai", "timeout_s": 120, "options": {
            "model": "policy-7b", "base_url": fake.base_url + "/v1", "api_key_env": KEY_ENV,
            "rpm": 300, "rate_window_s": 2.1, "max_concurrency": N, "max_tokens": 1000}}},
    }
    server = await asyncio.to_thread(start_server_process, settings, tmp_path,
                                     env={KEY_ENV: SECRET})
    requests = [InterventionRequest(
        problem=PROBLEM, reference_solution=REFERENCE, rollout=f"{ROLLOUT}\n\nCheck {i}.",
        request_id=f"load-{i}", reference_answer="\\frac{5}{6}") for i in range(N)]
    try:
        async with AsyncClient(server.address, client_id="load", retry=NO_RETRY) as client:
            first = await asyncio.gather(*(client.intervene(r, timeout=1.5) for r in requests),
                                         return_exceptions=True)
            late = [r.request_id for r, f in zip(requests, first, strict=True)
                    if isinstance(f, DeadlineExceededError)]
            assert late, "some callers' deadlines should pass"
            assert all(not isinstance(f, BaseException) or isinstance(f, DeadlineExceededError)
                       for f in first)
            # A request whose deadline passed before it was durably accepted is unknown to
            # the server: the caller resubmits it under the same request_id. Accepted ones
            # finish on their own and are only read back.
            unknown = []
            for rid in late:
                try:
                    await client.get(rid, timeout=10)
                except NotFoundError:
                    unknown.append(rid)
            by_id = {r.request_id: r for r in requests}
            resubmitted = asyncio.gather(*(client.intervene(by_id[rid], timeout=60)
                                           for rid in unknown))
            finished: dict[str, Status] = {}
            async def collect() -> None:
                async for item in client.watch(after=0):
                    finished[item.request_id] = item.status
                    if len(finished) == N:
                        return
            try:
                await asyncio.wait_for(collect(), 60)
            except TimeoutError:
                pytest.fail(f"{len(finished)} of {N} finished, provider saw {len(fake.seen)}, "
                            f"429s {fake.rejected_429}; log:\n{server.log()[-3000:]}")
            await resubmitted
            assert set(finished) == {r.request_id for r in requests}
            assert set(finished.values()) == {Status.FOUND_ERROR}
            got = await client.get(late[0])
            assert got.status is Status.FOUND_ERROR and got.first_error_step == 2
            # An RL job retries everything: served from the store, nothing paid twice.
            again = await asyncio.gather(*(client.intervene(r, timeout=30) for r in requests))
            assert {a.status for a in again} == {Status.FOUND_ERROR}
    finally:
        code = await asyncio.to_thread(server.terminate)
        await fake.close()
    assert code in (0, -15)
    assert len(fake.seen) == N
    assert len({str(s.body["messages"]) for s in fake.seen}) == N
    assert fake.rejected_429 == 0
    for path in [server.log_path, *tmp_path.glob("splice.db*")]:
        assert SECRET.encode() not in path.read_bytes(), path
