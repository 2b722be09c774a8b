"""Worker processes for the CPU-heavy checker, with a hard time limit and a memory cap.

Each worker is a ``forkserver`` child (the server is a multi-threaded gRPC process, so plain
``fork`` is unsafe) that caps its own address space, pre-imports sympy and math-verify, and
answers one task at a time over a pipe. A task that overruns its limit gets its worker killed
with SIGKILL and replaced; awaiting a result never blocks the event loop (``add_reader``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

_PRELOAD = ["sympy", "math_verify", "splice.server.oracles.symbolic.verdict"]


class WorkerTimeout(Exception):
    """The task ran past its time limit; its worker was killed and replaced."""


class WorkerCrashed(Exception):
    """The worker died while working (for example it hit its memory cap)."""


class PoolClosed(Exception):
    """The pool was closed."""


def _worker_main(
    conn: Connection, memory_limit: int, warmup: Callable[[], object] | None
) -> None:
    """Loop of one worker: receive ``(function, args)``, send ``("ok", result)`` or an error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if memory_limit > 0:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    if warmup is not None:
        with contextlib.suppress(Exception):
            warmup()  # first calls into sympy/math-verify fill caches: keep that off a task
    conn.send(("ready", os.getpid()))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", fn(*args)))
        except MemoryError:
            conn.send(("error", "MemoryError: checker memory cap reached"))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(
        self, ctx: BaseContext, memory_limit: int, warmup: Callable[[], object] | None
    ) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, memory_limit, warmup), daemon=True,
            name="splice-symbolic-worker",
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()  # SIGKILL: a C-level sympy loop ignores anything softer
        with contextlib.suppress(Exception):
            self.process.join(timeout=1)
        with contextlib.suppress(Exception):
            self.conn.close()


async def _recv(conn: Connection) -> Any:
    """Receive one message without blocking the event loop."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    return conn.recv()  # the whole message is there or arrives at once: workers send one


class WorkerPool:
    """``size`` checker processes; :meth:`run` calls a picklable function in one of them."""

    def __init__(
        self, size: int = 2, *, memory_limit: int = 1 << 30, start_timeout_s: float = 60.0,
        start_method: str = "forkserver", warmup: Callable[[], object] | None = None,
    ) -> None:
        self.warmup = warmup
        self.size = max(1, size)
        self.memory_limit = memory_limit
        self.start_timeout_s = start_timeout_s
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.replaced = 0
        """How many workers were killed and replaced (timeouts and crashes)."""

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return sorted(w.process.pid for w in self._all if w.process.pid is not None)

    async def start(self) -> None:
        """Start all workers and wait until each has imported its libraries."""
        await asyncio.gather(*(self._spawn() for _ in range(self.size)))

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        worker = await loop.run_in_executor(
            None, _Worker, self._ctx, self.memory_limit, self.warmup
        )
        self._all.add(worker)
        try:
            kind, _ = await asyncio.wait_for(_recv(worker.conn), self.start_timeout_s)
            if kind != "ready":
                raise WorkerCrashed("worker did not start")
        except (EOFError, OSError) as exc:
            self._discard(worker)
            raise WorkerCrashed(f"worker did not start: {exc!r}") from exc
        except BaseException:
            self._discard(worker)
            raise
        if self._closed:
            self._discard(worker)
            return
        self._idle.put_nowait(worker)

    def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        worker.kill()

    def _replace(self, worker: _Worker) -> None:
        self._discard(worker)
        self.replaced += 1
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _respawn(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                await self._spawn()
                return
            except Exception as exc:
                logging.getLogger(__name__).error("cannot start a checker worker: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def run(self, fn: Callable[..., Any], *args: Any, time_limit_s: float) -> Any:
        """``fn(*args)`` in a worker; :class:`WorkerTimeout` past ``time_limit_s`` seconds."""
        if self._closed:
            raise PoolClosed("worker pool is closed")
        worker = await self._idle.get()
        done = False
        try:
            worker.conn.send((fn, args))
            kind, payload = await asyncio.wait_for(_recv(worker.conn), time_limit_s)
            done = True
        except TimeoutError as exc:
            raise WorkerTimeout(f"checker time limit ({time_limit_s:g} s) exceeded") from exc
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise WorkerCrashed(f"checker worker died: {exc!r}") from exc
        finally:
            # Killing is the only way to stop a worker that is still computing (or cancelled).
            if done and not self._closed:
                self._idle.put_nowait(worker)
            else:
                self._replace(worker)
        if kind == "error":
            raise RuntimeError(str(payload))
        return payload

    async def aclose(self) -> None:
        """Stop every worker."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        workers = list(self._all)
        self._all.clear()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, w.kill) for w in workers))


def default_size() -> int:
    """Two workers, or one on a single-core machine."""
    return max(1, min(2, os.cpu_count() or 1))
