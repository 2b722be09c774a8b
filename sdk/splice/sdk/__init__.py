"""Splice client SDK: call the oracle service from any RL framework or script."""

from splice.sdk.aio import AsyncClient
from splice.sdk.client import Client
from splice.sdk.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SpliceError,
    UnauthenticatedError,
    UnavailableError,
)
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import RetryPolicy
from splice.sdk.tls import TlsConfig
from splice.sdk.types import (
    ErrorCategory,
    Failure,
    FailureReason,
    Intervention,
    OracleDescription,
    OracleInfo,
    Provenance,
    Replacement,
    SegmentationMode,
    Status,
    Step,
    Usage,
    patched_prefix,
)
from splice.sdk.usage import CostEstimate, OracleAttempt, UsageTotal

__all__ = [
    "AlreadyExistsError", "AsyncClient", "Client", "CostEstimate", "DeadlineExceededError",
    "ErrorCategory", "Failure", "FailureReason", "InternalError", "Intervention",
    "InterventionRequest",
    "InvalidArgumentError", "NotFoundError", "OracleAttempt", "OracleDescription", "OracleInfo",
    "PermissionDeniedError", "Provenance", "Replacement", "ResourceExhaustedError",
    "RetryPolicy", "SegmentationMode", "SpliceError", "Status", "Step", "TlsConfig",
    "UnauthenticatedError", "UnavailableError", "Usage", "UsageTotal", "patched_prefix",
]
