"""The durable human review queue: what reviewers claim, submit, skip and release.

A task is claimed with a lease (a random token, stored hashed, valid until ``lease_until``
and renewable by a heartbeat). A claim whose lease has passed is dead: its task is back in
the queue and its token is refused, even if nobody has taken the task over yet. A task has at
most one open claim; with overlap N it is reviewed by N different reviewers, one after
another. Backends: ``queue_sqlite`` and ``queue_postgres``, sharing the store's database.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import grpc
from splice.sdk.types import ErrorCategory, Replacement, Status
from splice.server.errors import InvalidArgumentError, NotFoundError, ServiceError

MAX_REPLACEMENTS = 16
MAX_TEXT = 100_000
REVIEW_STATUSES = (Status.FOUND_ERROR, Status.NO_ERROR)


class StaleLeaseError(ServiceError):
    """The lease token is unknown, expired or superseded: claim again."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, request_id: str, reviewer: str | None = None) -> None:
        super().__init__(f"the lease on {request_id!r} expired or is not yours; "
                         "claim a task again")
        self.reviewer = reviewer or ""


class UnknownTaskError(NotFoundError):
    """No review task under this request_id."""


@dataclass(frozen=True, slots=True)
class TaskContent:
    """What a reviewer sees: the problem, the reference and the rollout's numbered steps."""

    problem: str
    reference_solution: str
    reference_answer: str
    problem_id: str
    steps: tuple[str, ...]
    categorize: bool


@dataclass(frozen=True, slots=True)
class Claim:
    """A task held by one reviewer until ``lease_until``; ``lease_token`` proves it."""

    request_id: str
    lease_token: str
    lease_until: datetime
    priority: int
    overlap: int
    reviews_done: int
    content: TaskContent


@dataclass(frozen=True, slots=True)
class Review:
    """One reviewer's verdict: the first critical error step (0: none) and replacements."""

    reviewer: str
    status: Status
    first_error_step: int = 0
    replacements: tuple[Replacement, ...] = ()
    category: ErrorCategory = ErrorCategory.UNSPECIFIED
    explanation: str = ""
    submitted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What a submit did: ``done`` once the task has all its ``overlap`` reviews (``task``
    then holds them, for the store's result)."""

    done: bool
    reviews_done: int
    overlap: int
    task: DoneTask | None = None


@dataclass(frozen=True, slots=True)
class DoneTask:
    """A task with all its reviews, whose result may not be in the store yet."""

    request_id: str
    reviews: tuple[Review, ...]
    categorize: bool
    created_at: datetime
    done_at: datetime


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue counters; ``mine_today`` counts the asking reviewer's submissions."""

    pending: int
    claimed: int
    done_today: int
    done_total: int
    mine_today: int = 0


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail: who did what to which task, when."""

    at: datetime
    request_id: str
    reviewer: str
    event: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A stored access token (only its hash is ever stored)."""

    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


def new_token() -> str:
    """A fresh high-entropy secret (lease or access token)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``token`` with a stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


def check_review(review: Review, n_steps: int) -> None:
    """Raise InvalidArgumentError unless ``review`` fits a rollout of ``n_steps`` steps."""
    if review.status not in REVIEW_STATUSES:
        raise InvalidArgumentError("status", "must be FOUND_ERROR or NO_ERROR")
    if review.status is Status.FOUND_ERROR and not 1 <= review.first_error_step <= n_steps:
        raise InvalidArgumentError(
            "first_error_step", f"{review.first_error_step} is outside steps 1..{n_steps}")
    if review.status is Status.NO_ERROR and (review.first_error_step or review.replacements):
        raise InvalidArgumentError("first_error_step", "NO_ERROR takes no step or replacement")
    if len(review.replacements) > MAX_REPLACEMENTS:
        raise InvalidArgumentError("replacements", f"at most {MAX_REPLACEMENTS}")
    for i, r in enumerate(review.replacements):
        if not 1 <= r.location <= n_steps:
            raise InvalidArgumentError(
                f"replacements[{i}].location", f"{r.location} is outside steps 1..{n_steps}")
        if not r.content.strip() or len(r.content) > MAX_TEXT:
            raise InvalidArgumentError(
                f"replacements[{i}].content", f"must hold 1..{MAX_TEXT} characters")
    if len(review.explanation) > MAX_TEXT:
        raise InvalidArgumentError("explanation", f"at most {MAX_TEXT} characters")


def majority(reviews: tuple[Review, ...]) -> tuple[int, float]:
    """The agreed first error step (0: no error) and the share of reviewers who chose it.

    Most votes wins; a tie goes to the earliest error step (an error beats "no error").
    """
    votes = Counter(r.first_error_step for r in reviews)
    step = min(votes, key=lambda s: (-votes[s], s == 0, s))
    return step, votes[step] / len(reviews)


class ReviewQueue(abc.ABC):
    """The queue's operations; every write is one transaction, durable on return."""

    async def __aenter__(self) -> ReviewQueue:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (the store has created the tables: open it first)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @abc.abstractmethod
    async def enqueue(
        self, request_id: str, content: TaskContent, *, priority: int = 0, overlap: int = 1,
    ) -> bool:
        """Add a task (False, changing nothing, if ``request_id`` is already queued)."""

    @abc.abstractmethod
    async def claim(self, reviewer: str, lease_s: float) -> Claim | None:
        """The highest-priority, oldest free task that ``reviewer`` has not reviewed or
        skipped, leased to them for ``lease_s`` s; None when there is none."""

    @abc.abstractmethod
    async def heartbeat(self, request_id: str, lease_token: str, lease_s: float) -> datetime:
        """Extend a live lease to now + ``lease_s``; StaleLeaseError if it is not live."""

    @abc.abstractmethod
    async def submit(self, request_id: str, lease_token: str, review: Review) -> SubmitOutcome:
        """Record ``review`` under a live lease and end the claim (StaleLeaseError if the
        lease is not live; InvalidArgumentError if the review does not fit the task)."""

    @abc.abstractmethod
    async def skip(self, request_id: str, lease_token: str, reason: str = "") -> None:
        """Give the task back; it is not offered to this reviewer again."""

    @abc.abstractmethod
    async def release(self, request_id: str, lease_token: str) -> None:
        """Give the task back; anyone, this reviewer included, may claim it again."""

    @abc.abstractmethod
    async def unapplied(self, limit: int = 10_000) -> list[str]:
        """Request ids of tasks with all their reviews whose intervention is still PENDING in
        the store (a crash came between the last submit and the store's finish)."""

    @abc.abstractmethod
    async def done_task(self, request_id: str) -> DoneTask | None:
        """The task with its reviews, once it has all of them (None before)."""

    @abc.abstractmethod
    async def stats(self, reviewer: str | None = None) -> QueueStats:
        """Counters: pending (free), claimed, done today (UTC), done in all, mine today."""

    async def oldest_open_age_s(self) -> float:
        """Seconds since the oldest task not yet reviewed was enqueued (0 when none)."""
        return 0.0

    @abc.abstractmethod
    async def history(self, reviewer: str, limit: int = 20) -> list[tuple[str, Review]]:
        """The reviewer's latest submissions (request_id, review), newest first."""

    @abc.abstractmethod
    async def audit(self, request_id: str | None = None, limit: int = 200) -> list[AuditEvent]:
        """The audit trail (of one task, or of all), newest first."""

    @abc.abstractmethod
    async def add_token(self, token_hash: str, name: str, role: str) -> None:
        """Store an access token's hash."""

    @abc.abstractmethod
    async def find_token(self, token_hash: str) -> TokenRow | None:
        """The unrevoked token with this hash, if any."""

    @abc.abstractmethod
    async def revoke_tokens(self, name: str) -> int:
        """Revoke every token of ``name``; returns how many."""

    @abc.abstractmethod
    async def list_tokens(self) -> list[TokenRow]:
        """Every stored token (names and roles; hashes stay inside)."""


def open_review_queue(store_url: str) -> ReviewQueue:
    """The queue in the store at ``store_url`` (same file or database and schema)."""
    from splice.server.store import open_store
    from splice.server.store.postgres import PostgresStore
    from splice.server.store.sqlite import SqliteStore

    store = open_store(store_url)  # parses the URL only; nothing is opened
    if isinstance(store, SqliteStore):
        from splice.server.review.queue_sqlite import SqliteReviewQueue

        return SqliteReviewQueue(store.path)
    if isinstance(store, PostgresStore):
        from splice.server.review.queue_postgres import PostgresReviewQueue

        return PostgresReviewQueue(store.dsn, schema=store.schema)
    raise ValueError(f"no review queue for store {type(store).__name__}")
