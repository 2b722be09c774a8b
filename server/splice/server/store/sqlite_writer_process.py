"""The SQLite store's writer process: group commit, off the server's interpreter.

``SqliteWriter`` (in the server) starts this file as a program (``python PATH FD ...``), not
as a module of the package, so that it imports the standard library only and starts fast.
It owns the write connection: it reads operations from the socket ``FD``, runs whatever has
queued up in one ``BEGIN IMMEDIATE`` transaction (``synchronous=FULL``: durable on return),
and answers each operation once its transaction has committed; under load a commit waits up
to ``LINGER_S`` for more operations, since each commit has a fixed cost (an fsync, the
transaction's bookkeeping) that a bigger group shares. One failing operation is
undone alone and leaves the others intact (see :func:`commit`). A thread checkpoints the
WAL off the writer's path; when the WAL has grown past :data:`RESTART_FRAMES` anyway, the
writer sends it back to its start between two commits (:func:`restart_wal`). The process
ends when the server closes the socket (or dies).

Why a process: in the server's interpreter the writer's many short sqlite3 calls each had
to win the GIL back from the busy event loop, so commits waited on the loop and the loop
paid for the hand-offs. Frames are a 4-byte little-endian length and a pickle:
``(op_id, name, args)`` in, ``(head, [(op_id, ok, value), ...])`` out per commit, where a
failed operation's value is ``(kind, message)`` with kind ``"store"`` or ``"unknown"``.
"""

from __future__ import annotations

import json
import logging
import pickle
import select
import signal
import socket
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("splice.store.writer")

CHECKPOINT_INTERVAL_S = 0.1
LINGER_S = 0.005
"""Under load, how long a commit waits for more operations to join it (group commit)."""
BUSY_S = 0.01
"""Under load means: the previous commit grouped several operations and ended less than this
long ago. A lone caller (one write at a time, however often) and an idle store commit at
once, so the delay only adds latency where it buys bigger groups."""
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
RESTART_FRAMES = 8192
"""WAL frames (pages) after which the WAL is sent back to its start (see :func:`restart_wal`).

Passive checkpoints never catch up under steady writes (each commit appends frames while
they copy), so the WAL would grow without end."""
RESTART_BUSY_MS = 200
"""How long :func:`restart_wal` waits for readers before it answers busy (see
:class:`WalRestarts` for when it tries again)."""
HEADER = struct.Struct("<I")


@dataclass(slots=True)
class Counter:
    """The log head inside the current write transaction."""

    value: int


class UnknownRequest(Exception):
    """``finish`` of a request_id that was never accepted."""


def micros_now() -> int:
    """The current time in microseconds since the epoch (the store's timestamps)."""
    return time.time_ns() // 1000


def as_dict(row: sqlite3.Row | None) -> dict[str, Any] | None:
    """A row as a plain, picklable dict."""
    return None if row is None else dict(zip(row.keys(), row, strict=True))


# -- operations: functions of the database, re-runnable (see commit) ---------------------

Sql = dict[str, str]


def accept(
    conn: sqlite3.Connection, ctr: Counter, q: Sql, req: tuple[Any, ...],
    head: tuple[Any, ...], created: int, use_cache: bool, status: int, owner: str | None,
    lease_s: float, finished: tuple[int, tuple[Any, ...], str | None] | None,
) -> tuple[Any, ...]:
    """Insert a request RUNNING or PENDING (``status``), or with its result (``finished``).

    Answers ``("new", sequence, finished_at)``, ``("cached", sequence, finished_at, hit)``
    or ``("duplicate", content_hash, oracle_name, stored_row)``.
    """
    request_id = req[0]
    if not conn.execute(q["INSERT_REQUEST_IF_NEW"], req).rowcount:  # new: no lookup first
        found = conn.execute(q["EXISTING"], (request_id,)).fetchone()
        stored = as_dict(conn.execute(q["GET"], (request_id,)).fetchone())
        return ("duplicate", found[0], found[1], stored)
    hit = None
    if use_cache:
        hit = conn.execute(q["CACHE_HIT"], (head[2], head[3], head[6])).fetchone()
    if hit is None and finished is not None:
        result_status, fields, raw = finished
        ctr.value += 1
        now = micros_now()
        conn.execute(q["INSERT_FINISHED"],
                     (*head, result_status, created, ctr.value, *fields, now))
        if raw:
            conn.execute(q["INSERT_RAW"], (request_id, raw))
        return ("new", ctr.value, now)
    if hit is None:
        until = 0 if owner is None else micros_now() + round(lease_s * 1_000_000)
        conn.execute(q["INSERT_INTERVENTION"], (
            *head, status, created, None, 0, 0, "[]", "", 0, None, None, owner, until))
        return ("new", 0, None)
    ctr.value += 1
    now = micros_now()
    conn.execute(q["INSERT_INTERVENTION"], (
        *head, hit["status"], created, ctr.value, hit["first_error_step"],
        hit["category"], hit["replacements"], hit["explanation"], 1, hit["request_id"], now,
        None, 0))
    return ("cached", ctr.value, now, as_dict(hit))


def finish(
    conn: sqlite3.Connection, ctr: Counter, q: Sql, request_id: str, status: int,
    final: bool, fields: tuple[Any, ...], raw: str | None, known: bool,
) -> tuple[Any, ...]:
    """Store a result; ``("done", sequence, finished_at)``, or ``("stored", row)`` where the
    row was finished already (or ``known`` is false: the caller needs the whole row)."""
    sequence = ctr.value + 1 if final else None
    finished_at = micros_now() if final else None
    cur = conn.execute(q["FINISH"], (status, sequence, *fields, finished_at, request_id, final))
    if cur.rowcount == 1:
        if sequence is not None:
            ctr.value = sequence
        if raw:
            conn.execute(q["INSERT_RAW"], (request_id, raw))
        if known:
            return ("done", sequence or 0, finished_at)
    row = as_dict(conn.execute(q["GET"], (request_id,)).fetchone())
    if row is None:
        raise UnknownRequest(request_id)
    return ("stored", row)


def renew(conn: sqlite3.Connection, ctr: Counter, q: Sql, owner: str, ids: str,
          lease_s: float) -> int:
    """Extend ``owner``'s leases on the JSON list ``ids``; how many were renewed."""
    until = micros_now() + round(lease_s * 1_000_000)
    renewed: int = conn.execute(q["RENEW"], (until, owner, ids)).rowcount
    return renewed


def claim(conn: sqlite3.Connection, ctr: Counter, q: Sql, owner: str, lease_s: float,
          limit: int) -> list[dict[str, Any] | None]:
    """Take over expired leases (inside BEGIN IMMEDIATE: nobody claims in between)."""
    now = micros_now()
    rows = conn.execute(q["EXPIRED"], (now, limit)).fetchall()
    ids = json.dumps([row["request_id"] for row in rows])
    conn.execute(q["CLAIM"], (owner, now + round(lease_s * 1_000_000), ids))
    return [as_dict(row) for row in rows]


OPERATIONS: dict[str, Callable[..., Any]] = {
    "accept": accept, "finish": finish, "renew": renew, "claim": claim,
}


# -- group commit ---------------------------------------------------------------------------

Op = tuple[int, str, tuple[Any, ...]]
Outcome = tuple[int, bool, Any]


def commit(conn: sqlite3.Connection, q: Sql, ops: list[Op]) -> tuple[int, list[Outcome]]:
    """Run ``ops`` in one transaction and commit once; the head and one outcome per op.

    Optimistic: the operations run back to back. If one fails, the transaction is rolled
    back and the batch runs again with a savepoint per operation, so that the failing one
    leaves the others intact.
    """
    try:
        for isolate in (False, True):
            conn.execute("BEGIN IMMEDIATE")
            try:
                ctr = Counter(conn.execute(q["LAST_SEQUENCE"]).fetchone()[0])
                outcomes = _run_isolated(conn, ctr, q, ops) if isolate else _run(conn, ctr, q, ops)
                if outcomes is None:
                    conn.execute("ROLLBACK")
                    continue
                conn.execute("COMMIT")
                return ctr.value, outcomes
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    except Exception as exc:
        log.error("sqlite group commit of %d operations failed: %s", len(ops), exc)
        error = ("store", f"sqlite write failed: {exc}")
        return 0, [(op_id, False, error) for op_id, _, _ in ops]
    raise AssertionError("unreachable: the isolated run always answers")


def _run(conn: sqlite3.Connection, ctr: Counter, q: Sql, ops: list[Op]) -> list[Outcome] | None:
    """Run ``ops`` in the open transaction; None as soon as one fails."""
    try:
        return [(op_id, True, OPERATIONS[name](conn, ctr, q, *args)) for op_id, name, args in ops]
    except Exception:
        return None


def _run_isolated(conn: sqlite3.Connection, ctr: Counter, q: Sql, ops: list[Op]) -> list[Outcome]:
    """Run ``ops`` each under its own savepoint: a failing one is undone alone."""
    outcomes: list[Outcome] = []
    for op_id, name, args in ops:
        conn.execute("SAVEPOINT op")
        mark = ctr.value
        try:
            outcomes.append((op_id, True, OPERATIONS[name](conn, ctr, q, *args)))
        except Exception as exc:  # one op's failure must not abort the others
            conn.execute("ROLLBACK TO op")
            ctr.value = mark
            outcomes.append((op_id, False, _error(exc)))
        conn.execute("RELEASE op")
    return outcomes


def _error(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, UnknownRequest):
        return ("unknown", str(exc.args[0]))
    if isinstance(exc, sqlite3.Error):
        return ("store", f"sqlite write failed: {exc}")
    return ("store", f"sqlite write failed: {type(exc).__name__}: {exc}")


# -- the program ----------------------------------------------------------------------------


def connect(path: str, busy_timeout_s: float) -> sqlite3.Connection:
    """A connection with the store's settings (the server's readers use the same)."""
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                           check_same_thread=False, cached_statements=64)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


def frame(value: Any) -> bytes:
    """``value`` as one frame: its pickle, after the pickle's length."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def unframe(buffer: bytearray) -> list[Any]:
    """The complete frames at the start of ``buffer``, removed from it (a partial one stays)."""
    values, at = [], 0
    while len(buffer) - at >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer, at)
        end = at + HEADER.size + size
        if len(buffer) < end:
            break
        values.append(pickle.loads(buffer[at + HEADER.size:end]))
        at = end
    del buffer[:at]
    return values


class Frames:
    """Reads length-prefixed pickles from a socket; blocking only when asked to."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.eof = False

    def read(self, block: bool) -> list[Any]:
        """Every complete frame received so far (waiting for data first if ``block``)."""
        try:
            data = self.sock.recv(1 << 20, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            data = None
        except OSError:  # reset: the server died with answers unread; nothing more will come
            data = b""
        if data is not None:
            if not data:
                self.eof = True
            self.buffer += data
        return unframe(self.buffer)

    def linger(self, seconds: float, wanted: int) -> list[Any]:
        """Frames that arrive within ``seconds`` (at most about ``wanted`` of them)."""
        frames: list[Any] = []
        deadline = time.monotonic() + seconds
        while len(frames) < wanted and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                break
            frames += self.read(block=False)
        return frames


class WalRestarts:
    """When the writer should send the WAL back to its start (see :func:`restart_wal`).

    The checkpointer reports the WAL's size after each passive checkpoint (:meth:`observe`);
    the writer, between two commits, restarts the WAL when :attr:`wanted` is set and reports
    the outcome (:meth:`outcome`). An attempt that waited in vain for a reader (a backup, or
    Litestream, which holds a read transaction) is not repeated until the WAL has grown by
    another ``every`` frames: each attempt holds writers off for up to
    :data:`RESTART_BUSY_MS`.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.due_at = every
        self.wanted = threading.Event()

    def observe(self, frames: int) -> None:
        """The WAL holds ``frames`` frames (the checkpointer's thread; -1: not known, as
        another process's checkpoint was running)."""
        if 0 <= frames < self.every:  # restarted (by us, or by another process's writer)
            self.due_at = self.every
        if frames >= self.due_at:
            self.wanted.set()

    def outcome(self, busy: int, frames: int) -> None:
        """What ``wal_checkpoint(RESTART)`` answered (the writer's thread)."""
        if not busy:
            self.due_at = self.every
        elif frames < 0:  # another checkpoint was running: try again after the next commit
            self.wanted.set()
        else:
            self.due_at = frames + self.every
            log.warning("sqlite WAL restart gave up waiting for readers at %d frames; "
                        "next try at %d", frames, self.due_at)


def restart_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> tuple[int, int, int]:
    """Copy what is left of the WAL into the database and make the next commit write the
    WAL from its start again (``journal_size_limit`` then trims the file); SQLite's answer
    ``(busy, wal_frames, checkpointed_frames)``.

    The writer runs it between two commits: a checkpointer thread's RESTART would wait for
    the writer's lock, which a busy writer takes back at once. It holds writers off while it
    runs; readers get :data:`RESTART_BUSY_MS` to finish, after which it answers busy (it
    never raises for that). Frames are -1 when another checkpoint was running.
    """
    conn.execute(f"PRAGMA busy_timeout={RESTART_BUSY_MS}")
    try:
        busy, frames, done = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        return int(busy), int(frames), int(done)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")


def serve(sock: socket.socket, path: str, busy_timeout_s: float, max_batch: int,
          restart_frames: int) -> None:
    """Answer operations until the socket closes (first frame: the SQL statements)."""
    frames = Frames(sock)
    pending: list[Any] = []
    while not pending and not frames.eof:
        pending = frames.read(block=True)
    if not pending:
        return
    q: Sql = pending.pop(0)
    conn = connect(path, busy_timeout_s)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    committed, stop = threading.Event(), threading.Event()
    restarts = WalRestarts(restart_frames)
    checkpointer = threading.Thread(
        target=_checkpoint_loop, args=(path, busy_timeout_s, committed, stop, restarts),
        daemon=True)
    checkpointer.start()
    last_commit, last_batch = 0.0, 0
    try:
        while True:
            while len(pending) < max_batch and not frames.eof:
                more = frames.read(block=not pending)
                if not more and pending:
                    break
                pending += more
            if not pending:
                return  # end of input, everything answered
            if last_batch > 1 and time.monotonic() - last_commit < BUSY_S:
                pending += frames.linger(LINGER_S, max_batch - len(pending))
            ops, pending = pending[:max_batch], pending[max_batch:]
            head, outcomes = commit(conn, q, ops)
            last_commit, last_batch = time.monotonic(), len(ops)
            committed.set()
            try:
                sock.sendall(frame((head, outcomes)))
            except OSError:
                return  # the server is gone; what was committed stands
            if restarts.wanted.is_set():
                restarts.wanted.clear()
                try:
                    restarts.outcome(*restart_wal(conn, busy_timeout_s)[:2])
                except Exception:  # only an optimisation: never the writer's end
                    log.exception("sqlite WAL restart failed")
    finally:
        stop.set()
        committed.set()
        checkpointer.join()
        conn.close()


def _checkpoint_loop(path: str, busy_timeout_s: float, committed: threading.Event,
                     stop: threading.Event, restarts: WalRestarts) -> None:
    """Copy the WAL back into the database off the writer's path (autocheckpoint is off),
    and tell ``restarts`` how big the WAL is."""
    conn = connect(path, busy_timeout_s)
    try:
        while True:
            committed.wait()
            committed.clear()
            if stop.is_set():
                return
            try:
                _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                restarts.observe(frames)
            except sqlite3.Error as exc:
                log.warning("sqlite checkpoint failed: %s", exc)
            time.sleep(CHECKPOINT_INTERVAL_S)
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    """``FD PATH BUSY_TIMEOUT_S MAX_BATCH RESTART_FRAMES``: serve the server's socket."""
    # The server handles signals and closes the socket when done; a Ctrl-C sent to the
    # process group must not cut the writer off while the server drains.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    fd, path, busy_timeout_s, max_batch = int(argv[0]), argv[1], float(argv[2]), int(argv[3])
    restart_frames = int(argv[4])
    with socket.socket(fileno=fd) as sock:
        sock.setblocking(True)
        serve(sock, path, busy_timeout_s, max_batch, restart_frames)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
