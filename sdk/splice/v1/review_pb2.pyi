import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from splice.v1 import intervention_pb2 as _intervention_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReviewTask(_message.Message):
    __slots__ = ("request_id", "lease_token", "lease_until", "problem", "reference_solution", "reference_answer", "problem_id", "steps", "categorize", "priority", "overlap", "reviews_done")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SOLUTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ANSWER_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIZE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_DONE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lease_token: str
    lease_until: _timestamp_pb2.Timestamp
    problem: str
    reference_solution: str
    reference_answer: str
    problem_id: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    categorize: bool
    priority: int
    overlap: int
    reviews_done: int
    def __init__(self, request_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., lease_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., problem: _Optional[str] = ..., reference_solution: _Optional[str] = ..., reference_answer: _Optional[str] = ..., problem_id: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ..., categorize: _Optional[bool] = ..., priority: _Optional[int] = ..., overlap: _Optional[int] = ..., reviews_done: _Optional[int] = ...) -> None: ...

class ClaimTaskRequest(_message.Message):
    __slots__ = ("reviewer",)
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    def __init__(self, reviewer: _Optional[str] = ...) -> None: ...

class ClaimTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: ReviewTask
    def __init__(self, task: _Optional[_Union[ReviewTask, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("request_id", "lease_token")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lease_token: str
    def __init__(self, request_id: _Optional[str] = ..., lease_token: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_until",)
    LEASE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    lease_until: _timestamp_pb2.Timestamp
    def __init__(self, lease_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubmitReviewRequest(_message.Message):
    __slots__ = ("request_id", "lease_token", "status", "first_error_step", "replacements", "category", "explanation")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FIRST_ERROR_STEP_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lease_token: str
    status: _intervention_pb2.InterventionStatus
    first_error_step: int
    replacements: _containers.RepeatedCompositeFieldContainer[_intervention_pb2.Replacement]
    category: _intervention_pb2.ErrorCategory
    explanation: str
    def __init__(self, request_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., status: _Optional[_Union[_intervention_pb2.InterventionStatus, str]] = ..., first_error_step: _Optional[int] = ..., replacements: _Optional[_Iterable[_Union[_intervention_pb2.Replacement, _Mapping]]] = ..., category: _Optional[_Union[_intervention_pb2.ErrorCategory, str]] = ..., explanation: _Optional[str] = ...) -> None: ...

class SubmitReviewResponse(_message.Message):
    __slots__ = ("done", "reviews_done", "overlap")
    DONE_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_DONE_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    done: bool
    reviews_done: int
    overlap: int
    def __init__(self, done: _Optional[bool] = ..., reviews_done: _Optional[int] = ..., overlap: _Optional[int] = ...) -> None: ...

class SkipTaskRequest(_message.Message):
    __slots__ = ("request_id", "lease_token", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lease_token: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SkipTaskResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseTaskRequest(_message.Message):
    __slots__ = ("request_id", "lease_token")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lease_token: str
    def __init__(self, request_id: _Optional[str] = ..., lease_token: _Optional[str] = ...) -> None: ...

class ReleaseTaskResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("reviewer",)
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    reviewer: str
    def __init__(self, reviewer: _Optional[str] = ...) -> None: ...

class GetQueueStatsResponse(_message.Message):
    __slots__ = ("pending", "claimed", "done_today", "done_total", "mine_today")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_FIELD_NUMBER: _ClassVar[int]
    DONE_TODAY_FIELD_NUMBER: _ClassVar[int]
    DONE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MINE_TODAY_FIELD_NUMBER: _ClassVar[int]
    pending: int
    claimed: int
    done_today: int
    done_total: int
    mine_today: int
    def __init__(self, pending: _Optional[int] = ..., claimed: _Optional[int] = ..., done_today: _Optional[int] = ..., done_total: _Optional[int] = ..., mine_today: _Optional[int] = ...) -> None: ...
