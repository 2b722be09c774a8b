"""Parsing request bytes: invalid UTF-8 is traced to its field, garbage is named as such."""

from __future__ import annotations

import re

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st
from splice.server.wire import RequestDecodeError, find_invalid_utf8, parse_request
from splice.v1 import intervention_pb2 as pb

SURROGATE = b"\xed\xa0\x80"  # "\ud800" encoded as UTF-8: Python and protobuf both refuse it
PLACEHOLDER = "PLACEHOLDER-0123456789"


def corrupt(data: bytes, bad: bytes = SURROGATE, at: int = 0) -> bytes:
    """``data`` with ``bad`` written over PLACEHOLDER's bytes from ``at`` (same length)."""
    marker = PLACEHOLDER.encode()
    assert data.count(marker) == 1
    return data.replace(marker, marker[:at] + bad + marker[at + len(bad) :])


# A tiny encoder, for what SerializeToString never writes.
def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    if wire_type == 2:
        payload = varint(len(payload)) + payload
    return varint(number << 3 | wire_type) + payload


def request(**kwargs: object) -> pb.InterveneRequest:
    req = pb.InterveneRequest(
        request_id="r-1", client_id="c", problem=pb.Problem(text="1+1?", reference_solution="2"),
        rollout=pb.Rollout(text="1+1 = 2.\n\nSo 2."), options={"temperature": "1.0"},
    )
    for path, value in kwargs.items():
        target = req
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            getattr(target, leaf).extend(value)
        elif isinstance(value, dict):
            getattr(target, leaf).update(value)
        else:
            setattr(target, leaf, value)
    return req


REQUEST_CASES = {
    "request_id": request(request_id=PLACEHOLDER),
    "problem.text": request(problem__text=PLACEHOLDER),
    "problem.reference_solution": request(problem__reference_solution=PLACEHOLDER),
    "rollout.text": request(rollout__text=PLACEHOLDER),
    "rollout.steps[2]": request(rollout__text="", rollout__steps=["a", "b", PLACEHOLDER, "d"]),
    "rollout.provenance.tokenizer": request(rollout__provenance__tokenizer=PLACEHOLDER),
    'rollout.provenance.sampling["top_p"]': request(
        rollout__provenance__sampling={"temperature": "1", "top_p": PLACEHOLDER}),
    'options["temperature"]': request(options={"temperature": PLACEHOLDER}),
}


@pytest.mark.parametrize("path", sorted(REQUEST_CASES))
@pytest.mark.parametrize("bad", [SURROGATE, b"\xff", b"\xc3", b"\xf4\x90\x80\x80"])
def test_invalid_utf8_is_traced_to_its_field(path: str, bad: bytes) -> None:
    data = corrupt(REQUEST_CASES[path].SerializeToString(), bad, at=5)
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) == path
    with pytest.raises(RequestDecodeError) as info:
        parse_request(pb.InterveneRequest, data)
    assert info.value.field == path
    assert str(info.value) == (
        f"field {path} is not valid UTF-8 (byte 5 of that field); send UTF-8 text"
    )


def test_map_key_is_traced_by_entry() -> None:
    req = request(options={"a": "1", PLACEHOLDER: "2"})
    data = corrupt(req.SerializeToString())
    path = find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data)
    assert len(req.options) == 3  # with request()'s own "temperature"
    assert path in ("options[0].key", "options[1].key", "options[2].key")  # any wire order


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (pb.InterveneStreamRequest(request=request(rollout__steps=["x", PLACEHOLDER])),
         "request.rollout.steps[1]"),
        (pb.InterveneResponse(intervention=pb.Intervention(
            steps=[pb.Step(index=i, text=t) for i, t in enumerate(["a", "b", "c", PLACEHOLDER])],
            usage=pb.Usage(input_tokens=-5, cost_usd=0.25))),
         "intervention.steps[3].text"),
        (pb.ListOraclesResponse(oracles=[
            pb.OracleDescription(capabilities=["a"]),
            pb.OracleDescription(info=pb.OracleInfo(name="n"), capabilities=["x", PLACEHOLDER]),
        ]), "oracles[1].capabilities[1]"),
    ],
)
def test_paths_in_deeper_messages(message: Message, path: str) -> None:
    data = corrupt(message.SerializeToString())
    assert find_invalid_utf8(message.DESCRIPTOR, data) == path
    with pytest.raises(RequestDecodeError, match=re.escape(f"field {path} is not valid UTF-8")):
        parse_request(type(message), data)


def test_first_invalid_field_in_wire_order_wins() -> None:
    data = (field(1, 2, b"ok") + field(3, 2, field(1, 2, b"\xff")) + field(5, 2, b"\xff"))
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) == "problem.text"


def test_every_wire_type_and_unknown_fields_are_skipped() -> None:
    data = (
        field(6, 0, varint(2))  # segmentation (varint)
        + field(99, 1, b"\xff" * 8)  # unknown fixed64
        + field(98, 5, b"\xff" * 4)  # unknown fixed32
        + field(97, 2, b"\xff\xfe")  # unknown length-delimited: not text, not checked
        + field(4, 2, field(3, 2, field(5, 0, varint(2**64 - 1))))  # rollout.provenance.step
        + field(4, 2, field(1, 2, b"caf\xc3\xa9 \xe2\x82\xac" + SURROGATE))
    )
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) == "rollout.text"
    with pytest.raises(RequestDecodeError, match="byte 9 of that field"):
        parse_request(pb.InterveneRequest, data)


def test_valid_message_has_no_invalid_field() -> None:
    req = request(rollout__provenance__sampling={"t": "ü"}, rollout__steps=["日本", "😀"])
    data = req.SerializeToString()
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) is None
    assert parse_request(pb.InterveneRequest, data) == req
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, b"") is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xff\xff\xff\x0f garbage", "invalid wire type 7 at byte 0"),
        (b"\x02\x00", "invalid field number 0"),
        (varint(1 << 32) + b"\x00", "invalid field number 536870912"),
        (request().SerializeToString()[:-3], "runs past the end"),
        (b"\x0a", "truncated varint"),
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x0f", "invalid wire type 7"),
        (field(1, 3, b"") + field(1, 4, b"") + field(3, 2, field(1, 2, b"\xff")), "UTF-8"),
        (field(3, 2, b"\x0a\x05ab"), "runs past the end"),  # a broken sub-message
    ],
)
def test_garbage_is_not_a_request(data: bytes, reason: str) -> None:
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) is None
    with pytest.raises(RequestDecodeError) as info:
        parse_request(pb.InterveneRequest, data)
    message = str(info.value)
    assert info.value.field == ""
    assert message.startswith("request is not a valid splice.v1.InterveneRequest protobuf: ")
    assert reason in message and isinstance(info.value, ValueError)


# --- Properties ---------------------------------------------------------------------------------

TEXT = st.text(max_size=20)  # hypothesis never draws surrogates here: all of it is valid UTF-8


MODES = [pb.SEGMENTATION_MODE_UNSPECIFIED, pb.SEGMENTATION_MODE_BLANK_LINE,
         pb.SEGMENTATION_MODE_KEYWORD]


@st.composite
def requests(draw: st.DrawFn) -> pb.InterveneRequest:
    req = pb.InterveneRequest(
        request_id=draw(TEXT), client_id=draw(TEXT), oracle=draw(TEXT),
        segmentation=draw(st.sampled_from(MODES)), categorize=draw(st.booleans()),
        problem=pb.Problem(text=draw(TEXT), reference_solution=draw(TEXT)),
        rollout=pb.Rollout(text=draw(TEXT), steps=draw(st.lists(TEXT, max_size=5))),
        options=draw(st.dictionaries(TEXT, TEXT, max_size=3)),
    )
    if draw(st.booleans()):
        req.rollout.provenance.sampling.update(draw(st.dictionaries(TEXT, TEXT, max_size=3)))
        req.rollout.provenance.policy_step = draw(st.integers(-(2**63), 2**63 - 1))
    return req


@given(requests())
def test_valid_requests_parse(req: pb.InterveneRequest) -> None:
    data = req.SerializeToString()
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, data) is None
    assert parse_request(pb.InterveneRequest, data) == req


@given(requests(), st.data())
def test_a_corrupted_step_is_found(req: pb.InterveneRequest, data: st.DataObject) -> None:
    steps = list(req.rollout.steps)
    index = data.draw(st.integers(0, len(steps)))
    steps.insert(index, PLACEHOLDER)
    del req.rollout.steps[:]
    req.rollout.steps.extend(steps)
    bad = corrupt(req.SerializeToString(), data.draw(st.sampled_from([SURROGATE, b"\x80"])))
    assert find_invalid_utf8(pb.InterveneRequest.DESCRIPTOR, bad) == f"rollout.steps[{index}]"
