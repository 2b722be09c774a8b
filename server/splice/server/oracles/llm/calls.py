"""One guarded provider call: budget, breaker, limiter, concurrency, retries, attempt rows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from splice.server import metrics
from splice.server.oracles.llm.ledger import Attempt, BudgetGuard, Ledger
from splice.server.oracles.llm.pricing import PriceTable
from splice.server.oracles.llm.providers.base import (
    ErrorKind,
    Provider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
)
from splice.server.oracles.llm.reliability import (
    CircuitBreaker,
    Clock,
    RateLimiter,
    RetryPolicy,
)


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who a call is for, to label its attempt rows."""

    request_id: str
    client_id: str
    oracle: str
    prompt_version: str
    purpose: str = "intervene"
    sample: int = 0


@dataclass(slots=True)
class CallTotals:
    """What a (possibly retried) call cost, over all its attempts."""

    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add(self, other: CallTotals) -> None:
        """Accumulate ``other`` into this one."""
        self.attempts += other.attempts
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.errors.extend(other.errors)


class Redactor:
    """Removes secrets from any text that is logged, raised or stored."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = [s for s in secrets if len(s) >= 4]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


class GuardedCaller:
    """Sends requests through one provider with every protection of the backend."""

    def __init__(self, provider: Provider, *, ledger: Ledger, budgets: BudgetGuard,
                 prices: PriceTable, retry: RetryPolicy, limiter: RateLimiter,
                 breaker: CircuitBreaker, max_concurrency: int, clock: Clock,
                 redact: Redactor) -> None:
        self.provider, self.ledger, self.budgets, self.prices = provider, ledger, budgets, prices
        self.retry, self.limiter, self.breaker, self.clock = retry, limiter, breaker, clock
        self.redact = redact
        self.backend = f"llm:{provider.name}" if provider.name else type(provider).__name__
        self._slots = asyncio.Semaphore(max_concurrency)

    def estimate(self, request: ProviderRequest, prompt_tokens: int) -> tuple[int, float]:
        """Upper bound of one attempt's tokens and USD (the prompt plus all output tokens)."""
        tokens = prompt_tokens + request.max_tokens
        return tokens, self.prices.cost(request.model, prompt_tokens, request.max_tokens)

    async def call(self, request: ProviderRequest, prompt_tokens: int, ctx: CallContext,
                   totals: CallTotals) -> ProviderReply:
        """The reply, or :class:`ProviderError` once retries are spent.

        Raises :class:`~splice.server.oracles.llm.ledger.BudgetExceeded` before anything is
        sent when the client's budget cannot cover the call.
        """
        tokens, usd = self.estimate(request, prompt_tokens)
        await self.budgets.reserve(ctx.client_id, tokens, usd)

        async def attempt() -> ProviderReply:
            return await self._attempt(request, prompt_tokens, ctx, totals)

        try:
            return await self.retry.run(attempt, self.clock)
        finally:
            self.budgets.release(ctx.client_id, tokens, usd)

    async def _attempt(self, request: ProviderRequest, prompt_tokens: int, ctx: CallContext,
                       totals: CallTotals) -> ProviderReply:
        totals.attempts += 1
        number = totals.attempts
        started_at = datetime.now(UTC)
        observe = metrics.current()
        if number > 1:
            observe.retry(self.backend)
        try:
            self.breaker.check()
        except ProviderError as exc:
            observe.circuit(self.backend, self.breaker.state.value)
            await self._record(ctx, request, number, started_at, 0.0, exc, None, totals)
            raise
        async with self._slots:
            ticket = await self.limiter.acquire(prompt_tokens + request.max_tokens)
            t0 = time.perf_counter()
            try:
                # The SDK enforces timeout_s; this outer guard also covers a stuck connect.
                async with asyncio.timeout(request.timeout_s + 30.0):
                    reply = await self.provider.complete(request)
            except TimeoutError:
                error: ProviderError | None = ProviderError(ErrorKind.TIMEOUT,
                                                            "the request timed out")
            except ProviderError as exc:
                error = exc
            else:
                error = None
            finally:
                self.limiter.release(ticket)
            latency_ms = (time.perf_counter() - t0) * 1000.0
        self.breaker.record(error)
        observe.circuit(self.backend, self.breaker.state.value)
        if error is not None:
            if error.kind is ErrorKind.RATE_LIMITED and error.retry_after:
                self.limiter.pause(min(error.retry_after, self.retry.max_retry_after_s))
            await self._record(ctx, request, number, started_at, latency_ms, error, None, totals)
            raise ProviderError(error.kind, self.redact(error.message),
                                retry_after=error.retry_after, status_code=error.status_code)
        await self._record(ctx, request, number, started_at, latency_ms, None, reply, totals)
        return reply

    async def _record(self, ctx: CallContext, request: ProviderRequest, number: int,
                      started_at: datetime, latency_ms: float, error: ProviderError | None,
                      reply: ProviderReply | None, totals: CallTotals) -> None:
        in_tok = reply.input_tokens if reply else 0
        out_tok = reply.output_tokens if reply else 0
        cost = self.prices.cost(request.model, in_tok, out_tok)
        totals.input_tokens += in_tok
        totals.output_tokens += out_tok
        totals.cost_usd += cost
        metrics.current().oracle_usage(self.backend, ctx.client_id, in_tok, out_tok, cost)
        message = self.redact(error.message) if error else ""
        if error:
            totals.errors.append(f"{error.kind.value}: {message}")
        await self.ledger.record(Attempt(
            request_id=ctx.request_id, client_id=ctx.client_id, oracle=ctx.oracle,
            model=(reply.model if reply and reply.model else request.model),
            purpose=ctx.purpose, sample=ctx.sample, attempt=number, started_at=started_at,
            latency_ms=latency_ms, outcome=error.kind.value if error else "ok",
            http_status=reply.http_status if reply else (error.status_code or 0) if error else 0,
            input_tokens=in_tok, output_tokens=out_tok, cost_usd=cost, error=message,
            prompt_version=ctx.prompt_version,
            retry_after_s=error.retry_after if error else None))
