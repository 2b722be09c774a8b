"""Blocking client: the asyncio client driven on a private event-loop thread."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Coroutine, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from splice.sdk.aio import AsyncClient
from splice.sdk.errors import SpliceError
from splice.sdk.requests import InterventionRequest
from splice.sdk.retry import RetryPolicy
from splice.sdk.tls import TlsConfig
from splice.sdk.types import Intervention, OracleDescription
from splice.sdk.usage import CostEstimate, OracleAttempt, UsageTotal

T = TypeVar("T")
_DONE = object()


class Client:
    """Talks to a Splice server from plain (non-async) code; use as a context manager.

    Same calls, deadlines, retries, ``token`` and ``tls`` as :class:`AsyncClient`.
    """

    def __init__(
        self, target: str, *, client_id: str = "default", timeout: float = 120.0,
        retry: RetryPolicy | None = None, token: str | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="splice-client",
                                        daemon=True)
        self._thread.start()

        async def make() -> AsyncClient:
            return AsyncClient(target, client_id=client_id, timeout=timeout, retry=retry,
                               token=token, tls=tls)

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
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _shutdown(self) -> None:
        """Cancel what still runs on the loop (e.g. abandoned watches), then close."""
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._aio.close()

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

    def usage(
        self, *, client_id: str = "", oracle: str = "", since: datetime | None = None,
        timeout: float | None = None,
    ) -> list[UsageTotal]:
        """LLM usage per (client, oracle) since ``since`` (default: midnight UTC today)."""
        return self._run(self._aio.usage(client_id=client_id, oracle=oracle, since=since,
                                         timeout=timeout))

    def attempts(self, request_id: str, *, timeout: float | None = None) -> list[OracleAttempt]:
        """Every provider attempt made for ``request_id``, in order."""
        return self._run(self._aio.attempts(request_id, timeout=timeout))

    def estimate(
        self, requests: Iterable[InterventionRequest], oracle: str = "", *,
        typical_output_tokens: int = 0, timeout: float | None = None,
    ) -> CostEstimate:
        """What ``requests`` would cost on LLM ``oracle`` (prompts counted; nothing sent)."""
        return self._run(self._aio.estimate(requests, oracle,
                                            typical_output_tokens=typical_output_tokens,
                                            timeout=timeout))

    def watch(
        self, after: int = 0, *, client_id: str = "", follow: bool = True
    ) -> Iterator[Intervention]:
        """Finished interventions after cursor ``after``, then live (a blocking iterator)."""
        items: queue.Queue[Any] = queue.Queue(maxsize=1024)
        stopped = threading.Event()

        def hand_over(item: Any) -> None:
            while not stopped.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        async def pump() -> None:
            try:
                async for item in self._aio.watch(after, client_id=client_id, follow=follow):
                    await asyncio.to_thread(hand_over, item)
                    if stopped.is_set():
                        return
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # handed to the consuming thread
                await asyncio.to_thread(hand_over, exc)
                return
            await asyncio.to_thread(hand_over, _DONE)

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
            stopped.set()
            future.cancel()
