"""Limiter, circuit breaker, budgets, answer-leak policy and sampled verdicts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from splice.sdk.types import FailureReason, Replacement, Status
from splice.server.errors import BudgetExceededError, UnavailableError
from splice.server.oracles.llm.leak import LeakPolicy, apply_policy, leaks_answer
from splice.server.oracles.llm.ledger import MemoryLedger
from splice.server.oracles.llm.reliability import RateLimiter

from .fake_provider import Act, FakeProvider, verdict
from .helpers import KEY_ENV, SECRET, make_oracle, make_task

pytestmark = pytest.mark.timeout(60)


class ManualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    provider = FakeProvider(default=Act(text=verdict(2, (2, "Use the denominator 6."))))
    await provider.start()
    yield provider
    await provider.close()


async def test_limiter_keeps_any_window_within_rpm() -> None:
    clock = ManualClock()
    limiter = RateLimiter(rpm=5, window_s=60.0, clock=clock)
    stamps = []
    for _ in range(12):
        limiter.release(await limiter.acquire())  # answered at once
        stamps.append(clock.now())
    assert stamps[:5] == [0.0] * 5
    assert stamps[5:10] == [60.0] * 5 and stamps[10:] == [120.0] * 2
    for t in stamps:
        assert sum(t <= s < t + 60 for s in stamps) <= 5


async def test_limiter_tokens_per_window_and_pause() -> None:
    clock = ManualClock()
    limiter = RateLimiter(tpm=100, window_s=10.0, clock=clock)
    limiter.release(await limiter.acquire(60))
    limiter.release(await limiter.acquire(60))  # must wait for the first to leave the window
    assert clock.now() == 10.0
    limiter.pause(5.0)
    await limiter.acquire(1)
    assert clock.now() == 15.0


async def test_limiter_counts_a_request_until_window_after_its_answer() -> None:
    clock = ManualClock()
    limiter = RateLimiter(rpm=1, window_s=60.0, clock=clock)
    ticket = await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()  # the first request is still in flight
    clock.t = 30.0  # its answer arrives 30 s later: the provider may have counted it late
    limiter.release(ticket)
    await waiter
    assert clock.now() == 90.0


async def test_breaker_fails_fast_then_probes_and_recovers(fake: FakeProvider) -> None:
    ledger = MemoryLedger()
    oracle = make_oracle("openai", fake.base_url, ledger, max_attempts=1, breaker_failures=2,
                         breaker_reset_s=0.3)
    fake.then(Act("status", status=500), Act("status", status=503))
    for i in range(2):
        r = await oracle.intervene(make_task(f"down{i}"))
        assert r.failure.reason is FailureReason.ORACLE_ERROR  # type: ignore[union-attr]
    assert len(fake.seen) == 2
    r = await oracle.intervene(make_task("fast"))
    assert r.failure is not None and "unavailable" in r.failure.message and r.failure.retryable
    assert len(fake.seen) == 2  # failed fast: nothing sent
    assert ledger.rows[-1].outcome == "unavailable"
    with pytest.raises(UnavailableError):
        await oracle.admit("c1")
    await asyncio.sleep(0.35)
    r = await oracle.intervene(make_task("probe"))
    assert r.status is Status.FOUND_ERROR and len(fake.seen) == 3
    await oracle.admit("c1")  # closed again
    await oracle.aclose()


async def test_budget_refuses_before_any_provider_call(fake: FakeProvider) -> None:
    ledger = MemoryLedger()
    oracle = make_oracle("openai", fake.base_url, ledger, max_tokens=3000,
                         budgets={"c1": {"tokens_per_day": 5000}})
    r = await oracle.intervene(make_task("first"))
    assert r.status is Status.FOUND_ERROR
    assert len(fake.seen) == 1
    spent = r.usage.input_tokens + r.usage.output_tokens
    assert 0 < spent < 5000
    # The next call may need its prompt plus max_tokens=3000 more: over the budget.
    r = await oracle.intervene(make_task("second"))
    assert r.failure is not None and r.failure.reason is FailureReason.BUDGET_EXCEEDED
    assert "budget 'c1' of client 'c1'" in r.failure.message
    assert len(fake.seen) == 1  # refused before the provider was called
    r = await oracle.intervene(make_task("other", client_id="c2"))  # no budget for c2
    assert r.status is Status.FOUND_ERROR


async def test_admit_names_the_budget(fake: FakeProvider) -> None:
    ledger = MemoryLedger()
    oracle = make_oracle("openai", fake.base_url, ledger, budgets={"*": {"usd_per_day": 0.0}})
    with pytest.raises(BudgetExceededError) as info:
        await oracle.admit("c9")
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "budget '*' of client 'c9'" in str(info.value)
    assert fake.seen == []


async def test_usd_budget_uses_the_price_table(fake: FakeProvider) -> None:
    ledger = MemoryLedger()
    oracle = make_oracle("openai", fake.base_url, ledger,
                         prices={"test-model": {"input_per_mtok": 1000.0,
                                                "output_per_mtok": 1000.0}},
                         budgets={"*": {"usd_per_day": 1.0}})
    r = await oracle.intervene(make_task())
    assert r.failure is not None and r.failure.reason is FailureReason.BUDGET_EXCEEDED
    assert fake.seen == []


LEAKY = verdict(3, (2, "Over the common denominator 6 this is $\\frac{5}{6}$."),
                (3, "Wait, I should use the common denominator 6 instead."))


@pytest.mark.parametrize(("policy", "kept", "flags"), [
    ("drop", [3], []), ("flag", [2, 3], [2]), ("keep", [2, 3], []),
])
async def test_answer_leak_policy_per_request(fake: FakeProvider, policy: str, kept: list[int],
                                              flags: list[int]) -> None:
    fake.default = Act(text=LEAKY)
    oracle = make_oracle("openai", fake.base_url, MemoryLedger())
    r = await oracle.intervene(make_task(options={"answer_leak": policy}))
    assert [x.location for x in r.replacements] == kept
    assert [x.location for x in r.replacements if x.leaks_answer] == flags
    if policy == "drop":
        assert "stated the reference answer; dropped" in r.explanation


def test_leak_detection() -> None:
    assert leaks_answer("So the answer is $\\boxed{7}$.", "7")
    assert leaks_answer("Hence $3 + 4 = 7$.", "7")
    assert not leaks_answer("So $3 + 4 = 7$, and then we add 5 more.", "7")
    assert not leaks_answer("We need 17 apples", "7")
    assert leaks_answer("so the area is $12\\pi$ square units", "12\\pi")
    kept, leaked = apply_policy((Replacement(1, "x = \\frac{1}{2}"),), "1/2", LeakPolicy.DROP)
    assert (kept, leaked) == ((), 1)


async def test_samples_majority_and_unanimity(fake: FakeProvider) -> None:
    answers = [verdict(2, (2, "A.")), verdict(2, (2, "B.")), verdict(3, (3, "C."))]
    oracle = make_oracle("openai", fake.base_url, MemoryLedger(), samples=3)
    fake.then(*(Act(text=a) for a in answers))
    r = await oracle.intervene(make_task("maj"))
    assert r.status is Status.FOUND_ERROR and r.first_error_step == 2
    assert sorted(x.content for x in r.replacements) == ["A.", "B."]
    assert "votes: " in r.explanation and "agreed on 2" in r.explanation
    assert r.raw.count("=== sample") == 3
    fake.then(*(Act(text=a) for a in answers))
    r = await oracle.intervene(make_task("una", options={"agreement": "unanimous"}))
    assert r.status is Status.ABSTAINED and "no agreement" in r.explanation


def test_dry_run_estimate_counts_rendered_prompts() -> None:
    from splice.server.oracles.llm.estimate import estimate_batch
    from splice.server.oracles.llm.prompts import render_intervention
    oracle = make_oracle("anthropic", "http://127.0.0.1:9", MemoryLedger(),
                         model="claude-sonnet-4-5", max_tokens=8000)
    tasks = [make_task(f"e{i}") for i in range(10)]
    tasks.append(make_task("s", options={"samples": "3"}))
    est = estimate_batch(oracle, tasks, typical_output_tokens=3000)
    one = render_intervention(tasks[0].problem, tasks[0].reference_solution,
                              tasks[0].steps).estimated_tokens
    assert (est.requests, est.calls) == (11, 13)
    assert est.input_tokens == 13 * one
    assert est.output_tokens_max == 13 * 8000 and est.output_tokens_typical == 13 * 3000
    assert est.priced and est.usd_typical == pytest.approx(
        (13 * one * 3.0 + 13 * 3000 * 15.0) / 1e6)
