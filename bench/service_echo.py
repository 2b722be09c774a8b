"""The bare baseline of ``bench/service.py``: a grpc.aio server that does no work.

It serves the same two method paths as Splice, with the same server options, through a
generic handler on raw bytes: ``Intervene`` answers a canned InterveneResponse (a real answer
of Splice to the same payload, so the same size), ``InterveneStream`` answers each request
with a canned InterveneStreamResponse carrying that request's ``request_id``.

Run as ``python bench/service_echo.py --port-file F --unary-reply U --stream-reply S``;
``--burn-us N`` makes each unary call spin N µs of Python first (``bench/service_headroom.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from splice.v1 import intervention_pb2 as pb

SERVICE_NAME = "splice.v1.InterventionService"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def echo_handler(unary_reply: bytes, stream_reply: bytes,
                 burn_us: float = 0.0) -> grpc.GenericRpcHandler:
    """Handlers that answer canned bytes; ``stream_reply`` must have no request_id.

    ``burn_us``: busy Python time per unary call, standing in for a service's own work.
    """
    burn_s = burn_us / 1e6

    async def intervene(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if burn_s:
            until = time.perf_counter() + burn_s
            while time.perf_counter() < until:
                pass
        return unary_reply

    async def intervene_stream(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        async for data in requests:
            rid = pb.InterveneStreamRequest.FromString(data).request.request_id.encode()
            # Field 1 (request_id) prepended to the canned message: field order is free.
            yield b"\x0a" + _varint(len(rid)) + rid + stream_reply

    handlers = {
        "Intervene": grpc.unary_unary_rpc_method_handler(intervene),
        "InterveneStream": grpc.stream_stream_rpc_method_handler(intervene_stream),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


async def _serve(args: argparse.Namespace) -> None:
    from splice.server.app import grpc_options
    from splice.server.config import Settings

    server = grpc.aio.server(options=grpc_options(Settings()))
    server.add_generic_rpc_handlers((echo_handler(
        args.unary_reply.read_bytes(), args.stream_reply.read_bytes(), args.burn_us),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(args.port_file)
    await server.wait_for_termination()


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--unary-reply", type=Path, required=True)
    parser.add_argument("--stream-reply", type=Path, required=True)
    parser.add_argument("--burn-us", type=float, default=0.0,
                        help="busy Python µs per unary call before answering")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
