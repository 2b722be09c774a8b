"""Start-up wiring of the human oracle and access control inside the server process.

``open_review`` opens the review queue next to the store when a ``human`` oracle is
configured or access control is on, attaches the queue to the human oracles, finishes
reviews left half-done by a crash, and provides the gRPC handlers, the auth interceptor and
the reviewer web page (uvicorn, in the same event loop, on its own port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import uvicorn
from splice.server.auth import AuthInterceptor, TokenAuthority
from splice.server.config import Settings
from splice.server.oracles.human import HumanOracle
from splice.server.oracles.set import OracleSet
from splice.server.review.desk import ReviewDesk
from splice.server.review.queue import ReviewQueue, open_review_queue
from splice.server.review.servicer import SERVICE_NAME, ReviewServicer, generic_handler
from splice.server.store.base import Store

log = logging.getLogger("splice.review")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the gRPC server's handlers stay in charge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ReviewRuntime:
    """The queue, desk, token authority and web page of one server process."""

    queue: ReviewQueue
    desk: ReviewDesk | None
    authority: TokenAuthority | None
    secure_cookies: bool = False
    web_port: int | None = None
    _web: _EmbeddedServer | None = field(default=None, repr=False)
    _web_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """The auth interceptor when access control is on."""
        return [] if self.authority is None else [AuthInterceptor(self.authority)]

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """The ReviewService, when a human oracle is configured."""
        return [] if self.desk is None else [generic_handler(ReviewServicer(self.desk))]

    def service_names(self) -> list[str]:
        """Service names for reflection."""
        return [] if self.desk is None else [SERVICE_NAME]

    async def start_web(self, host: str, port: int) -> int | None:
        """Serve the reviewer page on ``host:port`` (0: a free port); returns the port."""
        if self.desk is None:
            return None
        from splice.server.review.web import create_app

        app = create_app(self.desk, self.authority, secure_cookies=self.secure_cookies)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                server_header=False)
        self._web = _EmbeddedServer(config)
        self._web_task = asyncio.create_task(self._web.serve(sockets=[sock]),
                                             name="splice-review-web")
        while not self._web.started:
            if self._web_task.done():
                self._web_task.result()  # raises what stopped it
                raise OSError(f"the review page could not start on {host}:{port}")
            await asyncio.sleep(0.01)
        self.web_port = sock.getsockname()[1]
        log.info("review page listening", extra={"address": f"{host}:{self.web_port}"})
        return self.web_port

    async def stop_web(self) -> None:
        """Stop the web page (first at shutdown: no new reviews during the drain)."""
        if self._web is not None and self._web_task is not None:
            self._web.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._web_task
            self._web, self._web_task = None, None

    async def close(self) -> None:
        """Stop the page and close the queue (before the store closes)."""
        await self.stop_web()
        await self.queue.close()


async def open_review(settings: Settings, store: Store, oracles: OracleSet,
                      ) -> ReviewRuntime | None:
    """The review runtime, or None when neither a human oracle nor auth is configured.

    Call it after the store is open and before the engine starts (it may resume work that
    needs a human oracle's queue).
    """
    humans = [o for name in settings.oracles
              if isinstance(o := oracles.find(name), HumanOracle)]
    if not humans and not settings.auth.enabled:
        return None
    queue = open_review_queue(settings.store_url)
    await queue.open()
    for oracle in humans:
        oracle.attach(queue)
    authority = None
    if settings.auth.enabled:
        authority = TokenAuthority(queue, settings.auth.tokens_file, settings.auth.cache_s)
    desk = ReviewDesk(queue, store, settings.review_lease_s) if humans else None
    if desk is not None:
        await desk.reconcile()
    return ReviewRuntime(queue, desk, authority, secure_cookies=settings.auth.secure_cookies)
