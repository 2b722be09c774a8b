"""The SQLite store's writer, as seen from the server: a client of the writer process.

``write`` sends an operation (a name from ``sqlite_writer_process.OPERATIONS`` and plain
arguments) to the writer process and returns its answer once the group commit that holds
it is durable. Operations sent during one turn of the event loop go out in one send; the
answers of one commit come back in one frame. No thread of the server's interpreter
touches SQLite on the write path (see the process module for why).

If the process dies, the operations in flight fail with StoreError (their transactions
either committed or did not: the caller retries, idempotently by request_id) and the next
write starts a new process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from splice.server.store import sqlite_writer_process as proc
from splice.server.store.base import StoreError, UnknownRequestError

log = logging.getLogger("splice.store")

PROGRAM = Path(proc.__file__)
CLOSE_TIMEOUT_S = 60.0


class _Replies(asyncio.Protocol):
    """Reassembles the writer's answer frames and hands them to the writer."""

    def __init__(self, writer: SqliteWriter) -> None:
        self.writer = writer
        self.buffer = bytearray()
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done when the process has closed its end (it exited), after its last answer."""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for head, outcomes in proc.unframe(self.buffer):
            self.writer._deliver(head, outcomes)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.gone.done():
            self.gone.set_result(None)
        self.writer._lost(self)


class SqliteWriter:
    """Sends write operations to the writer process; see the module docstring."""

    def __init__(
        self, path: str, busy_timeout_s: float, statements: dict[str, str],
        on_commit: Callable[[int], None], max_batch: int, wal_restart_frames: int,
    ) -> None:
        self._args = [path, repr(busy_timeout_s), str(max_batch), str(wal_restart_frames)]
        self._statements = statements
        self._on_commit = on_commit
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._outbox: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._protocol: _Replies | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._starting: asyncio.Lock | None = None
        self._closed = False

    async def start(self) -> None:
        """Start the writer process."""
        self._starting = asyncio.Lock()
        await self._spawn()

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # -I: the standard library only, nothing from the environment or the script's
            # folder. Own session: a Ctrl-C to the server's process group does not reach it
            # (it also ignores SIGINT itself, once started). It logs to stderr; stdout closed.
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(PROGRAM), str(theirs.fileno()), *self._args],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            ours.close()
            raise StoreError(f"cannot start the sqlite writer process: {exc}") from exc
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_unix_connection(
            lambda: _Replies(self), sock=ours)
        self._transport, self._protocol = transport, protocol
        transport.write(proc.frame(self._statements))

    async def close(self) -> None:
        """Let the process commit what has been sent, answer it, and exit."""
        if self._closed:
            return
        self._closed = True
        if self._starting is not None:
            async with self._starting:  # a restart in progress finishes first
                pass
        self._flush()
        transport, protocol, process = self._transport, self._protocol, self._process
        if transport is not None and protocol is not None:
            transport.write_eof()  # the process answers what it has, then exits: EOF here
            try:
                await asyncio.wait_for(asyncio.shield(protocol.gone), CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.error("the sqlite writer process did not exit; killing it")
                if process is not None:
                    process.kill()
            transport.close()
        if process is not None:
            await asyncio.to_thread(process.wait)
        self._fail_pending("the store is closed")

    async def write(self, name: str, *args: Any) -> Any:
        """Run operation ``name`` in the next group commit; its answer once durable."""
        if self._closed:
            raise StoreError("the store is not open")
        if self._transport is None:
            assert self._starting is not None
            async with self._starting:
                if self._closed:
                    raise StoreError("the store is not open")
                if self._transport is None:
                    log.warning("restarting the sqlite writer process")
                    await self._spawn()
        op_id = next(self._ids)
        frame = proc.frame((op_id, name, args))  # before registering: pickling may fail
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[op_id] = future
        self._outbox.append(frame)
        if len(self._outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        if not self._outbox:
            return
        data, self._outbox = b"".join(self._outbox), []
        if self._transport is None or self._transport.is_closing():
            return  # _lost has failed (or will fail) the pending operations
        self._transport.write(data)

    def _deliver(self, head: int, outcomes: list[tuple[int, bool, Any]]) -> None:
        self._on_commit(head)
        for op_id, ok, value in outcomes:
            future = self._pending.pop(op_id, None)
            if future is None or future.done():  # the caller was cancelled; the write stands
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_error(*value))

    def _lost(self, protocol: _Replies) -> None:
        if protocol is not self._protocol:
            return
        self._transport = self._protocol = None
        if self._process is not None and not self._closed:
            log.error("the sqlite writer process exited; the next write starts another")
            # Reap it off the loop (its exit code is logged by nobody: it may still be exiting).
            asyncio.get_running_loop().run_in_executor(None, self._process.wait)
        self._outbox.clear()
        self._fail_pending("the sqlite writer process exited; retry the request")

    def _fail_pending(self, message: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(StoreError(message))


def _error(kind: str, message: str) -> Exception:
    if kind == "unknown":
        return UnknownRequestError(message)
    return StoreError(message)
