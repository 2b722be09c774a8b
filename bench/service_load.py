"""Load generator of ``bench/service.py``: unique ~20 KB requests, unary and bidi drivers.

Requests are pre-serialized once from a template; each call swaps a fixed-width placeholder
for a unique id (in ``request_id`` and in the rollout text), so every request is new content
and the client does the same, tiny amount of work against any server.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import time
from dataclasses import dataclass, field

import grpc
from splice.v1 import intervention_pb2 as pb

PLACEHOLDER = "{UNIQUE-REQUEST-ID!}"
"""Fixed-width stand-in for a request's unique id; same length as :func:`unique_id`."""
_PLACEHOLDER_BYTES = PLACEHOLDER.encode()
INTERVENE = "/splice.v1.InterventionService/Intervene"
INTERVENE_STREAM = "/splice.v1.InterventionService/InterveneStream"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
CALL_TIMEOUT_S = 60.0
PROBLEM = "Let f(x) = 3x^2 - 5x + 2. Find all real x with f(f(x)) = 2, and give their sum."
REFERENCE = ("f(y) = 2 means 3y^2 - 5y = 0, so y = 0 or y = 5/3.\n\n"
             "f(x) = 0 gives x = 1 or x = 2/3; f(x) = 5/3 gives 9x^2 - 15x + 1 = 0.\n\n"
             "The sums are 5/3 and 5/3, so the answer is \\boxed{10/3}.")


def unique_id(tag: str, n: int) -> str:
    """A request id as wide as :data:`PLACEHOLDER`: ``tag`` (7 chars) plus a counter."""
    return f"{tag}-{n:012d}"


def rollout_text(target_chars: int = 20_000) -> str:
    """A math-ish rollout of about ``target_chars``: steps split by blank lines.

    The first step holds :data:`PLACEHOLDER`; some steps open with reflection keywords so
    that keyword segmentation has real work to do.
    """
    steps = [f"Attempt {PLACEHOLDER}. We need every real x with f(f(x)) = 2, f(x) = 3x^2-5x+2."]
    i = 0
    while sum(len(s) + 2 for s in steps) < target_chars:
        i += 1
        a, b, c = 3 + i % 7, 11 + (i * 5) % 17, 2 + i % 5
        step = (f"Step {i}: substitute y = f(x), so 3y^2 - 5y + 2 = 2 and y({a}y - {b}) = 0 "
                f"after scaling by {c}. Then {a} * {b} = {a * b} and {c} * {a * b} = "
                f"{c * a * b}, so the discriminant is {b}^2 - 4*{a}*{c} = {b * b - 4 * a * c}. "
                f"Hence x = {b}/{2 * a} is a candidate root that we check against f(x) = {c}.")
        if i % 6 == 0:
            step = f"Wait, let me double-check step {i - 1}. {step} But the sign may be off."
        elif i % 9 == 0:
            step += " Alternatively, factor directly: (x - 1)(3x - 2) = 0."
        steps.append(step)
    return "\n\n".join(steps)


def request_template(oracle: str, *, stream: bool) -> bytes:
    """Serialized Intervene (or InterveneStream) request with :data:`PLACEHOLDER` ids."""
    req = pb.InterveneRequest(
        request_id=PLACEHOLDER, client_id="bench",
        problem=pb.Problem(text=PROBLEM, reference_solution=REFERENCE, reference_answer="10/3"),
        rollout=pb.Rollout(text=rollout_text()), oracle=oracle)
    if stream:
        return pb.InterveneStreamRequest(request=req).SerializeToString()
    return req.SerializeToString()


@dataclass(frozen=True)
class LoadSpec:
    """One load run of one client process."""

    address: str
    stream: bool
    template: bytes
    concurrency: int
    warmup_s: float
    duration_s: float
    tag: str
    server_pid: int = 0
    start_at: float = 0.0
    """Wall-clock time (``time.time()``) to start at, so that client processes align."""


@dataclass
class LoadResult:
    """What one client saw inside the measurement window (errors and cache hits: overall)."""

    completed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    cached: int = 0
    window_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = -1.0
    first_error: str = ""

    def merge(self, other: LoadResult) -> None:
        """Add another client process's result (same window)."""
        self.completed += other.completed
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.cached += other.cached
        self.client_cpu_s += other.client_cpu_s
        self.server_cpu_s = max(self.server_cpu_s, other.server_cpu_s)
        self.first_error = self.first_error or other.first_error


def _stat_cpu_s(path: str) -> float | None:
    """User + system CPU seconds in a /proc ``stat`` file; None if it is gone."""
    try:
        with open(path) as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:  # the process or thread ended between the listing and the read
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live child processes (all
    their threads), from /proc: the server's SQLite writer process is part of the server."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += _stat_cpu_s(f"/proc/{current}/stat") or 0.0
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                pending += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return total


def thread_cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of process ``pid`` (by thread id), from /proc;
    the thread whose id is ``pid`` is the process's main thread (a server's event loop)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return {}
    cpu = {tid: _stat_cpu_s(f"/proc/{pid}/task/{tid}/stat") for tid in tids}
    return {tid: s for tid, s in cpu.items() if s is not None}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class _Window:
    """The measurement window, and CPU samples taken at its edges."""

    def __init__(self, spec: LoadSpec, result: LoadResult) -> None:
        self.start = time.perf_counter()
        self.open = self.start + spec.warmup_s
        self.close = self.open + spec.duration_s
        self._spec, self._result = spec, result

    async def sample_cpu(self) -> None:
        pid = self._spec.server_pid
        await asyncio.sleep(max(0.0, self.open - time.perf_counter()))
        cpu0, srv0, t0 = time.process_time(), process_cpu_s(pid) if pid else 0.0, \
            time.perf_counter()
        await asyncio.sleep(max(0.0, self.close - time.perf_counter()))
        self._result.window_s = time.perf_counter() - t0
        self._result.client_cpu_s = time.process_time() - cpu0
        if pid:
            self._result.server_cpu_s = process_cpu_s(pid) - srv0

    def record(self, result: LoadResult, started: float, ended: float) -> None:
        if self.open <= ended <= self.close:
            result.completed += 1
            result.latencies_ms.append((ended - started) * 1000.0)


async def _unary(spec: LoadSpec, channel: grpc.aio.Channel, result: LoadResult) -> None:
    call = channel.unary_unary(INTERVENE)  # no serializers: bytes in, bytes out
    counter = itertools.count()
    window = _Window(spec, result)
    template, tag = spec.template, spec.tag

    async def caller() -> None:
        while (started := time.perf_counter()) < window.close:
            data = template.replace(_PLACEHOLDER_BYTES, unique_id(tag, next(counter)).encode())
            try:
                raw = await call(data, timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{exc.code()}: {exc.details()}"
                continue
            ended = time.perf_counter()
            result.cached += pb.InterveneResponse.FromString(raw).intervention.cached
            window.record(result, started, ended)

    await asyncio.gather(window.sample_cpu(), *(caller() for _ in range(spec.concurrency)))


async def _bidi(spec: LoadSpec, channel: grpc.aio.Channel, result: LoadResult) -> None:
    call = channel.stream_stream(INTERVENE_STREAM)(timeout=CALL_TIMEOUT_S + spec.duration_s)
    window = _Window(spec, result)
    slots = asyncio.Semaphore(spec.concurrency)
    sent: dict[str, float] = {}
    template, tag = spec.template, spec.tag

    async def writer() -> None:
        for n in itertools.count():
            await slots.acquire()
            if time.perf_counter() >= window.close:
                break
            uid = unique_id(tag, n)
            sent[uid] = time.perf_counter()
            await call.write(template.replace(_PLACEHOLDER_BYTES, uid.encode()))
        await call.done_writing()

    async def reader() -> None:
        while (raw := await call.read()) is not grpc.aio.EOF:
            ended = time.perf_counter()
            slots.release()
            item = pb.InterveneStreamResponse.FromString(raw)
            started = sent.pop(item.request_id, None)
            if item.error_code:
                result.errors += 1
                result.first_error = result.first_error or item.error_message
            else:
                result.cached += item.intervention.cached
                if started is not None:
                    window.record(result, started, ended)

    try:
        await asyncio.gather(window.sample_cpu(), writer(), reader())
    except grpc.RpcError as exc:
        result.errors += 1 + len(sent)
        result.first_error = result.first_error or f"stream: {exc.code()}: {exc.details()}"


async def _drive(spec: LoadSpec) -> LoadResult:
    result = LoadResult()
    async with grpc.aio.insecure_channel(spec.address, options=CHANNEL_OPTIONS) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30.0)
        await asyncio.sleep(max(0.0, spec.start_at - time.time()))
        await (_bidi if spec.stream else _unary)(spec, channel, result)
    return result


def drive(spec: LoadSpec) -> LoadResult:
    """Run one client's load (in this process); top-level so a process pool can call it."""
    return asyncio.run(_drive(spec))
