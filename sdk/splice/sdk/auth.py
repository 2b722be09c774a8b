"""Bearer-token metadata on every call of a channel (servers with access control on)."""

from __future__ import annotations

from typing import Any

import grpc


def _with_token(details: Any, metadata: tuple[tuple[str, str], ...]) -> Any:
    extra = tuple(details.metadata or ()) + metadata
    return details._replace(metadata=extra)


class BearerToken(  # grpc has no type stubs: its bases are Any
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.aio.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds ``authorization: Bearer <token>`` to every call (the token is never logged)."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def __repr__(self) -> str:
        return "BearerToken(***)"

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._metadata), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._metadata), request)

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(_with_token(details, self._metadata), requests)

    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any,
                                      ) -> Any:
        return await continuation(_with_token(details, self._metadata), requests)


def token_interceptors(token: str | None) -> list[BearerToken] | None:
    """Channel interceptors that send ``token``; None without one."""
    return [BearerToken(token)] if token else None
