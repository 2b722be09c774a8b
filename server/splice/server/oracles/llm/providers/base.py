"""What every provider adapter speaks: one request, one reply, one error type."""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_CONTEXT_HINTS = re.compile(
    r"context[ _-]?(length|window)|too many tokens|prompt is too long|maximum context|"
    r"exceeds? the (maximum|max)|input (is )?too long|token count.*exceed|context_length",
    re.IGNORECASE,
)


class ErrorKind(enum.StrEnum):
    """Why a provider call failed; decides retrying and the final status."""

    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    REFUSED = "refused"
    CONTEXT_TOO_LONG = "context_too_long"
    UNAVAILABLE = "unavailable"
    """Not sent: the circuit breaker is open."""

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed if sent again."""
        return self in (ErrorKind.RATE_LIMITED, ErrorKind.SERVER, ErrorKind.TIMEOUT,
                        ErrorKind.CONNECTION)

    @property
    def provider_down(self) -> bool:
        """Whether the failure says the provider is unhealthy (for the circuit breaker)."""
        return self in (ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION)


class ProviderError(Exception):
    """A provider call failed; ``message`` is safe to store (no keys, no prompt text)."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        """Whether to try again (see :attr:`ErrorKind.retryable`)."""
        return self.kind.retryable


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One completion request, provider-neutral."""

    model: str
    system: str
    user: str
    max_tokens: int
    temperature: float | None = None
    thinking_budget: int | None = None
    reasoning_effort: str | None = None
    timeout_s: float = 600.0


class Finish(enum.StrEnum):
    """How the provider ended its answer."""

    STOP = "stop"
    LENGTH = "length"
    REFUSAL = "refusal"
    CONTEXT = "context"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """The provider's answer text and what it cost in tokens."""

    text: str
    input_tokens: int
    output_tokens: int
    finish: Finish = Finish.STOP
    model: str = ""
    http_status: int = 200


class Provider(abc.ABC):
    """A thin adapter over one provider SDK; retries are not its job (``max_retries=0``)."""

    name: str = ""

    @abc.abstractmethod
    async def complete(self, request: ProviderRequest) -> ProviderReply:
        """Send ``request``; raise :class:`ProviderError` on any failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Close HTTP clients."""


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000.0)
        value = lower.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def classify_status(status: int, message: str, headers: Mapping[str, str] | None = None
                    ) -> ProviderError:
    """The :class:`ProviderError` for an HTTP error status and the provider's message."""
    short = message[:300]
    if status == 429:
        return ProviderError(ErrorKind.RATE_LIMITED, short, status_code=status,
                             retry_after=parse_retry_after(headers))
    if status == 408:
        return ProviderError(ErrorKind.TIMEOUT, short, status_code=status)
    if status >= 500:
        return ProviderError(ErrorKind.SERVER, short, status_code=status,
                             retry_after=parse_retry_after(headers))
    if status in (400, 413, 422) and _CONTEXT_HINTS.search(message):
        return ProviderError(ErrorKind.CONTEXT_TOO_LONG, short, status_code=status)
    if status in (401, 403):
        return ProviderError(ErrorKind.AUTH, short, status_code=status)
    return ProviderError(ErrorKind.BAD_REQUEST, short, status_code=status)


def sdk_error(exc: Exception) -> ProviderError:
    """Map an exception of a Stainless-generated SDK (anthropic, openai) to ProviderError."""
    status_error = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status_error, int) and response is not None:
        message = getattr(exc, "api_message", None) or getattr(exc, "message", "") or str(exc)
        return classify_status(status_error, str(message), dict(response.headers))
    name = type(exc).__name__
    if "Timeout" in name:
        return ProviderError(ErrorKind.TIMEOUT, "the request timed out")
    if "Connection" in name:
        return ProviderError(ErrorKind.CONNECTION, "could not connect to the provider")
    return ProviderError(ErrorKind.BAD_REQUEST, f"{name}: {str(exc)[:300]}")


def malformed_reply() -> ProviderError:
    """The provider answered 200 with a body that is not valid JSON (cut off in transit)."""
    return ProviderError(ErrorKind.SERVER, "malformed response body from the provider")
