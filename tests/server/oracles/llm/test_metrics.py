"""/metrics after a short load: every series of deploy/README.md, parsed as Prometheus text."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from splice.sdk import AsyncClient, InterventionRequest
from splice.sdk.errors import SpliceError
from splice.sdk.retry import RetryPolicy
from splice.server.testing import start_server_process

from .fake_provider import Act, FakeProvider, verdict
from .helpers import KEY_ENV, PROBLEM, REFERENCE, ROLLOUT, SECRET

pytestmark = pytest.mark.timeout(120)
NO_RETRY = RetryPolicy(max_attempts=1)
GOOD = verdict(2, (2, "Wait, the denominators differ: I need 6 as a common denominator."))
EXPECTED = {
    "splice_requests_total", "splice_request_latency_seconds", "splice_oracle_tokens_total",
    "splice_oracle_cost_usd_total", "splice_oracle_retries_total", "splice_circuit_state",
    "splice_review_queue_depth", "splice_review_queue_oldest_age_seconds",
    "splice_store_latency_seconds",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    provider = FakeProvider(default=Act(text=GOOD, input_tokens=100, output_tokens=20))
    await provider.start()
    yield provider
    await provider.close()


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float, str]]]:
    """Samples by family name: (labels, value, sample name)."""
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    return {f.name + ("_total" if f.type == "counter" else ""):  # the parser drops _total
            [(s.labels, s.value, s.name) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def request(tag: str, **fields: str) -> InterventionRequest:
    return InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE,
                               rollout=f"{ROLLOUT}\n\nChecked ({tag}).", **fields)


async def test_metrics_expose_every_series_after_a_short_load(
        fake: FakeProvider, tmp_path: Path) -> None:
    fake.then(Act("status", status=500, text="upstream broke"))  # one retry
    settings = {"default_oracle": "claude", "oracles": {
        "claude": {"backend": "llm:openai", "options": {
            "model": "test-model", "base_url": fake.base_url + "/v1", "api_key_env": KEY_ENV,
            "max_tokens": 1000, "max_attempts": 3, "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            "prices": {"test-model": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}}},
        "noop": {"backend": "noop"}, "human": {"backend": "human"}}, "review_web": False}
    proc = await asyncio.to_thread(start_server_process, settings, tmp_path,
                                   env={KEY_ENV: SECRET})
    try:
        assert proc.metrics_url is not None
        async with AsyncClient(proc.address, client_id="team-a", retry=NO_RETRY) as client:
            for i in range(3):
                await client.intervene(request(f"llm{i}"))
            for i in range(20):
                await client.intervene(request(f"noop{i}", oracle="noop"))
            await client.intervene(request("review", oracle="human"))
            with pytest.raises(SpliceError):
                await client.get("no-such-request")
        deadline = time.monotonic() + 10
        while True:  # the review-queue gauges are sampled every few seconds
            families = await asyncio.to_thread(scrape, proc.metrics_url)
            depth = families.get("splice_review_queue_depth", [({}, 0.0, "")])[0][1]
            if depth >= 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        assert await asyncio.to_thread(proc.terminate) in (0, -15), proc.log()[-3000:]

    assert set(families) >= EXPECTED, EXPECTED - set(families)
    requests = {(s[0]["method"], s[0]["code"], s[0]["oracle"]): s[1]
                for s in families["splice_requests_total"] if s[2].endswith("_total")}
    assert requests[("Intervene", "OK", "noop")] == 20
    assert requests[("Intervene", "OK", "claude")] == 3
    assert requests[("GetIntervention", "NOT_FOUND", "")] == 1
    counts = [s for s in families["splice_request_latency_seconds"]
              if s[2].endswith("_count") and s[0]["method"] == "Intervene"]
    assert counts and counts[0][1] == 24
    tokens = {(s[0]["backend"], s[0]["client"], s[0]["direction"]): s[1]
              for s in families["splice_oracle_tokens_total"] if s[2].endswith("_total")}
    assert tokens[("llm:openai", "team-a", "input")] == 300
    assert tokens[("llm:openai", "team-a", "output")] == 60
    cost = [s[1] for s in families["splice_oracle_cost_usd_total"] if s[2].endswith("_total")]
    assert cost == [pytest.approx(3 * (100 * 3.0 + 20 * 15.0) / 1e6)]
    assert [s[1] for s in families["splice_oracle_retries_total"]
            if s[2].endswith("_total")] == [1]
    assert [(s[0]["backend"], s[1]) for s in families["splice_circuit_state"]] == [
        ("llm:openai", 0.0)]
    assert depth == 1
    assert families["splice_review_queue_oldest_age_seconds"][0][1] >= 0
    ops = {s[0]["op"] for s in families["splice_store_latency_seconds"]}
    assert {"accept", "finish", "accept_finished", "get"} <= ops
