"""Each backend through its real SDK against the local fake provider: every failure mode."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from splice.sdk.types import ErrorCategory, FailureReason, Replacement, Status
from splice.server.oracles.llm.ledger import MemoryLedger
from splice.server.oracles.registry import build_oracle

from .fake_provider import Act, FakeProvider, verdict
from .helpers import BACKENDS, KEY_ENV, SECRET, make_oracle, make_task

pytestmark = pytest.mark.timeout(60)

GOOD = verdict(2, (2, "Wait: $\\frac{1}{2} + \\frac{1}{3}$ needs a common denominator, 6."),
               (1, "We add the fractions over the common denominator $6$."),
               category="EXECUTION")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    provider = FakeProvider(default=Act(text=GOOD))
    await provider.start()
    yield provider
    await provider.close()


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def run(backend: str, fake: FakeProvider, *acts: Act, categorize: bool = False,
              **options: object) -> tuple[object, MemoryLedger]:
    fake.then(*acts)
    ledger = MemoryLedger()
    oracle = make_oracle(backend, fake.base_url, ledger, **options)
    await oracle.start()
    try:
        result = await oracle.intervene(make_task(categorize=categorize))
    finally:
        await oracle.aclose()
    return result, ledger


def outcomes(ledger: MemoryLedger) -> list[str]:
    return [a.outcome for a in ledger.rows]


async def test_well_formed_verdict(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, categorize=True)
    assert result.status is Status.FOUND_ERROR  # type: ignore[attr-defined]
    assert result.first_error_step == 2  # type: ignore[attr-defined]
    assert result.category is ErrorCategory.EXECUTION  # type: ignore[attr-defined]
    assert result.replacements == (  # type: ignore[attr-defined]
        Replacement(2, "Wait: $\\frac{1}{2} + \\frac{1}{3}$ needs a common denominator, 6."),
        Replacement(1, "We add the fractions over the common denominator $6$."))
    assert outcomes(ledger) == ["ok"]
    row = ledger.rows[0]
    assert row.input_tokens > 0 and row.output_tokens > 0
    assert result.usage.input_tokens == row.input_tokens  # type: ignore[attr-defined]
    assert row.prompt_version == "int-v1"
    seen = fake.seen[0]
    assert seen.wire == backend
    assert "[Step 2]" in str(seen.body)


async def test_429_with_retry_after_is_retried(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("status", status=429, retry_after=0.2))
    assert result.status is Status.FOUND_ERROR  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["rate_limited", "ok"]
    assert ledger.rows[0].retry_after_s == pytest.approx(0.2)
    assert ledger.rows[0].http_status == 429
    waited = fake.seen[1].at - fake.seen[0].at
    assert waited >= 0.2  # retry-after honoured, not the 10 ms backoff


async def test_500s_exhaust_retries(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, *[Act("status", status=500)] * 3)
    assert result.status is Status.FAILED  # type: ignore[attr-defined]
    assert result.failure.reason is FailureReason.ORACLE_ERROR  # type: ignore[attr-defined]
    assert result.failure.retryable  # type: ignore[attr-defined]
    assert "after 3 attempts" in result.failure.message  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["server"] * 3
    assert len(fake.seen) == 3


async def test_hang_past_timeout_then_success(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("hang", delay_s=10), timeout_s=0.5)
    assert result.status is Status.FOUND_ERROR  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["timeout", "ok"]
    assert 400 <= ledger.rows[0].latency_ms < 5000


async def test_hang_every_time_fails_with_timeout(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, *[Act("hang", delay_s=10)] * 2, timeout_s=0.3,
                               max_attempts=2)
    assert result.failure.reason is FailureReason.TIMEOUT  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["timeout", "timeout"]


async def test_truncated_json_body_is_retried(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("truncated_body"))
    assert result.status is Status.FOUND_ERROR  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["server", "ok"]


async def test_refusal_is_not_retried(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("refusal"))
    assert result.failure.reason is FailureReason.REFUSED  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["ok"]


async def test_empty_answer_fails(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("empty"))
    assert result.failure.reason is FailureReason.ORACLE_ERROR  # type: ignore[attr-defined]
    assert "empty answer" in result.failure.message  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["ok"]


async def test_truncated_verdict_is_a_parse_error_with_raw(backend: str,
                                                           fake: FakeProvider) -> None:
    cut = GOOD[: GOOD.index("END VERDICT") - 20]
    result, ledger = await run(backend, fake, Act("length", text=cut))
    assert result.failure.reason is FailureReason.PARSE_ERROR  # type: ignore[attr-defined]
    assert "cut at max_tokens" in result.failure.message  # type: ignore[attr-defined]
    assert result.raw.startswith("Verification Log")  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["ok"]


async def test_context_too_long_from_provider(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("context"))
    assert result.failure.reason is FailureReason.CONTEXT_TOO_LONG  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["context_too_long"]


async def test_context_too_long_before_any_call(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, context_tokens=2500)
    assert result.failure.reason is FailureReason.CONTEXT_TOO_LONG  # type: ignore[attr-defined]
    assert ledger.rows == [] and fake.seen == []


async def test_bad_request_is_not_retried(backend: str, fake: FakeProvider) -> None:
    result, ledger = await run(backend, fake, Act("status", status=400, text="bad model"))
    assert result.failure.reason is FailureReason.ORACLE_ERROR  # type: ignore[attr-defined]
    assert not result.failure.retryable  # type: ignore[attr-defined]
    assert outcomes(ledger) == ["bad_request"]


async def test_api_key_never_leaks(backend: str, fake: FakeProvider,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = Act("status", status=401, text="invalid key {auth}")
    result, ledger = await run(backend, fake, echo)
    assert SECRET in str(fake.seen[0].headers)  # the key was sent, and echoed back
    assert result.status is Status.FAILED  # type: ignore[attr-defined]
    stored = [repr(result), *(repr(a) for a in ledger.rows), caplog.text]
    assert not any(SECRET in text for text in stored)
    oracle = make_oracle(backend, fake.base_url, ledger)
    assert SECRET not in repr(oracle.options) + oracle.config_hash() + repr(oracle.info)


def test_registry_builds_each_backend(backend: str) -> None:
    cls, _ = BACKENDS[backend]
    oracle = build_oracle("x", f"llm:{backend}", {"model": "m", "api_key_env": KEY_ENV})
    assert type(oracle) is cls
    assert oracle.info.version == "1+int-v1"


def test_config_hash_ignores_rate_limits() -> None:
    a = build_oracle("x", "llm:openai", {"model": "m", "rpm": 10})
    b = build_oracle("x", "llm:openai", {"model": "m", "rpm": 20, "max_concurrency": 2})
    c = build_oracle("x", "llm:openai", {"model": "m2"})
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_invalid_options_fail_at_build() -> None:
    with pytest.raises(ValueError, match="invalid options"):
        build_oracle("x", "llm:openai", {"model": "m", "temprature": 0.2})
