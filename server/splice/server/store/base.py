"""The durable store: requests, results and the intervention log, behind one interface."""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from splice.sdk.types import Intervention, OracleInfo, Provenance, Segmenter, Step
from splice.server.oracles.base import OracleResult


class StoreError(RuntimeError):
    """The store could not complete an operation (retryable: UNAVAILABLE)."""


class RequestConflictError(ValueError):
    """A request_id was reused for different content or another oracle."""


class UnknownRequestError(KeyError):
    """No request was accepted under this request_id."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A validated, segmented request, as accepted into the store.

    ``content_hash`` covers everything the oracle sees (problem, reference, steps,
    categorize, options); together with ``oracle.name`` and ``oracle.config_hash`` it is
    the cache key: identical content under the same oracle config is served from the store.
    """

    request_id: str
    client_id: str
    problem: str
    reference_solution: str
    reference_answer: str
    problem_id: str
    steps: tuple[Step, ...]
    segmenter: Segmenter
    oracle: OracleInfo
    categorize: bool
    options: Mapping[str, str]
    content_hash: str
    provenance: Provenance | None = None
    created_at: datetime | None = None
    initial_status_pending: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who runs a RUNNING request, and until when (``owner`` None: nobody, claimable)."""

    owner: str | None
    until: datetime


class AcceptOutcome(enum.Enum):
    """What :meth:`Store.accept` did."""

    NEW = "new"
    """Inserted; the oracle must run."""
    DUPLICATE = "duplicate"
    """The same request_id with the same content was already accepted; nothing inserted."""
    CACHED = "cached"
    """A finished result for identical content was copied; already in the log."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """Result of :meth:`Store.accept`."""

    outcome: AcceptOutcome
    intervention: Intervention


def check_final(result: OracleResult) -> None:
    """Only a final result can be stored together with its request."""
    if not result.status.finished:
        raise ValueError(f"accept_finished needs a final result, not {result.status.name}")


class Store(abc.ABC):
    """Durable requests, results and the ordered intervention log.

    Contracts (ARCHITECTURE.md): every method that writes returns only once its write is
    durable (group commit allowed); sequence numbers of the log are assigned in commit order,
    so a reader that has seen N never later finds a row < N committed after it read.
    """

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and run forward-only schema migrations."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush pending writes and disconnect."""

    @abc.abstractmethod
    async def accept(
        self, record: RequestRecord, *, use_cache: bool = True, owner: str | None = None,
        lease_s: float = 0.0,
    ) -> Accepted:
        """Durably accept a request, or find it already accepted or cached.

        Raises :class:`RequestConflictError` if ``record.request_id`` exists with another
        ``content_hash`` or oracle name. With ``use_cache``, a finished non-FAILED result
        for the same content hash, oracle name and config hash is copied into a new row
        (``cached=True``, zero usage), appended to the log, and returned as CACHED.
        A NEW row is leased to ``owner`` for ``lease_s`` seconds; without an owner it is
        unowned, and :meth:`claim_expired` may take it at once.
        """

    async def accept_finished(
        self, record: RequestRecord, result: OracleResult, *, use_cache: bool = True,
        owner: str | None = None, lease_s: float = 0.0,
    ) -> Accepted:
        """Accept ``record`` with its final ``result`` already known (a free oracle's).

        Behaves as :meth:`accept` followed, for a NEW row, by :meth:`finish`: a duplicate
        request_id returns the stored row (DUPLICATE), a cache hit is served as CACHED,
        and NEW carries the finished intervention with its sequence. Cancelling the caller
        never leaves half of it done. Backends may do it in one transaction; this default
        does the two writes under one shield.
        """
        check_final(result)

        async def both() -> Accepted:
            accepted = await self.accept(
                record, use_cache=use_cache, owner=owner, lease_s=lease_s)
            if accepted.outcome is not AcceptOutcome.NEW:
                return accepted
            done = await self.finish(record.request_id, result)
            return Accepted(AcceptOutcome.NEW, done)

        return await asyncio.shield(both())

    @abc.abstractmethod
    async def finish(self, request_id: str, result: OracleResult) -> Intervention:
        """Durably store the result, append it to the log and return it with its sequence.

        Finishing an already finished request changes nothing and returns the stored row.
        A ``PENDING`` result (human queue) is stored without a sequence; a later final
        result finishes the row. Raises :class:`UnknownRequestError` (a ``KeyError``) for an
        unknown ``request_id`` and ``ValueError`` for a ``RUNNING``/``UNSPECIFIED`` result.
        """

    @abc.abstractmethod
    async def get(self, request_id: str) -> Intervention | None:
        """The intervention of ``request_id``, finished or not; None if unknown."""

    @abc.abstractmethod
    async def read_log(
        self, after: int, limit: int = 500, client_id: str | None = None
    ) -> list[Intervention]:
        """Finished interventions with sequence > ``after``, in sequence order."""

    @abc.abstractmethod
    async def last_sequence(self) -> int:
        """The highest committed sequence number (0 when the log is empty)."""

    @abc.abstractmethod
    async def unfinished(self, limit: int = 10_000) -> list[RequestRecord]:
        """Accepted requests still RUNNING, oldest first, whoever owns them (read only).

        ``PENDING`` rows are not included: they wait for a reviewer, not for an oracle.
        To take work over, use :meth:`claim_expired`.
        """

    @abc.abstractmethod
    async def renew_leases(self, owner: str, request_ids: Sequence[str], lease_s: float) -> int:
        """Extend to now + ``lease_s`` the leases that ``owner`` holds on these RUNNING rows.

        Rows another owner has claimed, or that are finished, are left alone. Returns how
        many leases were renewed (one statement, through the group-commit writer).
        """

    @abc.abstractmethod
    async def claim_expired(
        self, owner: str, lease_s: float, limit: int = 1000,
    ) -> list[RequestRecord]:
        """Take over up to ``limit`` RUNNING rows whose lease has expired, oldest first.

        Atomic: of several processes claiming at once, each row goes to exactly one. The
        claimed rows are leased to ``owner`` for ``lease_s`` seconds.
        """

    @abc.abstractmethod
    async def lease(self, request_id: str) -> Lease | None:
        """The lease of ``request_id`` (for ops and tests); None if unknown."""

    @abc.abstractmethod
    async def wait_for_log(self, after: int, timeout: float) -> None:
        """Return when the log may hold a sequence > ``after``, or after ``timeout`` seconds.

        Wakes on writes of this process at once and sees other processes' writes within a
        short polling interval (or a notification, where the backend has one).
        """

    async def raw_output(self, request_id: str) -> str | None:
        """The oracle's raw answer stored with the result, if any."""
        return None
