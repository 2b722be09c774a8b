"""Checks and the in-flight request cache shared by the store backends."""

from __future__ import annotations

from splice.sdk.types import Status
from splice.server.oracles.base import OracleResult
from splice.server.store.base import RequestConflictError, RequestRecord


class RecordCache:
    """Requests this process accepted and has not finished yet, by request_id.

    Request data never changes once accepted, so :meth:`Store.finish` can build the
    finished intervention from memory instead of reading the (large) request row back.
    Bounded: the oldest entries go first; a miss only costs one read.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._records: dict[str, RequestRecord] = {}

    def put(self, record: RequestRecord) -> None:
        """Remember ``record`` (created_at already normalised)."""
        records = self._records
        records[record.request_id] = record
        if len(records) > self._capacity:
            del records[next(iter(records))]

    def pop(self, request_id: str) -> RequestRecord | None:
        """Forget and return the record of ``request_id``, if remembered."""
        return self._records.pop(request_id, None)


def check_duplicate(record: RequestRecord, content_hash: str, oracle_name: str) -> None:
    """Raise RequestConflictError unless the stored request matches ``record``."""
    if content_hash != record.content_hash:
        raise RequestConflictError(
            f"request_id {record.request_id!r} was already used for different content")
    if oracle_name != record.oracle.name:
        raise RequestConflictError(
            f"request_id {record.request_id!r} was already accepted for oracle "
            f"{oracle_name!r}, not {record.oracle.name!r}")


def check_finishable(result: OracleResult) -> None:
    """Only final results and PENDING can be stored by ``finish``."""
    if not (result.status.finished or result.status is Status.PENDING):
        raise ValueError(f"cannot finish a request with status {result.status.name}")
