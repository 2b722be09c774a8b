"""What the LLM oracles cost: usage totals, attempt rows and batch estimates, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from splice.v1 import usage_pb2 as pb


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """Totals of one client on one oracle since a time, with the budget that applies."""

    client_id: str
    oracle: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    budget_tokens_per_day: int | None = None
    budget_usd_per_day: float | None = None

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class OracleAttempt:
    """One provider call made for a request (or one refused before it was sent)."""

    request_id: str
    client_id: str
    oracle: str
    model: str
    purpose: str
    sample: int
    attempt: int
    started_at: datetime | None
    latency_ms: float
    outcome: str
    http_status: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    error: str
    prompt_version: str
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """What a batch would cost on an LLM oracle; input tokens counted from its prompts."""

    oracle: str
    model: str
    requests: int
    calls: int
    input_tokens: int
    output_tokens_typical: int
    output_tokens_max: int
    usd_typical: float
    usd_max: float
    priced: bool
    """False when the model has no price: the USD figures are then 0."""


def usage_total_from_pb(m: pb.UsageTotal) -> UsageTotal:
    """Protobuf → :class:`UsageTotal`."""
    return UsageTotal(
        client_id=m.client_id, oracle=m.oracle, calls=m.calls, input_tokens=m.input_tokens,
        output_tokens=m.output_tokens, cost_usd=m.cost_usd,
        budget_tokens_per_day=(m.budget_tokens_per_day
                               if m.HasField("budget_tokens_per_day") else None),
        budget_usd_per_day=m.budget_usd_per_day if m.HasField("budget_usd_per_day") else None)


def attempt_from_pb(m: pb.OracleAttempt) -> OracleAttempt:
    """Protobuf → :class:`OracleAttempt`."""
    return OracleAttempt(
        request_id=m.request_id, client_id=m.client_id, oracle=m.oracle, model=m.model,
        purpose=m.purpose, sample=m.sample, attempt=m.attempt,
        started_at=m.started_at.ToDatetime(tzinfo=UTC) if m.HasField("started_at") else None,
        latency_ms=m.latency_ms, outcome=m.outcome, http_status=m.http_status,
        input_tokens=m.input_tokens, output_tokens=m.output_tokens, cost_usd=m.cost_usd,
        error=m.error, prompt_version=m.prompt_version,
        retry_after_s=m.retry_after_s if m.HasField("retry_after_s") else None)


def estimate_from_pb(m: pb.EstimateCostResponse) -> CostEstimate:
    """Protobuf → :class:`CostEstimate`."""
    return CostEstimate(
        oracle=m.oracle, model=m.model, requests=m.requests, calls=m.calls,
        input_tokens=m.input_tokens, output_tokens_typical=m.output_tokens_typical,
        output_tokens_max=m.output_tokens_max, usd_typical=m.usd_typical, usd_max=m.usd_max,
        priced=m.priced)


def since_to_pb(since: datetime | None, request: pb.GetUsageRequest) -> None:
    """Set ``request.since`` (naive means UTC)."""
    if since is not None:
        request.since.FromDatetime(since if since.tzinfo else since.replace(tzinfo=UTC))
