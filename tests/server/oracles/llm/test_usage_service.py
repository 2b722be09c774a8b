"""Attempt rows, budgets, usage and estimates through a real server, the SDK and the CLI.

The server is a subprocess whose LLM oracle talks to the fake provider in this process;
its store is a SQLite file or a PostgreSQL schema (``shared_store_url``), kept across a
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from splice.sdk import AsyncClient, ResourceExhaustedError, Status
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import NO_RETRY
from splice.server.cli import main as cli_main
from splice.server.testing import ServerProcess, start_server_process

from .fake_provider import Act, FakeProvider, verdict
from .helpers import KEY_ENV, PROBLEM, REFERENCE, ROLLOUT, SECRET

pytestmark = pytest.mark.timeout(180)

GOOD = verdict(2, (2, "Wait, the denominators differ: I need 6 as a common denominator."))
PRICES = {"test-model": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}


def usd(tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * 3.0 + tokens_out * 15.0) / 1e6


def request(rid: str, text: str = "", **fields: Any) -> InterventionRequest:
    """A request whose rollout is its own (so that no result is served from the cache)."""
    text = text or f"{ROLLOUT}\n\nChecked ({rid})."
    return InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE, rollout=text,
                               request_id=rid, reference_answer="\\frac{5}{6}", **fields)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    provider = FakeProvider(default=Act(text=GOOD))
    await provider.start()
    yield provider
    await provider.close()


@contextlib.asynccontextmanager
async def server(fake: FakeProvider, store_url: str, workdir: Path,
                 **options: Any) -> AsyncIterator[ServerProcess]:
    settings = {"store_url": store_url, "default_oracle": "claude", "oracles": {
        "claude": {"backend": "llm:openai", "options": {
            "model": "test-model", "base_url": fake.base_url + "/v1", "api_key_env": KEY_ENV,
            "max_tokens": 1000, "max_attempts": 3, "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05, "prices": PRICES, **options}},
        "free": {"backend": "noop"}}}
    proc = await asyncio.to_thread(start_server_process, settings, workdir,
                                   env={KEY_ENV: SECRET})
    try:
        yield proc
    finally:
        assert await asyncio.to_thread(proc.terminate) in (0, -15), proc.log()[-3000:]


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any]]:
    capsys.readouterr()
    code = await asyncio.to_thread(cli_main, list(argv))
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def stored_bytes(store_url: str, workdir: Path) -> bytes:
    """Everything in the store's attempt rows (SQLite: the whole database files)."""
    if store_url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in workdir.parent.glob("*.db*"))
    import asyncpg

    dsn, _, schema = store_url.partition("?schema=")
    conn = await asyncpg.connect(dsn)
    try:
        text = await conn.fetchval(
            f'SELECT string_agg(t::text, \'\n\') FROM "{schema}".oracle_attempts t')
    finally:
        await conn.close()
    return str(text).encode()


async def test_attempt_rows_and_usage_survive_restart(
        fake: FakeProvider, shared_store_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake.then(Act("status", status=500, text="upstream broke for {auth}"),
              Act(text=GOOD, input_tokens=1200, output_tokens=300),
              Act(text=GOOD, input_tokens=800, output_tokens=200))
    async with (server(fake, shared_store_url, tmp_path / "a") as proc,
                AsyncClient(proc.address, client_id="c1", retry=NO_RETRY) as client):
        first = await client.intervene(request("r1"))
        await client.intervene(request("r2", client_id="c2"))
    assert first.status is Status.FOUND_ERROR
    assert (first.usage.input_tokens, first.usage.output_tokens) == (1200, 300)

    async with server(fake, shared_store_url, tmp_path / "b") as proc:
        async with AsyncClient(proc.address, retry=NO_RETRY) as client:
            rows = await client.attempts("r1")
            totals = await client.usage()
            mine = await client.usage(client_id="c2", oracle="claude")
        code, printed = await cli(capsys, "usage", "--target", proc.address, "--client", "c1")
    assert [(a.attempt, a.outcome, a.http_status) for a in rows] == [
        (1, "server", 500), (2, "ok", 200)]
    assert [(a.input_tokens, a.output_tokens) for a in rows] == [(0, 0), (1200, 300)]
    assert rows[1].cost_usd == pytest.approx(usd(1200, 300))
    assert {a.client_id for a in rows} == {"c1"} and rows[0].started_at is not None
    assert "[redacted]" in rows[0].error and SECRET not in rows[0].error
    assert [(t.client_id, t.oracle, t.calls, t.input_tokens, t.output_tokens)
            for t in totals] == [("c1", "claude", 2, 1200, 300), ("c2", "claude", 1, 800, 200)]
    assert totals[0].cost_usd == pytest.approx(usd(1200, 300))
    assert [(t.client_id, t.tokens) for t in mine] == [("c2", 1000)]
    assert code == 0 and len(printed) == 1
    assert printed[0]["calls"] == 2 and printed[0]["input_tokens"] == 1200
    assert printed[0]["output_tokens"] == 300
    assert printed[0]["cost_usd"] == pytest.approx(usd(1200, 300))
    assert len(fake.seen) == 3
    assert SECRET.encode() not in await stored_bytes(shared_store_url, tmp_path / "a")


async def test_budget_enforced_across_restart(
        fake: FakeProvider, shared_store_url: str, tmp_path: Path) -> None:
    fake.default = Act(text=GOOD, input_tokens=4000, output_tokens=2000)
    budgets = {"budgets": {"*": {"tokens_per_day": 5000}}}
    async with (server(fake, shared_store_url, tmp_path / "a", **budgets) as proc,
                AsyncClient(proc.address, client_id="c1", retry=NO_RETRY) as client):
        assert (await client.intervene(request("r1"))).status is Status.FOUND_ERROR
        with pytest.raises(ResourceExhaustedError, match="budget '\\*' of client 'c1'"):
            await client.intervene(request("r2"))
    assert len(fake.seen) == 1

    async with (server(fake, shared_store_url, tmp_path / "b", **budgets) as proc,
                AsyncClient(proc.address, client_id="c1", retry=NO_RETRY) as client):
        with pytest.raises(ResourceExhaustedError, match="6000 of 5000 tokens"):
            await client.intervene(request("r3"))
        assert len(fake.seen) == 1  # spent was read from the store: nothing sent
        retried = await client.intervene(request("r1"))  # over budget, but already paid for
        assert retried.status is Status.FOUND_ERROR and retried.request_id == "r1"
        assert len(fake.seen) == 1
        other = await client.intervene(request("r4", client_id="c2"))
        assert other.status is Status.FOUND_ERROR
        free = await client.intervene(request("r5", oracle="free"))  # no budget there
        assert free.status is Status.NO_ERROR
        [total] = await client.usage(client_id="c1")
    assert len(fake.seen) == 2
    assert (total.tokens, total.budget_tokens_per_day, total.budget_usd_per_day) == (
        6000, 5000, None)


async def test_estimate_counts_rendered_prompts_and_sends_nothing(
        fake: FakeProvider, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from splice.sdk import InvalidArgumentError
    from splice.server.oracles.llm import prompts
    from splice.server.segmentation import segment

    batch = [request(f"e{i}", ROLLOUT + "\n\nCheck." * i) for i in range(3)]
    expected = sum(prompts.render_intervention(PROBLEM, REFERENCE, segment(r.rollout))
                   .estimated_tokens for r in batch)
    lines = "\n".join(json.dumps({"problem": r.problem, "reference_solution":
                                  r.reference_solution, "rollout": r.rollout}) for r in batch)
    (tmp_path / "batch.jsonl").write_text(lines + "\n")
    store = f"sqlite:///{tmp_path / 'srv' / 'splice.db'}"
    async with server(fake, store, tmp_path / "srv", samples=2) as proc:
        async with AsyncClient(proc.address, retry=NO_RETRY) as client:
            est = await client.estimate(batch, "claude", typical_output_tokens=700)
            with pytest.raises(InvalidArgumentError, match="not an LLM oracle"):
                await client.estimate(batch, "free")
            with pytest.raises(InvalidArgumentError, match=r"requests\[1\]\.problem"):
                await client.estimate([batch[0], InterventionRequest(
                    problem="", reference_solution=REFERENCE, rollout=ROLLOUT)])
            with pytest.raises(InvalidArgumentError, match="request_id"):
                await client.attempts("")
            assert await client.attempts("never-sent") == []
        code, printed = await cli(capsys, "estimate", "--target", proc.address, "--oracle",
                                  "claude", "--file", str(tmp_path / "batch.jsonl"))
    assert (est.oracle, est.model, est.requests, est.calls) == ("claude", "test-model", 3, 6)
    assert est.input_tokens == 2 * expected  # two samples per request
    assert (est.output_tokens_typical, est.output_tokens_max) == (6 * 700, 6 * 1000)
    assert est.priced and est.usd_max == pytest.approx(usd(2 * expected, 6000))
    assert code == 0 and printed[0]["input_tokens"] == est.input_tokens
    assert printed[0]["output_tokens_typical"] == 6 * 1000  # default 4000, capped at max
    assert fake.seen == []
