"""Row ⇄ value conversions shared by the SQLite and PostgreSQL review queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from splice.sdk.types import ErrorCategory, Replacement, Status
from splice.server.review.queue import AuditEvent, Review, TaskContent, TokenRow

CLAIM_COLUMNS = "c.claim_id, c.reviewer, c.lease_until, c.outcome, t.claim_id AS current"
"""What the lease checks read: the claim that a token names, and the task's current claim."""

SUBMISSION_COLUMNS = (
    "reviewer, status, first_error_step, category, replacements, explanation, submitted_at")


class Row(Protocol):
    """A row with access by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


def content_json(content: TaskContent) -> str:
    """The stored payload of a task."""
    return json.dumps({
        "problem": content.problem, "reference_solution": content.reference_solution,
        "reference_answer": content.reference_answer, "problem_id": content.problem_id,
        "steps": list(content.steps), "categorize": content.categorize,
    }, ensure_ascii=False)


def content_from_json(payload: str) -> TaskContent:
    """The task content stored by :func:`content_json`."""
    data = json.loads(payload)
    return TaskContent(
        problem=data["problem"], reference_solution=data["reference_solution"],
        reference_answer=data["reference_answer"], problem_id=data["problem_id"],
        steps=tuple(data["steps"]), categorize=bool(data["categorize"]))


def replacements_json(replacements: tuple[Replacement, ...]) -> str:
    """Replacements as a JSON array of ``{location, content}``."""
    return json.dumps([{"location": r.location, "content": r.content} for r in replacements],
                      ensure_ascii=False)


def micros_to_datetime(value: int) -> datetime:
    """SQLite's integer microseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def as_datetime(value: int | datetime) -> datetime:
    """A stored timestamp (microseconds or timestamptz) as an aware UTC datetime."""
    return value if isinstance(value, datetime) else micros_to_datetime(value)


def review_from_row(row: Row) -> Review:
    """A submission row (``SUBMISSION_COLUMNS``) as a Review."""
    return Review(
        reviewer=row["reviewer"], status=Status(row["status"]),
        first_error_step=row["first_error_step"],
        replacements=tuple(Replacement(location=int(r["location"]), content=str(r["content"]))
                           for r in json.loads(row["replacements"])),
        category=ErrorCategory(row["category"]), explanation=row["explanation"],
        submitted_at=as_datetime(row["submitted_at"]))


def audit_from_row(row: Row) -> AuditEvent:
    """An audit row as an AuditEvent."""
    return AuditEvent(at=as_datetime(row["at"]), request_id=row["request_id"],
                      reviewer=row["reviewer"], event=row["event"], detail=row["detail"])


def token_from_row(row: Row) -> TokenRow:
    """An auth_tokens row (without its hash) as a TokenRow."""
    revoked = row["revoked_at"]
    return TokenRow(name=row["name"], role=row["role"], created_at=as_datetime(row["created_at"]),
                    revoked_at=None if revoked is None else as_datetime(revoked))


def review_detail(review: Review) -> str:
    """The audit detail of a submission."""
    if review.status is Status.NO_ERROR:
        return "no error"
    return f"step {review.first_error_step}, {len(review.replacements)} replacement(s)"
