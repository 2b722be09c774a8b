"""Serialized responses of the servicer, with the steps encoded in C where it is built.

``wrap_intervention`` adds a rollout's ~100 steps as sub-messages one at a time. With the
``native`` module, the intervention is built without its steps and their encoding is appended
to its bytes instead: protobuf fields may come in any order, so the bytes parse to the same
message. Without it, the message is built whole and serialized.
"""

from __future__ import annotations

from typing import Any

from splice.sdk.convert import W, intervention_to_pb, wrap_intervention
from splice.sdk.types import Intervention
from splice.server.native import NATIVE, NativeModule
from splice.v1 import intervention_pb2 as pb

STEPS_FIELD = pb.Intervention.DESCRIPTOR.fields_by_name["steps"].number
_INTERVENTION_FIELD = {
    cls: cls.DESCRIPTOR.fields_by_name["intervention"].number
    for cls in (pb.InterveneResponse, pb.InterveneStreamResponse, pb.GetInterventionResponse,
                pb.WatchInterventionsResponse)
}
_LENGTH_DELIMITED = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def intervention_field(i: Intervention, number: int, native: NativeModule) -> bytes:
    """``i`` encoded as the message field ``number`` of an enclosing message."""
    body = (intervention_to_pb(i, steps=False).SerializeToString()
            + native.steps_wire(i.steps, STEPS_FIELD))
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(body)) + body


def response_bytes(cls: type[W], i: Intervention, native: NativeModule | None = NATIVE,
                   **fields: Any) -> bytes:
    """A serialized ``cls`` (a response with an ``intervention`` field) holding ``i``, plus
    ``fields`` (say, the ``request_id`` of an ``InterveneStreamResponse``)."""
    if native is None:
        return wrap_intervention(cls, i, **fields).SerializeToString()
    head = cls(**fields).SerializeToString() if fields else b""
    return head + intervention_field(i, _INTERVENTION_FIELD[cls], native)
