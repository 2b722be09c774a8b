import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentationMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENTATION_MODE_UNSPECIFIED: _ClassVar[SegmentationMode]
    SEGMENTATION_MODE_BLANK_LINE: _ClassVar[SegmentationMode]
    SEGMENTATION_MODE_KEYWORD: _ClassVar[SegmentationMode]

class InterventionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERVENTION_STATUS_UNSPECIFIED: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_RUNNING: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_FOUND_ERROR: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_NO_ERROR: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_ABSTAINED: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_PENDING: _ClassVar[InterventionStatus]
    INTERVENTION_STATUS_FAILED: _ClassVar[InterventionStatus]

class ErrorCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CATEGORY_UNSPECIFIED: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_HIGH_LEVEL: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_EXECUTION: _ClassVar[ErrorCategory]

class FailureReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILURE_REASON_UNSPECIFIED: _ClassVar[FailureReason]
    FAILURE_REASON_ORACLE_ERROR: _ClassVar[FailureReason]
    FAILURE_REASON_TIMEOUT: _ClassVar[FailureReason]
    FAILURE_REASON_PARSE_ERROR: _ClassVar[FailureReason]
    FAILURE_REASON_CONTEXT_TOO_LONG: _ClassVar[FailureReason]
    FAILURE_REASON_REFUSED: _ClassVar[FailureReason]
    FAILURE_REASON_BUDGET_EXCEEDED: _ClassVar[FailureReason]
    FAILURE_REASON_INTERNAL: _ClassVar[FailureReason]
SEGMENTATION_MODE_UNSPECIFIED: SegmentationMode
SEGMENTATION_MODE_BLANK_LINE: SegmentationMode
SEGMENTATION_MODE_KEYWORD: SegmentationMode
INTERVENTION_STATUS_UNSPECIFIED: InterventionStatus
INTERVENTION_STATUS_RUNNING: InterventionStatus
INTERVENTION_STATUS_FOUND_ERROR: InterventionStatus
INTERVENTION_STATUS_NO_ERROR: InterventionStatus
INTERVENTION_STATUS_ABSTAINED: InterventionStatus
INTERVENTION_STATUS_PENDING: InterventionStatus
INTERVENTION_STATUS_FAILED: InterventionStatus
ERROR_CATEGORY_UNSPECIFIED: ErrorCategory
ERROR_CATEGORY_HIGH_LEVEL: ErrorCategory
ERROR_CATEGORY_EXECUTION: ErrorCategory
FAILURE_REASON_UNSPECIFIED: FailureReason
FAILURE_REASON_ORACLE_ERROR: FailureReason
FAILURE_REASON_TIMEOUT: FailureReason
FAILURE_REASON_PARSE_ERROR: FailureReason
FAILURE_REASON_CONTEXT_TOO_LONG: FailureReason
FAILURE_REASON_REFUSED: FailureReason
FAILURE_REASON_BUDGET_EXCEEDED: FailureReason
FAILURE_REASON_INTERNAL: FailureReason

class Problem(_message.Message):
    __slots__ = ("text", "reference_solution", "reference_answer", "problem_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SOLUTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ANSWER_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    reference_solution: str
    reference_answer: str
    problem_id: str
    def __init__(self, text: _Optional[str] = ..., reference_solution: _Optional[str] = ..., reference_answer: _Optional[str] = ..., problem_id: _Optional[str] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("policy_checkpoint", "sampling", "tokenizer", "chat_template_hash", "policy_step")
    class SamplingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    POLICY_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_FIELD_NUMBER: _ClassVar[int]
    CHAT_TEMPLATE_HASH_FIELD_NUMBER: _ClassVar[int]
    POLICY_STEP_FIELD_NUMBER: _ClassVar[int]
    policy_checkpoint: str
    sampling: _containers.ScalarMap[str, str]
    tokenizer: str
    chat_template_hash: str
    policy_step: int
    def __init__(self, policy_checkpoint: _Optional[str] = ..., sampling: _Optional[_Mapping[str, str]] = ..., tokenizer: _Optional[str] = ..., chat_template_hash: _Optional[str] = ..., policy_step: _Optional[int] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("text", "steps", "provenance")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    provenance: Provenance
    def __init__(self, text: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("index", "text", "char_start", "char_end")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHAR_START_FIELD_NUMBER: _ClassVar[int]
    CHAR_END_FIELD_NUMBER: _ClassVar[int]
    index: int
    text: str
    char_start: int
    char_end: int
    def __init__(self, index: _Optional[int] = ..., text: _Optional[str] = ..., char_start: _Optional[int] = ..., char_end: _Optional[int] = ...) -> None: ...

class Replacement(_message.Message):
    __slots__ = ("location", "content", "leaks_answer")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    LEAKS_ANSWER_FIELD_NUMBER: _ClassVar[int]
    location: int
    content: str
    leaks_answer: bool
    def __init__(self, location: _Optional[int] = ..., content: _Optional[str] = ..., leaks_answer: _Optional[bool] = ...) -> None: ...

class Segmenter(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class OracleInfo(_message.Message):
    __slots__ = ("name", "backend", "version", "config_hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    backend: str
    version: str
    config_hash: str
    def __init__(self, name: _Optional[str] = ..., backend: _Optional[str] = ..., version: _Optional[str] = ..., config_hash: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cost_usd", "oracle_latency_ms")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ORACLE_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    oracle_latency_ms: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., oracle_latency_ms: _Optional[float] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("reason", "message", "retryable")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    reason: FailureReason
    message: str
    retryable: bool
    def __init__(self, reason: _Optional[_Union[FailureReason, str]] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class Intervention(_message.Message):
    __slots__ = ("request_id", "client_id", "status", "first_error_step", "steps", "replacements", "category", "explanation", "oracle", "usage", "failure", "segmenter", "sequence", "cached", "problem_id", "created_at", "finished_at", "provenance")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FIRST_ERROR_STEP_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTER_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    client_id: str
    status: InterventionStatus
    first_error_step: int
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    replacements: _containers.RepeatedCompositeFieldContainer[Replacement]
    category: ErrorCategory
    explanation: str
    oracle: OracleInfo
    usage: Usage
    failure: Failure
    segmenter: Segmenter
    sequence: int
    cached: bool
    problem_id: str
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    provenance: Provenance
    def __init__(self, request_id: _Optional[str] = ..., client_id: _Optional[str] = ..., status: _Optional[_Union[InterventionStatus, str]] = ..., first_error_step: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ..., replacements: _Optional[_Iterable[_Union[Replacement, _Mapping]]] = ..., category: _Optional[_Union[ErrorCategory, str]] = ..., explanation: _Optional[str] = ..., oracle: _Optional[_Union[OracleInfo, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ..., segmenter: _Optional[_Union[Segmenter, _Mapping]] = ..., sequence: _Optional[int] = ..., cached: _Optional[bool] = ..., problem_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class InterveneRequest(_message.Message):
    __slots__ = ("request_id", "client_id", "problem", "rollout", "oracle", "segmentation", "categorize", "options")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIZE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    client_id: str
    problem: Problem
    rollout: Rollout
    oracle: str
    segmentation: SegmentationMode
    categorize: bool
    options: _containers.ScalarMap[str, str]
    def __init__(self, request_id: _Optional[str] = ..., client_id: _Optional[str] = ..., problem: _Optional[_Union[Problem, _Mapping]] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ..., oracle: _Optional[str] = ..., segmentation: _Optional[_Union[SegmentationMode, str]] = ..., categorize: _Optional[bool] = ..., options: _Optional[_Mapping[str, str]] = ...) -> None: ...

class InterveneResponse(_message.Message):
    __slots__ = ("intervention",)
    INTERVENTION_FIELD_NUMBER: _ClassVar[int]
    intervention: Intervention
    def __init__(self, intervention: _Optional[_Union[Intervention, _Mapping]] = ...) -> None: ...

class InterveneStreamRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: InterveneRequest
    def __init__(self, request: _Optional[_Union[InterveneRequest, _Mapping]] = ...) -> None: ...

class InterveneStreamResponse(_message.Message):
    __slots__ = ("request_id", "intervention", "error_code", "error_message")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVENTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    intervention: Intervention
    error_code: int
    error_message: str
    def __init__(self, request_id: _Optional[str] = ..., intervention: _Optional[_Union[Intervention, _Mapping]] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetInterventionRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class GetInterventionResponse(_message.Message):
    __slots__ = ("intervention",)
    INTERVENTION_FIELD_NUMBER: _ClassVar[int]
    intervention: Intervention
    def __init__(self, intervention: _Optional[_Union[Intervention, _Mapping]] = ...) -> None: ...

class WatchInterventionsRequest(_message.Message):
    __slots__ = ("after", "client_id", "no_follow")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    after: int
    client_id: str
    no_follow: bool
    def __init__(self, after: _Optional[int] = ..., client_id: _Optional[str] = ..., no_follow: _Optional[bool] = ...) -> None: ...

class WatchInterventionsResponse(_message.Message):
    __slots__ = ("intervention",)
    INTERVENTION_FIELD_NUMBER: _ClassVar[int]
    intervention: Intervention
    def __init__(self, intervention: _Optional[_Union[Intervention, _Mapping]] = ...) -> None: ...

class ListOraclesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OracleDescription(_message.Message):
    __slots__ = ("info", "description", "capabilities", "cost_model", "is_default")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    COST_MODEL_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    info: OracleInfo
    description: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    cost_model: str
    is_default: bool
    def __init__(self, info: _Optional[_Union[OracleInfo, _Mapping]] = ..., description: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., cost_model: _Optional[str] = ..., is_default: _Optional[bool] = ...) -> None: ...

class ListOraclesResponse(_message.Message):
    __slots__ = ("oracles",)
    ORACLES_FIELD_NUMBER: _ClassVar[int]
    oracles: _containers.RepeatedCompositeFieldContainer[OracleDescription]
    def __init__(self, oracles: _Optional[_Iterable[_Union[OracleDescription, _Mapping]]] = ...) -> None: ...
