"""Bad input: a specific status code and message, nothing stored, server still healthy."""

from __future__ import annotations

import uuid

import grpc
import pytest
from splice.server.testing import ServerProcess, wait_serving
from splice.v1 import intervention_pb2 as pb

from tests.conftest import PROBLEM, REFERENCE, ROLLOUT

METHOD = "/splice.v1.InterventionService/Intervene"


def _request(**overrides: object) -> pb.InterveneRequest:
    req = pb.InterveneRequest(
        request_id=uuid.uuid4().hex, client_id="bad-input", oracle="noop",
        problem=pb.Problem(text=PROBLEM, reference_solution=REFERENCE),
        rollout=pb.Rollout(text=ROLLOUT))
    for path, value in overrides.items():
        target = req
        *parents, leaf = path.split("__")
        for name in parents:
            target = getattr(target, name)
        if isinstance(value, list):
            getattr(target, leaf).extend(value)
        else:
            setattr(target, leaf, value)
    return req


def _call_raw(address: str, data: bytes) -> grpc.RpcError:
    with grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", 64 << 20)]) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None,
                                   response_deserializer=pb.InterveneResponse.FromString)
        with pytest.raises(grpc.RpcError) as info:
            call(data, timeout=60)
    return info.value  # type: ignore[return-value]


def _with_invalid_utf8(req: pb.InterveneRequest, placeholder: str) -> bytes:
    data = req.SerializeToString()
    marker = placeholder.encode()
    assert data.count(marker) == 1
    bad = b"\xed\xa0\x80" + marker[3:]  # a UTF-8-encoded lone surrogate, same length
    return data.replace(marker, bad)


def _log_size(address: str) -> int:
    from splice.sdk import Client

    with Client(address) as client:
        return sum(1 for _ in client.watch(0, follow=False))


CASES = {
    "empty rollout": (_request(rollout__text=""), grpc.StatusCode.INVALID_ARGUMENT,
                      "rollout.text"),
    "blank rollout": (_request(rollout__text=" \n\n "), grpc.StatusCode.INVALID_ARGUMENT,
                      "rollout.text"),
    "missing reference": (_request(problem__reference_solution=""),
                          grpc.StatusCode.INVALID_ARGUMENT, "problem.reference_solution"),
    "missing problem": (_request(problem__text=""), grpc.StatusCode.INVALID_ARGUMENT,
                        "problem.text"),
    "missing request_id": (_request(request_id=""), grpc.StatusCode.INVALID_ARGUMENT,
                           "request_id"),
    "missing client_id": (_request(client_id=""), grpc.StatusCode.INVALID_ARGUMENT,
                          "client_id"),
    "steps and text": (_request(rollout__steps=["a", "b"]), grpc.StatusCode.INVALID_ARGUMENT,
                       "rollout"),
    "blank step": (_request(rollout__text="", rollout__steps=["a", "  "]),
                   grpc.StatusCode.INVALID_ARGUMENT, "rollout.steps[1]"),
    "unknown oracle": (_request(oracle="gpt-17"), grpc.StatusCode.INVALID_ARGUMENT,
                       "oracle"),
    "unknown segmentation": (_request(segmentation=7), grpc.StatusCode.INVALID_ARGUMENT,
                             "segmentation"),
    "NUL in rollout": (_request(rollout__text="2 + 2 = 5\x00\n\nSo 5."),
                       grpc.StatusCode.INVALID_ARGUMENT, "rollout.text: contains a NUL"),
    "NUL in a step": (_request(rollout__text="", rollout__steps=["a", "b\x00"]),
                      grpc.StatusCode.INVALID_ARGUMENT, "rollout.steps[1]: contains a NUL"),
    "rollout over char limit": (_request(rollout__text="x" * (5 << 20)),
                                grpc.StatusCode.RESOURCE_EXHAUSTED, "rollout.text"),
    "20 MB rollout": (_request(rollout__text="y" * (20 << 20)),
                      grpc.StatusCode.RESOURCE_EXHAUSTED, "larger than max"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_request_is_refused_cleanly(server: ServerProcess, case: str) -> None:
    req, code, needle = CASES[case]
    before = _log_size(server.address)
    error = _call_raw(server.address, req.SerializeToString())
    assert error.code() == code, error.details()
    assert needle in (error.details() or "")
    from splice.sdk import Client, NotFoundError

    with Client(server.address) as client:
        if req.request_id:
            with pytest.raises(NotFoundError):
                client.get(req.request_id)
    assert _log_size(server.address) == before
    wait_serving(server.address, timeout=5)


@pytest.mark.parametrize("field", ["rollout.text", "problem.text", "rollout.steps[1]",
                                   "problem.reference_solution"])
def test_invalid_utf8_names_the_field(server: ServerProcess, field: str) -> None:
    placeholder = "PLACEHOLDER-" + uuid.uuid4().hex
    if field == "rollout.text":
        req = _request(rollout__text=placeholder)
    elif field == "problem.text":
        req = _request(problem__text=placeholder)
    elif field == "problem.reference_solution":
        req = _request(problem__reference_solution=placeholder)
    else:
        req = _request(rollout__text="", rollout__steps=["fine", placeholder])
    error = _call_raw(server.address, _with_invalid_utf8(req, placeholder))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or "") and "UTF-8" in (error.details() or "")
    wait_serving(server.address, timeout=5)


def test_garbage_bytes_are_invalid_argument(server: ServerProcess) -> None:
    error = _call_raw(server.address, b"\xff\xff\xff\xff\x0f garbage")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "InterveneRequest" in (error.details() or "")
