"""A writer process for the multi-process store tests.

    python -m tests.server.store.worker URL PREFIX COUNT CONCURRENCY

Accepts and finishes COUNT requests named PREFIX-i with CONCURRENCY coroutines, printing
``A id`` once an accept returned and ``F id sequence`` once a finish returned: every line
printed is a write the store acknowledged, so it must survive a SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from splice.server.store import open_store

from .helpers import found_error, make_record


async def main(url: str, prefix: str, count: int, concurrency: int) -> None:
    store = open_store(url)
    await store.open()
    ids = iter(range(count))

    async def writer() -> None:
        for i in ids:
            request_id = f"{prefix}-{i}"
            await store.accept(make_record(request_id, text=request_id, step_chars=2000))
            print("A", request_id, flush=True)
            done = await store.finish(request_id, found_error())
            print("F", request_id, done.sequence, flush=True)

    await asyncio.gather(*(writer() for _ in range(concurrency)))
    await store.close()


if __name__ == "__main__":
    url, prefix, count, concurrency = sys.argv[1:5]
    asyncio.run(main(url, prefix, int(count), int(concurrency)))
