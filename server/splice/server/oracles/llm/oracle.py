"""The LLM oracle backends: ``llm:anthropic``, ``llm:gemini``, ``llm:openai``.

One task: render the versioned prompt, send it (``samples`` times) through the guarded
caller, parse each answer's marked verdict block, combine the samples, apply the answer-leak
policy, and return an :class:`OracleResult` whose usage sums every attempt. Every failure
ends in a ``FAILED`` result with a reason; no provider exception leaks out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError
from splice.sdk.types import ErrorCategory, FailureReason, Status, Usage
from splice.server.errors import BudgetExceededError, UnavailableError
from splice.server.oracles.base import Oracle, OracleResult, OracleTask
from splice.server.oracles.llm import prompts
from splice.server.oracles.llm.calls import CallContext, CallTotals, GuardedCaller, Redactor
from splice.server.oracles.llm.leak import LeakPolicy, apply_policy
from splice.server.oracles.llm.ledger import Budget, BudgetExceeded, BudgetGuard, Ledger
from splice.server.oracles.llm.ledger import shared_ledger as _shared_ledger
from splice.server.oracles.llm.options import LlmOptions, read_api_key
from splice.server.oracles.llm.parse import (
    ParsedVerdict,
    VerdictParseError,
    parse_category,
    parse_verdict,
)
from splice.server.oracles.llm.pricing import PriceTable
from splice.server.oracles.llm.providers.base import (
    ErrorKind,
    Finish,
    Provider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
)
from splice.server.oracles.llm.reliability import (
    CircuitBreaker,
    Clock,
    MonotonicClock,
    RateLimiter,
    RetryPolicy,
)
from splice.server.oracles.llm.sampling import combine

log = logging.getLogger("splice.oracles.llm")

_FAILURE_OF_KIND = {
    ErrorKind.TIMEOUT: FailureReason.TIMEOUT,
    ErrorKind.REFUSED: FailureReason.REFUSED,
    ErrorKind.CONTEXT_TOO_LONG: FailureReason.CONTEXT_TOO_LONG,
}


class _Failed(Exception):
    """A sample ended without a verdict; carries the FAILED result."""

    def __init__(self, result: OracleResult) -> None:
        super().__init__(result.failure.message if result.failure else "failed")
        self.result = result


class LlmOracle(Oracle):
    """Base of the LLM backends; subclasses build their provider adapter."""

    version: ClassVar[str] = f"1+{prompts.PROMPT_VERSION}"
    capabilities: ClassVar[tuple[str, ...]] = ("categorize", "replacements", "samples")
    cost_model: ClassVar[str] = "per-token"
    default_key_env: ClassVar[str | None] = None
    key_required: ClassVar[bool] = True

    def __init__(self, name: str, options: Mapping[str, Any] | None = None, *,
                 ledger: Ledger | None = None, clock: Clock | None = None,
                 provider: Provider | None = None) -> None:
        super().__init__(name, options)
        try:
            self.settings = LlmOptions.model_validate(self.options)
        except ValidationError as exc:
            raise ValueError(f"oracle {name!r}: invalid options: {exc}") from None
        self.ledger = ledger or _shared_ledger()
        self.clock = clock or MonotonicClock()
        self._provider = provider
        self._caller: GuardedCaller | None = None
        self._redact = Redactor()

    def config_hash(self) -> str:
        """Hash of what changes answers (model, sampling, prompt), not of rate limits."""
        saved = self.options
        self.options = self.settings.answer_affecting()
        try:
            return super().config_hash()
        finally:
            self.options = saved

    def make_provider(self, api_key: str) -> Provider:
        """Build this backend's SDK adapter."""
        raise NotImplementedError

    async def start(self) -> None:
        """Read the API key and build the SDK client (fails fast on a missing key)."""
        self.caller()

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()

    def caller(self) -> GuardedCaller:
        """The guarded caller, built on first use."""
        if self._caller is None:
            s = self.settings
            key = read_api_key(s, self.default_key_env, required=self.key_required)
            self._redact = Redactor(key)
            if self._provider is None:
                self._provider = self.make_provider(key)
            self._caller = GuardedCaller(
                self._provider, ledger=self.ledger,
                budgets=BudgetGuard(self.ledger, {k: Budget.from_options(v)
                                                  for k, v in s.budgets.items()}),
                prices=PriceTable(s.prices),
                retry=RetryPolicy(s.max_attempts, s.backoff_initial_s, s.backoff_max_s,
                                  s.max_retry_after_s),
                limiter=RateLimiter(s.rpm, s.tpm, window_s=s.rate_window_s, clock=self.clock),
                breaker=CircuitBreaker(s.breaker_failures, s.breaker_reset_s, self.clock),
                max_concurrency=s.max_concurrency, clock=self.clock, redact=self._redact)
        return self._caller

    async def admit(self, client_id: str) -> None:
        """Refuse work before it is accepted: UNAVAILABLE while the provider is marked down,
        RESOURCE_EXHAUSTED when the client's budget is used up (the budget is named).

        The engine calls this before ``store.accept`` where the oracle has it, so the
        caller gets a status it can act on instead of a FAILED result.
        """
        caller = self.caller()
        if caller.breaker.is_open:
            raise UnavailableError(f"oracle {self.name}: provider unavailable (circuit open); "
                                   "retry later")
        try:
            await caller.budgets.check_spent(client_id)
        except BudgetExceeded as exc:
            raise BudgetExceededError(f"oracle {self.name}: {exc}") from None

    def request(self, prompt: prompts.RenderedPrompt, settings: LlmOptions) -> ProviderRequest:
        """The provider request for ``prompt``."""
        return ProviderRequest(
            model=settings.model, system=prompt.system, user=prompt.user,
            max_tokens=settings.max_tokens, temperature=settings.temperature,
            thinking_budget=settings.thinking_budget,
            reasoning_effort=settings.reasoning_effort, timeout_s=settings.timeout_s)

    async def intervene(self, task: OracleTask) -> OracleResult:
        try:
            settings = self.settings.with_request(dict(task.options))
        except ValidationError as exc:
            return OracleResult.failed(FailureReason.ORACLE_ERROR,
                                       f"invalid per-request option: {exc.errors()[0]['msg']}")
        prompt = prompts.render_intervention(task.problem, task.reference_solution, task.steps,
                                             categorize=task.categorize
                                             and settings.categorize_mode == "inline")
        need = prompt.estimated_tokens + settings.max_tokens
        if settings.context_tokens and need > settings.context_tokens:
            return OracleResult.failed(
                FailureReason.CONTEXT_TOO_LONG,
                f"prompt of ~{prompt.estimated_tokens} tokens plus {settings.max_tokens} output "
                f"tokens exceeds the context of {settings.context_tokens} tokens")
        totals = CallTotals()
        outcomes = await asyncio.gather(*(
            self._sample(task, prompt, settings, i, totals) for i in range(settings.samples)),
            return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, _Failed):
                raise outcome
        verdicts = [o for o in outcomes if isinstance(o, tuple)]
        failures = [o.result for o in outcomes if isinstance(o, _Failed)]
        usage = Usage(input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
                      cost_usd=totals.cost_usd)
        if settings.samples == 1:
            if failures:
                return _with_usage(failures[0], usage)
            verdict, raw = verdicts[0]
            note = ""
        else:
            agreement = combine([v for v, _ in verdicts], settings.samples, settings.agreement)
            raw = "\n\n".join(f"=== sample {i} ===\n{r}" for i, (_, r) in enumerate(verdicts))
            if agreement.verdict is None:
                if not verdicts:
                    return _with_usage(failures[0], usage)
                return OracleResult(status=Status.ABSTAINED, explanation=agreement.note,
                                    usage=usage, raw=raw)
            verdict, note = agreement.verdict, agreement.note
        result = self._result(task, verdict, raw, settings, note, usage)
        if result.status is Status.FOUND_ERROR and task.categorize \
                and settings.categorize_mode == "separate":
            result = await self._categorize(task, result, settings, totals)
        return result

    async def _sample(self, task: OracleTask, prompt: prompts.RenderedPrompt,
                      settings: LlmOptions, index: int, totals: CallTotals
                      ) -> tuple[ParsedVerdict, str]:
        ctx = CallContext(task.request_id, task.client_id, self.name, prompt.version,
                          "intervene", index)
        reply = await self._send(prompt, settings, ctx, totals)
        try:
            verdict = parse_verdict(reply.text, prompt.marker, len(task.steps), task.rollout_text)
        except VerdictParseError as exc:
            cut = " (the answer was cut at max_tokens)" if reply.finish is Finish.LENGTH else ""
            raise _Failed(OracleResult.failed(
                FailureReason.PARSE_ERROR, f"{exc}{cut}", retryable=bool(cut),
                raw=self._redact(reply.text))) from None
        return verdict, reply.text

    async def _send(self, prompt: prompts.RenderedPrompt, settings: LlmOptions,
                    ctx: CallContext, totals: CallTotals) -> ProviderReply:
        """One guarded call whose reply has text, or :class:`_Failed`."""
        try:
            reply = await self.caller().call(self.request(prompt, settings),
                                             prompt.estimated_tokens, ctx, totals)
        except BudgetExceeded as exc:
            raise _Failed(OracleResult.failed(FailureReason.BUDGET_EXCEEDED, str(exc))) from None
        except ProviderError as exc:
            reason = _FAILURE_OF_KIND.get(exc.kind, FailureReason.ORACLE_ERROR)
            tries = f" after {totals.attempts} attempts" if exc.retryable else ""
            raise _Failed(OracleResult.failed(
                reason, self._redact(f"{self.name}: {exc.kind.value}{tries}: {exc.message}"),
                retryable=exc.retryable or exc.kind is ErrorKind.UNAVAILABLE)) from None
        if reply.finish is Finish.REFUSAL:
            raise _Failed(OracleResult.failed(
                FailureReason.REFUSED, f"{self.name} refused to answer",
                raw=self._redact(reply.text)))
        if reply.finish is Finish.CONTEXT:
            raise _Failed(OracleResult.failed(
                FailureReason.CONTEXT_TOO_LONG, f"{self.name}: the context window was exceeded",
                raw=self._redact(reply.text)))
        if not reply.text.strip():
            raise _Failed(OracleResult.failed(
                FailureReason.ORACLE_ERROR, f"{self.name} gave an empty answer "
                f"(finish: {reply.finish.value})", retryable=True))
        return reply

    def _result(self, task: OracleTask, verdict: ParsedVerdict, raw: str, settings: LlmOptions,
                note: str, usage: Usage) -> OracleResult:
        notes = [*verdict.notes] + ([note] if note else [])
        replacements, leaked = apply_policy(verdict.replacements, task.reference_answer,
                                            settings.answer_leak)
        if leaked:
            action = "flagged" if settings.answer_leak is LeakPolicy.FLAG else "dropped"
            notes.append(f"{leaked} replacement(s) stated the reference answer; {action}")
        explanation = "\n".join([verdict.summary, *notes]).strip()
        found = verdict.first_error_step > 0
        return OracleResult(
            status=Status.FOUND_ERROR if found else Status.NO_ERROR,
            first_error_step=verdict.first_error_step, replacements=replacements,
            category=verdict.category if task.categorize else ErrorCategory.UNSPECIFIED,
            explanation=explanation, usage=usage, raw=self._redact(raw))

    async def _categorize(self, task: OracleTask, result: OracleResult, settings: LlmOptions,
                          totals: CallTotals) -> OracleResult:
        prompt = prompts.render_categorization(task.problem, task.steps,
                                               result.explanation or result.raw[-4000:])
        ctx = CallContext(task.request_id, task.client_id, self.name, prompt.version,
                          "categorize")
        before = CallTotals()
        try:
            reply = await self._send(prompt, settings, ctx, before)
            category = parse_category(reply.text, prompt.marker)
        except (_Failed, VerdictParseError) as exc:
            category = ErrorCategory.UNSPECIFIED
            log.warning("categorisation of %s failed: %s", task.request_id, exc)
        totals.add(before)
        usage = Usage(input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
                      cost_usd=totals.cost_usd)
        return OracleResult(
            status=result.status, first_error_step=result.first_error_step,
            replacements=result.replacements, category=category,
            explanation=result.explanation, usage=usage, raw=result.raw)


def _with_usage(result: OracleResult, usage: Usage) -> OracleResult:
    return OracleResult(status=result.status, usage=usage, failure=result.failure,
                        raw=result.raw)


class AnthropicOracle(LlmOracle):
    """Claude through the ``anthropic`` SDK."""

    backend: ClassVar[str] = "llm:anthropic"
    description: ClassVar[str] = "InT intervention prompt through Anthropic's Messages API."
    default_key_env: ClassVar[str | None] = "ANTHROPIC_API_KEY"

    def make_provider(self, api_key: str) -> Provider:
        from splice.server.oracles.llm.providers.anthropic import AnthropicProvider
        return AnthropicProvider(api_key, base_url=self.settings.base_url,
                                 connect_timeout_s=self.settings.connect_timeout_s)


class GeminiOracle(LlmOracle):
    """Gemini through the ``google-genai`` SDK."""

    backend: ClassVar[str] = "llm:gemini"
    description: ClassVar[str] = "InT intervention prompt through Gemini generateContent."
    default_key_env: ClassVar[str | None] = "GEMINI_API_KEY"

    def make_provider(self, api_key: str) -> Provider:
        from splice.server.oracles.llm.providers.gemini import GeminiProvider
        return GeminiProvider(api_key, base_url=self.settings.base_url,
                              api_version=self.settings.api_version)


class OpenAIOracle(LlmOracle):
    """OpenAI or any OpenAI-compatible server (vLLM, sglang; the policy itself)."""

    backend: ClassVar[str] = "llm:openai"
    description: ClassVar[str] = "InT intervention prompt through an OpenAI-compatible API."
    default_key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    key_required: ClassVar[bool] = False

    def make_provider(self, api_key: str) -> Provider:
        from splice.server.oracles.llm.providers.openai import OpenAIProvider
        return OpenAIProvider(api_key, base_url=self.settings.base_url,
                              connect_timeout_s=self.settings.connect_timeout_s,
                              max_tokens_field=self.settings.max_tokens_field)
