"""The durable attempt ledger (migration 3) on both store backends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from splice.server.oracles.llm.ledger import Attempt, Budget, BudgetExceeded, BudgetGuard
from splice.server.store import StoreError, open_store
from splice.server.store.attempts import StoreLedger, open_ledger

NOW = datetime.now(UTC)


def attempt(request_id: str, n: int = 1, *, client_id: str = "c1", oracle: str = "claude",
            tokens: tuple[int, int] = (100, 20), outcome: str = "ok",
            at: datetime = NOW) -> Attempt:
    return Attempt(request_id=request_id, client_id=client_id, oracle=oracle, model="m",
                   purpose="intervene", sample=0, attempt=n, started_at=at, latency_ms=12.5,
                   outcome=outcome, http_status=200 if outcome == "ok" else 500,
                   input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=0.01 * n,
                   error="" if outcome == "ok" else "boom", prompt_version="int-v1",
                   retry_after_s=None if outcome == "ok" else 1.5)


async def opened(store_url: str) -> StoreLedger:
    store = open_store(store_url)
    await store.open()
    await store.close()
    ledger = open_ledger(store_url)
    await ledger.open()
    return ledger


async def test_rows_survive_reopen_and_sum(store_url: str) -> None:
    ledger = await opened(store_url)
    rows = [attempt("r1", 1, outcome="server"), attempt("r1", 2),
            attempt("r2", client_id="c2", oracle="gemini"),
            attempt("old", at=NOW - timedelta(days=2)),
            attempt("r3", outcome="unavailable", tokens=(0, 0))]
    for row in rows:
        await ledger.record(row)
    await ledger.aclose()

    ledger = await opened(store_url)
    try:
        assert await ledger.attempts("r1") == rows[:2]  # every field, in order
        assert await ledger.attempts("none") == []
        today = NOW - timedelta(hours=1)
        spent = await ledger.spent("c1", today)
        assert (spent.calls, spent.tokens) == (2, 240)  # an unavailable attempt is no call
        assert spent.cost_usd == pytest.approx(0.04)
        assert (await ledger.spent(None, today)).calls == 3
        totals = await ledger.totals(None, None, today)
        assert [(t.client_id, t.oracle, t.spend.tokens) for t in totals] == [
            ("c1", "claude", 240), ("c2", "gemini", 120)]
        assert [t.client_id for t in await ledger.totals(None, "gemini", today)] == ["c2"]
        assert [t.oracle for t in await ledger.totals("c1", "claude", today)] == ["claude"]
    finally:
        await ledger.aclose()


async def test_budget_reads_durable_spend(store_url: str) -> None:
    ledger = await opened(store_url)
    try:
        await ledger.record(attempt("r1", tokens=(900, 100)))
        guard = BudgetGuard(ledger, {"c1": Budget(tokens_per_day=1500)})
        await guard.reserve("c1", 400, 0.0)
        with pytest.raises(BudgetExceeded, match=r"budget 'c1' of client 'c1'.*400 in flight"):
            await guard.reserve("c1", 200, 0.0)  # held by the first call, ledger-wide
        guard.release("c1", 400, 0.0)
        await guard.reserve("c1", 200, 0.0)
    finally:
        await ledger.aclose()


async def test_failed_write_stays_counted_and_is_retried(store_url: str) -> None:
    ledger = await opened(store_url)
    real_insert = ledger.rows.insert
    failing = True

    async def flaky(row: Attempt) -> None:
        if failing:
            raise StoreError("database away")
        await real_insert(row)

    ledger.rows.insert = flaky  # type: ignore[method-assign,assignment]
    await ledger.record(attempt("lost?"))
    assert (await ledger.spent("c1", NOW - timedelta(hours=1))).tokens == 120
    failing = False
    await ledger.record(attempt("next"))
    assert [a.request_id for a in await ledger.attempts("lost?")] == ["lost?"]
    assert (await ledger.spent("c1", NOW - timedelta(hours=1))).tokens == 240
    await ledger.aclose()


async def test_spent_is_fast_with_many_rows(store_url: str) -> None:
    ledger = await opened(store_url)
    try:
        for i in range(300):
            await ledger.rows.insert(attempt(f"x{i}", client_id=f"other{i % 30}"))
        await ledger.record(attempt("mine"))
        started = time.perf_counter()
        for _ in range(50):
            assert (await ledger.spent("c1", NOW - timedelta(hours=1))).calls == 1
        assert (time.perf_counter() - started) / 50 < 0.01
    finally:
        await ledger.aclose()


async def test_ledger_needs_migrated_store(tmp_path: object) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(StoreError, match="open the store first"):
        await ledger.open()
    with pytest.raises(ValueError, match="no attempt ledger"):
        open_ledger("redis://x")
