"""Options of one LLM oracle instance, validated at server start; and its API key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from splice.server.oracles.llm.leak import LeakPolicy

REQUEST_OVERRIDES = ("answer_leak", "samples", "agreement")
"""Options a request may override through its ``options`` map."""


class LlmOptions(BaseModel):
    """Everything configurable per LLM oracle; several named instances may share a backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="Provider model name, e.g. 'claude-sonnet-4-5'.")
    temperature: float | None = Field(None, ge=0, le=2, description="None: provider default.")
    max_tokens: int = Field(16_000, ge=16, description="Output token limit (thinking included).")
    thinking_budget: int | None = Field(
        None, ge=0, description="Thinking tokens (Anthropic budget_tokens, Gemini thinking).")
    reasoning_effort: str | None = Field(None, description="OpenAI reasoning_effort.")
    base_url: str | None = Field(None, description="Provider endpoint (vLLM, proxy, fake).")
    api_version: str | None = Field(None, description="Gemini API version (default v1beta).")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_completion_tokens", description="OpenAI-compatible servers: which field to send.")
    timeout_s: float = Field(300.0, gt=0, description="Limit of one provider attempt.")
    connect_timeout_s: float = Field(10.0, gt=0, description="TCP/TLS connect limit.")
    api_key_env: str | None = Field(None, description="Environment variable with the key.")
    api_key_file: str | None = Field(None, description="File with the key (mounted secret).")
    context_tokens: int | None = Field(
        None, ge=1, description="Model context window: longer prompts fail CONTEXT_TOO_LONG "
        "before any call (no truncation: a cut rollout would hide its error).")
    max_attempts: int = Field(5, ge=1, description="Tries per call, the first included.")
    backoff_initial_s: float = Field(1.0, ge=0, description="First backoff (full jitter).")
    backoff_max_s: float = Field(60.0, ge=0, description="Longest backoff.")
    max_retry_after_s: float = Field(300.0, ge=0, description="Cap on a retry-after wait.")
    max_concurrency: int = Field(16, ge=1, description="Provider calls in flight at most.")
    rpm: int | None = Field(None, ge=1, description="Requests per window at most.")
    tpm: int | None = Field(None, ge=1, description="Tokens per window at most (estimated).")
    rate_window_s: float = Field(60.0, gt=0, description="Window of rpm/tpm.")
    breaker_failures: int = Field(5, ge=1, description="Failures in a row that open the circuit.")
    breaker_reset_s: float = Field(30.0, gt=0, description="Open time before a probe.")
    answer_leak: LeakPolicy = Field(LeakPolicy.DROP, description="drop | flag | keep.")
    samples: int = Field(1, ge=1, le=16, description="Verdicts sampled per task.")
    agreement: Literal["majority", "unanimous"] = Field(
        "majority", description="How sampled verdicts must agree on the first error step.")
    categorize_mode: Literal["inline", "separate"] = Field(
        "inline", description="Category in the verdict block, or by a second call.")
    prices: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Model prefix -> {input_per_mtok, output_per_mtok}.")
    budgets: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Client id ('*': anyone) -> {tokens_per_day, "
        "usd_per_day}.")

    def with_request(self, overrides: dict[str, str]) -> LlmOptions:
        """These options with a request's allowed overrides applied."""
        picked: dict[str, Any] = {k: overrides[k] for k in REQUEST_OVERRIDES if k in overrides}
        return self.model_validate({**self.model_dump(), **picked}) if picked else self

    def answer_affecting(self) -> dict[str, Any]:
        """The options that change a verdict (the cache key), not how it is fetched."""
        keep = ("model", "temperature", "max_tokens", "thinking_budget", "reasoning_effort",
                "base_url", "answer_leak", "samples", "agreement", "categorize_mode")
        return {k: getattr(self, k) for k in keep}


class MissingKeyError(ValueError):
    """No API key where the options say to find it (the message never holds a key)."""


def read_api_key(options: LlmOptions, default_env: str | None, *, required: bool) -> str:
    """The API key from ``api_key_file`` or ``api_key_env`` (else ``default_env``)."""
    if options.api_key_file:
        try:
            key = Path(options.api_key_file).read_text().strip()
        except OSError as exc:
            raise MissingKeyError(
                f"cannot read api_key_file {options.api_key_file!r}: {exc.strerror}") from None
        if key:
            return key
        raise MissingKeyError(f"api_key_file {options.api_key_file!r} is empty")
    env = options.api_key_env or default_env
    key = os.environ.get(env, "").strip() if env else ""
    if not key and required:
        raise MissingKeyError(f"no API key: set the environment variable {env} "
                              "or give api_key_file in the oracle's options")
    return key
