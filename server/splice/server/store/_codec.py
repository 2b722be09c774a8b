"""Conversions between stored rows and Splice values, shared by the SQLite and PostgreSQL stores.

Both backends select the same column names (``ROW_COLUMNS``), so one decoder serves both;
timestamps are integer microseconds in SQLite and ``timestamptz`` in PostgreSQL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from splice.sdk.types import (
    ErrorCategory,
    Failure,
    FailureReason,
    Intervention,
    OracleInfo,
    Provenance,
    Replacement,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.server.native import NATIVE
from splice.server.oracles.base import OracleResult
from splice.server.store.base import RequestRecord


class Row(Protocol):
    """A result row with access by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


OPEN_STATUSES = (int(Status.RUNNING), int(Status.PENDING))
CACHEABLE_STATUSES = (int(Status.FOUND_ERROR), int(Status.NO_ERROR), int(Status.ABSTAINED))

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads

# Columns every row query selects: ``i`` is the interventions table, ``r`` the requests table.
ROW_COLUMNS = (
    "i.request_id, i.client_id, i.status, i.sequence, i.first_error_step, i.category, "
    "i.input_tokens, i.output_tokens, i.cost_usd, i.oracle_latency_ms, i.failure_reason, "
    "i.failure_message, i.failure_retryable, i.cached, i.created_at, i.finished_at, "
    "i.oracle_name, i.oracle_backend, i.oracle_version, i.oracle_config_hash, i.content_hash, "
    "i.replacements, i.explanation, r.problem_id, r.segmenter_name, r.segmenter_version, "
    "r.provenance, r.steps, r.rollout"
)
REQUEST_COLUMNS = (
    "request_id, problem_id, segmenter_name, segmenter_version, categorize, options, labels, "
    "provenance, problem, reference_solution, reference_answer, steps, rollout"
)
RESULT_COLUMNS = (
    "first_error_step, category, replacements, explanation, input_tokens, output_tokens, "
    "cost_usd, oracle_latency_ms, failure_reason, failure_message, failure_retryable"
)
# Extra columns needed to rebuild a RequestRecord (to resume unfinished work).
RECORD_COLUMNS = (
    ROW_COLUMNS + ", r.categorize, r.options, r.labels, r.problem, r.reference_solution, "
    "r.reference_answer"
)


def utc_now() -> datetime:
    """The current time, UTC, microsecond precision."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC); now if None."""
    if value is None:
        return utc_now()
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch: exact, unlike a float timestamp."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def as_datetime(value: Any) -> datetime | None:
    """A stored timestamp (int microseconds or datetime) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return _EPOCH + timedelta(microseconds=int(value))


def encode_steps(steps: tuple[Step, ...]) -> tuple[str, str]:
    """Steps as (layout JSON ``[[index, char_start, char_end, length], ...]``, texts).

    The texts are stored once, concatenated, rather than as JSON strings: escaping 20 KB
    of text costs more than the rest of an accept. The layout is built in C where built.
    """
    texts = "".join([s.text for s in steps])
    if NATIVE is not None:
        return NATIVE.steps_layout(steps), texts
    return steps_layout(steps), texts


def steps_layout(steps: tuple[Step, ...]) -> str:
    """The layout JSON of ``steps`` (what ``native.steps_layout`` must return)."""
    flat: list[int] = []
    for s in steps:
        flat += (s.index, s.char_start, s.char_end, len(s.text))
    return _layout_format(len(steps)) % tuple(flat)


@functools.lru_cache(maxsize=256)
def _layout_format(n: int) -> str:
    """``%`` format of a layout of ``n`` steps: one C-level call formats all the numbers,
    several times faster than json.dumps of a list of lists (same text)."""
    return "[" + ",".join(["[%d,%d,%d,%d]"] * n) + "]"


def decode_steps(layout: str, text: str) -> tuple[Step, ...]:
    """Inverse of :func:`encode_steps`."""
    steps, offset = [], 0
    for index, start, end, length in _loads(layout):
        steps.append(Step(index, text[offset:offset + length], start, end))
        offset += length
    return tuple(steps)


def encode_replacements(replacements: tuple[Replacement, ...]) -> str:
    """Replacements as compact JSON: ``[[location, content, leaks_answer], ...]``."""
    return _dumps([[r.location, r.content, r.leaks_answer] for r in replacements])


def decode_replacements(text: str) -> tuple[Replacement, ...]:
    """Inverse of :func:`encode_replacements`."""
    return tuple(Replacement(location=loc, content=c, leaks_answer=bool(leak))
                 for loc, c, leak in _loads(text))


def encode_mapping(value: Mapping[str, str]) -> str:
    """A string mapping as JSON."""
    return _dumps(dict(value))


def encode_provenance(value: Provenance | None) -> str | None:
    """Provenance as JSON, or None."""
    if value is None:
        return None
    return _dumps({
        "policy_checkpoint": value.policy_checkpoint, "sampling": dict(value.sampling),
        "tokenizer": value.tokenizer, "chat_template_hash": value.chat_template_hash,
        "policy_step": value.policy_step,
    })


def decode_provenance(text: str | None) -> Provenance | None:
    """Inverse of :func:`encode_provenance`."""
    return None if text is None else Provenance(**_loads(text))


def request_values(record: RequestRecord) -> tuple[Any, ...]:
    """The ``requests`` row of ``record``, in ``REQUEST_COLUMNS`` order."""
    return (
        record.request_id, record.problem_id, record.segmenter.name, record.segmenter.version,
        record.categorize, encode_mapping(record.options), encode_mapping(record.labels),
        encode_provenance(record.provenance), record.problem, record.reference_solution,
        record.reference_answer, *encode_steps(record.steps),
    )


def result_values(result: OracleResult) -> tuple[Any, ...]:
    """The verdict columns of ``result``, in ``RESULT_COLUMNS`` order."""
    f, u = result.failure, result.usage
    return (
        result.first_error_step, int(result.category), encode_replacements(result.replacements),
        result.explanation, u.input_tokens, u.output_tokens, u.cost_usd, u.oracle_latency_ms,
        None if f is None else int(f.reason), None if f is None else f.message,
        None if f is None else f.retryable,
    )


def intervention_from_row(row: Row) -> Intervention:
    """Decode a row selected with ``ROW_COLUMNS``."""
    reason = row["failure_reason"]
    failure = None if reason is None else Failure(
        reason=FailureReason(reason), message=row["failure_message"],
        retryable=bool(row["failure_retryable"]))
    return Intervention(
        request_id=row["request_id"], client_id=row["client_id"], status=Status(row["status"]),
        first_error_step=row["first_error_step"], steps=decode_steps(row["steps"], row["rollout"]),
        replacements=decode_replacements(row["replacements"]),
        category=ErrorCategory(row["category"]), explanation=row["explanation"],
        oracle=OracleInfo(name=row["oracle_name"], backend=row["oracle_backend"],
                          version=row["oracle_version"], config_hash=row["oracle_config_hash"]),
        usage=Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
                    cost_usd=row["cost_usd"], oracle_latency_ms=row["oracle_latency_ms"]),
        failure=failure,
        segmenter=Segmenter(name=row["segmenter_name"], version=row["segmenter_version"]),
        sequence=row["sequence"] or 0, cached=bool(row["cached"]), problem_id=row["problem_id"],
        created_at=as_datetime(row["created_at"]), finished_at=as_datetime(row["finished_at"]),
        provenance=decode_provenance(row["provenance"]),
    )


def record_from_row(row: Row) -> RequestRecord:
    """Decode a row selected with ``RECORD_COLUMNS`` back into its request."""
    return RequestRecord(
        request_id=row["request_id"], client_id=row["client_id"], problem=row["problem"],
        reference_solution=row["reference_solution"], reference_answer=row["reference_answer"],
        problem_id=row["problem_id"], steps=decode_steps(row["steps"], row["rollout"]),
        segmenter=Segmenter(name=row["segmenter_name"], version=row["segmenter_version"]),
        oracle=OracleInfo(name=row["oracle_name"], backend=row["oracle_backend"],
                          version=row["oracle_version"], config_hash=row["oracle_config_hash"]),
        categorize=bool(row["categorize"]), options=_loads(row["options"]),
        content_hash=row["content_hash"], provenance=decode_provenance(row["provenance"]),
        created_at=as_datetime(row["created_at"]),
        initial_status_pending=row["status"] == Status.PENDING,
        labels=_loads(row["labels"]),
    )


def open_intervention(record: RequestRecord, status: Status) -> Intervention:
    """The not-yet-finished intervention of a just accepted ``record``."""
    return Intervention(
        request_id=record.request_id, client_id=record.client_id, status=status,
        first_error_step=0, steps=record.steps, replacements=(),
        category=ErrorCategory.UNSPECIFIED, explanation="", oracle=record.oracle, usage=Usage(),
        failure=None, segmenter=record.segmenter, sequence=0, cached=False,
        problem_id=record.problem_id, created_at=record.created_at, finished_at=None,
        provenance=record.provenance,
    )


def finished_intervention(
    record: RequestRecord, result: OracleResult, sequence: int, finished_at: datetime | None,
    *, cached: bool = False,
) -> Intervention:
    """``record``'s intervention carrying ``result`` (as the store has just written it)."""
    return Intervention(
        request_id=record.request_id, client_id=record.client_id, status=result.status,
        first_error_step=result.first_error_step, steps=record.steps,
        replacements=result.replacements, category=result.category,
        explanation=result.explanation, oracle=record.oracle, usage=result.usage,
        failure=result.failure, segmenter=record.segmenter, sequence=sequence, cached=cached,
        problem_id=record.problem_id, created_at=record.created_at, finished_at=finished_at,
        provenance=record.provenance,
    )


def cached_result(row: Row) -> OracleResult:
    """The verdict of a cache-hit row (``CACHE_HIT`` columns), with zero usage."""
    return OracleResult(
        status=Status(row["status"]), first_error_step=row["first_error_step"],
        replacements=decode_replacements(row["replacements"]),
        category=ErrorCategory(row["category"]), explanation=row["explanation"],
    )
