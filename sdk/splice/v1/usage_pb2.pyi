import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from splice.v1 import intervention_pb2 as _intervention_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetUsageRequest(_message.Message):
    __slots__ = ("client_id", "oracle", "since")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    oracle: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., oracle: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageTotal(_message.Message):
    __slots__ = ("client_id", "oracle", "calls", "input_tokens", "output_tokens", "cost_usd", "budget_tokens_per_day", "budget_usd_per_day")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_TOKENS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_USD_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    oracle: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    budget_tokens_per_day: int
    budget_usd_per_day: float
    def __init__(self, client_id: _Optional[str] = ..., oracle: _Optional[str] = ..., calls: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., budget_tokens_per_day: _Optional[int] = ..., budget_usd_per_day: _Optional[float] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("totals",)
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    totals: _containers.RepeatedCompositeFieldContainer[UsageTotal]
    def __init__(self, totals: _Optional[_Iterable[_Union[UsageTotal, _Mapping]]] = ...) -> None: ...

class ListAttemptsRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class OracleAttempt(_message.Message):
    __slots__ = ("request_id", "client_id", "oracle", "model", "purpose", "sample", "attempt", "started_at", "latency_ms", "outcome", "http_status", "input_tokens", "output_tokens", "cost_usd", "error", "prompt_version", "retry_after_s")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    client_id: str
    oracle: str
    model: str
    purpose: str
    sample: int
    attempt: int
    started_at: _timestamp_pb2.Timestamp
    latency_ms: float
    outcome: str
    http_status: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    error: str
    prompt_version: str
    retry_after_s: float
    def __init__(self, request_id: _Optional[str] = ..., client_id: _Optional[str] = ..., oracle: _Optional[str] = ..., model: _Optional[str] = ..., purpose: _Optional[str] = ..., sample: _Optional[int] = ..., attempt: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency_ms: _Optional[float] = ..., outcome: _Optional[str] = ..., http_status: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., error: _Optional[str] = ..., prompt_version: _Optional[str] = ..., retry_after_s: _Optional[float] = ...) -> None: ...

class ListAttemptsResponse(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[OracleAttempt]
    def __init__(self, attempts: _Optional[_Iterable[_Union[OracleAttempt, _Mapping]]] = ...) -> None: ...

class EstimateCostRequest(_message.Message):
    __slots__ = ("requests", "oracle", "typical_output_tokens")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[_intervention_pb2.InterveneRequest]
    oracle: str
    typical_output_tokens: int
    def __init__(self, requests: _Optional[_Iterable[_Union[_intervention_pb2.InterveneRequest, _Mapping]]] = ..., oracle: _Optional[str] = ..., typical_output_tokens: _Optional[int] = ...) -> None: ...

class EstimateCostResponse(_message.Message):
    __slots__ = ("oracle", "model", "requests", "calls", "input_tokens", "output_tokens_typical", "output_tokens_max", "usd_typical", "usd_max", "priced")
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_TYPICAL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_MAX_FIELD_NUMBER: _ClassVar[int]
    USD_TYPICAL_FIELD_NUMBER: _ClassVar[int]
    USD_MAX_FIELD_NUMBER: _ClassVar[int]
    PRICED_FIELD_NUMBER: _ClassVar[int]
    oracle: str
    model: str
    requests: int
    calls: int
    input_tokens: int
    output_tokens_typical: int
    output_tokens_max: int
    usd_typical: float
    usd_max: float
    priced: bool
    def __init__(self, oracle: _Optional[str] = ..., model: _Optional[str] = ..., requests: _Optional[int] = ..., calls: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens_typical: _Optional[int] = ..., output_tokens_max: _Optional[int] = ..., usd_typical: _Optional[float] = ..., usd_max: _Optional[float] = ..., priced: _Optional[bool] = ...) -> None: ...
