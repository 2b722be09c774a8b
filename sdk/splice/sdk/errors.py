"""SDK exceptions, one per gRPC status code that a caller acts on differently."""

from __future__ import annotations

import grpc


class SpliceError(Exception):
    """An RPC failed; ``code`` is the gRPC status, ``retryable`` whether a retry may help."""

    retryable = False

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class InvalidArgumentError(SpliceError):
    """The request is wrong; the message names the field. Fix it; do not retry."""


class NotFoundError(SpliceError):
    """No such intervention or resource."""


class AlreadyExistsError(SpliceError):
    """The request_id was used before for different content."""


class ResourceExhaustedError(SpliceError):
    """Over a size limit, budget or quota."""


class PermissionDeniedError(SpliceError):
    """The caller's role may not do this."""


class UnauthenticatedError(SpliceError):
    """Missing or wrong credentials."""


class UnavailableError(SpliceError):
    """The service is down or overloaded; retried with backoff."""

    retryable = True


class DeadlineExceededError(SpliceError):
    """The call's deadline passed; accepted work still finishes (collect it with get/watch)."""

    retryable = True


class InternalError(SpliceError):
    """A bug or unexpected failure on the server."""


_BY_CODE: dict[grpc.StatusCode, type[SpliceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def error_for(code: grpc.StatusCode, message: str) -> SpliceError:
    """The exception for a status code (unknown codes: InternalError)."""
    return _BY_CODE.get(code, InternalError)(code, message)


def from_rpc_error(exc: grpc.RpcError) -> SpliceError:
    """Translate a grpc.RpcError (sync or aio) into a SpliceError."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return error_for(code, details or "")


def code_from_number(number: int) -> grpc.StatusCode:
    """grpc.StatusCode for its numeric value (as carried in stream error items)."""
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN
