"""Service errors and the one table that maps them to gRPC status codes."""

from __future__ import annotations

import logging

import grpc
from splice.server.store.base import RequestConflictError, StoreError


class ServiceError(Exception):
    """Base of errors that reach the caller; the message must say what to fix."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgumentError(ServiceError):
    """A field of the request is wrong; the message names it."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class TooLargeError(ServiceError):
    """A field is over its size limit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, field: str, size: int, limit: int, unit: str = "characters") -> None:
        super().__init__(f"{field}: {size} {unit} is over the limit of {limit}; "
                         f"send less or raise the server's limit")
        self.field = field


class BudgetExceededError(ServiceError):
    """A client is over its budget (RESOURCE_EXHAUSTED); the message names the budget."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotFoundError(ServiceError):
    """The named resource does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class UnavailableError(ServiceError):
    """Temporarily unable to serve; retry with backoff."""

    code = grpc.StatusCode.UNAVAILABLE


STATUS_CODES: dict[type[BaseException], grpc.StatusCode] = {
    RequestConflictError: grpc.StatusCode.ALREADY_EXISTS,
    StoreError: grpc.StatusCode.UNAVAILABLE,
    TimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
}
"""Status codes of exceptions that are not ServiceErrors (ServiceErrors carry their own)."""


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and message for ``exc``; unknown errors are INTERNAL."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc)
    for exc_type, code in STATUS_CODES.items():
        if isinstance(exc, exc_type):
            return code, str(exc) or exc_type.__name__
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see server logs"


async def abort(context: grpc.aio.ServicerContext, exc: BaseException,
                log: logging.Logger) -> None:
    """End the call with the status of ``exc``; unexpected errors are logged first."""
    code, message = status_of(exc)
    if code is grpc.StatusCode.INTERNAL:
        log.error("internal error", exc_info=exc)
    await context.abort(code, message)
