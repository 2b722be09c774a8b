"""Blocking client: the asyncio client driven on a private event-loop thread."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from splice.sdk.aio import AsyncClient
from splice.sdk.errors import SpliceError
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import RetryPolicy
from splice.sdk.types import Intervention, OracleDescription

T = TypeVar("T")
_DONE = object()


class Client:
    """Talks to a Splice server from plain (non-async) code; use as a context manager.

    Same calls, deadlines and retries as :class:`AsyncClient`.
    """

    def __init__(
        self, target: str, *, client_id: str = "default", timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="splice-client",
                                        daemon=True)
        self._thread.start()

        async def make() -> AsyncClient:
            return AsyncClient(target, client_id=client_id, timeout=timeout, retry=retry)

        self._aio = self._run(make())

    @property
    def client_id(self) -> str:
        """Default client_id of requests."""
        return self._aio.client_id

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel and stop the loop thread."""
        if self._loop.is_closed():
            return
        self._run(self._aio.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def intervene(
        self, request: InterventionRequest | None = None, *, timeout: float | None = None,
        **fields: Any,
    ) -> Intervention:
        """Run one intervention; give an InterventionRequest or its fields as keywords."""
        return self._run(self._aio.intervene(request, timeout=timeout, **fields))

    def intervene_many(
        self, requests: Iterable[InterventionRequest], *, concurrency: int = 64,
        timeout: float | None = None, return_exceptions: bool = False,
    ) -> list[Intervention | SpliceError]:
        """Run many interventions over one stream; results in input order."""
        return self._run(self._aio.intervene_many(
            requests, concurrency=concurrency, timeout=timeout,
            return_exceptions=return_exceptions))

    def get(self, request_id: str, *, timeout: float | None = None) -> Intervention:
        """The intervention of ``request_id``."""
        return self._run(self._aio.get(request_id, timeout=timeout))

    def oracles(self, *, timeout: float | None = None) -> list[OracleDescription]:
        """The server's configured oracles."""
        return self._run(self._aio.oracles(timeout=timeout))

    def watch(
        self, after: int = 0, *, client_id: str = "", follow: bool = True
    ) -> Iterator[Intervention]:
        """Finished interventions after cursor ``after``, then live (a blocking iterator)."""
        items: queue.Queue[Any] = queue.Queue(maxsize=1024)

        async def pump() -> None:
            try:
                async for item in self._aio.watch(after, client_id=client_id, follow=follow):
                    await asyncio.to_thread(items.put, item)
            except BaseException as exc:  # handed to the consuming thread
                await asyncio.to_thread(items.put, exc)
                return
            await asyncio.to_thread(items.put, _DONE)

        future = asyncio.run_coroutine_threadsafe(pump(), self._loop)
        try:
            while True:
                item = items.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            future.cancel()
