"""Bearer-token metadata on every call of a channel (servers with access control on)."""

from __future__ import annotations

from typing import Any

import grpc


class _Bearer:
    """Adds ``authorization: Bearer <token>`` to a call (the token is never shown)."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"

    def _details(self, details: Any) -> Any:
        return details._replace(metadata=tuple(details.metadata or ()) + self._metadata)


# grpc.aio files each interceptor under one call kind only, so one class per kind.
# (grpc has no type stubs: its base classes are Any to mypy.)
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any,
                                      ) -> Any:
        return await continuation(self._details(details), requests)


def token_interceptors(token: str | None) -> list[_Bearer] | None:
    """Channel interceptors that send ``token`` on every kind of call; None without one."""
    if not token:
        return None
    return [kind(token) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
