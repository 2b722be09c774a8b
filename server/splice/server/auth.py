"""Access control: bearer tokens → principals with a role, and which role may call what.

With ``auth.enabled`` every gRPC call (but health and reflection) must carry
``authorization: Bearer <token>``; a missing or unknown token is UNAUTHENTICATED, a role
that :data:`METHOD_ROLES` does not allow is PERMISSION_DENIED (a method not listed is
admin-only). Tokens are stored as SHA-256 hashes (``auth_tokens`` table, or a YAML
``tokens_file`` of ``{name, role, sha256}``). A client's requests are bound to its token's
name: the server overwrites their ``client_id``, so no client can act as another (an admin's
requests keep theirs). With auth disabled (the embedded default) everything is allowed.
"""

from __future__ import annotations

import contextvars
import enum
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from splice.server.review.queue import ReviewQueue, hash_token, new_token


class Role(enum.StrEnum):
    """What a principal may do: send requests, review tasks, or everything."""

    CLIENT = "client"
    REVIEWER = "reviewer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the token's name and role."""

    name: str
    role: Role


_ANY = frozenset(Role)
_CLIENTS = frozenset({Role.CLIENT, Role.ADMIN})
_REVIEWERS = frozenset({Role.REVIEWER, Role.ADMIN})
_IS = "/splice.v1.InterventionService/"
_RS = "/splice.v1.ReviewService/"
_US = "/splice.v1.UsageService/"
METHOD_ROLES: dict[str, frozenset[Role]] = {
    _IS + "Intervene": _CLIENTS,
    _IS + "InterveneStream": _CLIENTS,
    _IS + "GetIntervention": _CLIENTS,
    _IS + "WatchInterventions": _CLIENTS,
    _IS + "ListOracles": _ANY,
    _RS + "ClaimTask": _REVIEWERS,
    _RS + "Heartbeat": _REVIEWERS,
    _RS + "SubmitReview": _REVIEWERS,
    _RS + "SkipTask": _REVIEWERS,
    _RS + "ReleaseTask": _REVIEWERS,
    _RS + "GetQueueStats": _ANY,
    # Usage totals are not scoped to the caller's own client_id yet: any client sees all.
    _US + "GetUsage": _CLIENTS,
    _US + "ListAttempts": _CLIENTS,
    _US + "EstimateCost": _CLIENTS,
}
"""Roles allowed per full method name; a method not listed is admin-only."""
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
"""Methods open to everyone (load balancers' health checks, schema discovery)."""

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "splice_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the gRPC call being served (None when auth is disabled)."""
    return _principal.get()


async def create_token(queue: ReviewQueue, name: str, role: Role | str) -> str:
    """Store a new token for ``name`` with ``role`` and return it: the only time it is seen."""
    if not NAME.fullmatch(name):
        raise ValueError(f"bad token name {name!r}: 1-64 letters, digits, '_.@-'")
    token = "splice_" + new_token()
    await queue.add_token(hash_token(token), name, Role(role).value)
    return token


class TokenAuthority:
    """Resolves tokens to principals: the ``auth_tokens`` table, then the tokens file.

    Lookups are cached for ``cache_s`` seconds (a revoked token stops working within it).
    """

    def __init__(self, queue: ReviewQueue, tokens_file: Path | None = None,
                 cache_s: float = 5.0) -> None:
        self.queue, self.cache_s = queue, cache_s
        self._file: dict[str, Principal] = {}
        if tokens_file is not None:
            data = yaml.safe_load(tokens_file.read_text()) or {}
            for entry in data.get("tokens", []):
                self._file[str(entry["sha256"]).lower()] = Principal(
                    str(entry["name"]), Role(entry["role"]))
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token``, or None if it is unknown or revoked."""
        if not token:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = self._file.get(digest)
        if principal is None:
            row = await self.queue.find_token(digest)
            principal = None if row is None else Principal(row.name, Role(row.role))
        if len(self._cache) > 10_000:
            self._cache.clear()
        # Unknown tokens are remembered briefly too, so guessing costs no database reads.
        self._cache[digest] = (principal, now + (self.cache_s if principal else 1.0))
        return principal


def bearer_token(metadata: Sequence[tuple[str, Any]] | None) -> str:
    """The token of an ``authorization: Bearer <token>`` header ('' if none)."""
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string_field(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def client_id_suffix(method: str, name: str) -> bytes | None:
    """Bytes that, appended to a serialized request of ``method``, set its client_id to
    ``name`` (protobuf: the last value of a scalar field wins; sub-messages merge).

    Bound for clients (not admins): Intervene and InterveneStream (a client cannot act as
    another) and GetUsage (a client reads only its own usage)."""
    field = _string_field(2, name.encode())  # InterveneRequest.client_id
    if method == _IS + "Intervene":
        return field
    if method == _IS + "InterveneStream":
        return _string_field(1, field)  # InterveneStreamRequest.request
    if method == "/splice.v1.UsageService/GetUsage":
        return _string_field(1, name.encode())  # a client reads its own usage only
    return None


Behavior = Callable[..., Any]


def _deny(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str,
          ) -> grpc.RpcMethodHandler:
    async def unary(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    kind = "stream_" if handler.request_streaming else "unary_"
    kind += "stream" if handler.response_streaming else "unary"
    return handler._replace(
        **{kind: streaming if handler.response_streaming else unary})


def _as(principal: Principal, behavior: Behavior, streaming: bool,
        bind: Callable[[Any], Any] | None, request_streaming: bool) -> Behavior:
    """``behavior`` run with ``principal`` as the current principal (and requests bound)."""
    def prepare(request: Any) -> Any:
        if bind is None:
            return request
        if not request_streaming:
            return bind(request)

        async def bound() -> AsyncIterator[Any]:
            async for item in request:
                yield bind(item)

        return bound()

    if streaming:
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            token = _principal.set(principal)
            try:
                async for item in behavior(prepare(request), context):
                    yield item
            finally:
                _principal.reset(token)

        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = _principal.set(principal)
        try:
            return await behavior(prepare(request), context)
        finally:
            _principal.reset(token)

    return unary


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Checks every call's bearer token against :data:`METHOD_ROLES`."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        token = bearer_token(details.invocation_metadata)
        principal = await self.authority.authenticate(token)
        if principal is None:
            return _deny(handler, grpc.StatusCode.UNAUTHENTICATED,
                         "missing, unknown or revoked bearer token")
        if principal.role not in METHOD_ROLES.get(method, frozenset({Role.ADMIN})):
            return _deny(handler, grpc.StatusCode.PERMISSION_DENIED,
                         f"role {principal.role.value} may not call {method}")
        bind = None
        suffix = client_id_suffix(method, principal.name)
        if suffix is not None and principal.role is not Role.ADMIN:
            bind = _binder(suffix, principal.name)
        kind = "stream_" if handler.request_streaming else "unary_"
        kind += "stream" if handler.response_streaming else "unary"
        behavior = _as(principal, getattr(handler, kind), handler.response_streaming, bind,
                       handler.request_streaming)
        return handler._replace(**{kind: behavior})


def _binder(suffix: bytes, name: str) -> Callable[[Any], Any]:
    def bind(request: Any) -> Any:
        if isinstance(request, bytes):
            return request + suffix
        getattr(request, "request", request).client_id = name  # parsed by grpcio instead
        return request

    return bind
