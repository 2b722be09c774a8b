"""Request bytes → protobuf message, with parse errors that name the field to fix.

grpcio reports a request that fails to deserialize as INTERNAL. The servicer parses the raw
bytes itself with :func:`parse_request`, so such a request is INVALID_ARGUMENT instead and, for
the usual cause (a proto3 ``string`` field that is not valid UTF-8), the error names the field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

if TYPE_CHECKING:
    from google._upb._message import Descriptor as _UpbDescriptor
    from google._upb._message import FieldDescriptor as _UpbFieldDescriptor

    # Generated classes' DESCRIPTOR is the upb type when protobuf runs on upb.
    AnyDescriptor: TypeAlias = Descriptor | _UpbDescriptor
    AnyFieldDescriptor: TypeAlias = FieldDescriptor | _UpbFieldDescriptor

M = TypeVar("M", bound=Message)

_MAX_DEPTH = 100
"""Deepest message nesting walked (protobuf's own default recursion limit)."""
_MAX_FIELD_NUMBER = (1 << 29) - 1


class RequestDecodeError(ValueError):
    """Request bytes that do not parse.

    ``field`` is the path of the field to fix (``rollout.steps[2]``), or ``""`` when the
    bytes are not a message at all; ``detail`` says what is wrong with it and what to send.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"field {field} {detail}" if field else f"request {detail}")
        self.field = field
        self.detail = detail


class _WireError(Exception):
    """The bytes are not a protobuf message."""


class _Unsupported(_WireError):
    """Valid wire format that this walker does not follow (groups)."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and the offset after it."""
    start = pos
    value = shift = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise _WireError(f"varint longer than 10 bytes at byte {start}")
    raise _WireError(f"truncated varint at byte {start}")


def _walk(
    descriptor: AnyDescriptor, data: bytes, pos: int, end: int, path: str, depth: int
) -> tuple[str, int] | None:
    """(path, offset in the field) of the first string in ``data[pos:end]`` that is not UTF-8."""
    if depth > _MAX_DEPTH:
        raise _WireError(f"messages nested more than {_MAX_DEPTH} deep")
    seen: dict[int, int] = {}  # occurrences so far of each repeated field
    while pos < end:
        tag_at = pos
        tag, pos = _varint(data, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if not 0 < number <= _MAX_FIELD_NUMBER:
            raise _WireError(f"invalid field number {number} at byte {tag_at}")
        if wire_type == 0:
            _, pos = _varint(data, pos, end)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, start = _varint(data, pos, end)
            pos = start + length
            field = descriptor.fields_by_number.get(number)
            if pos <= end and field is not None:
                name = f"{path}.{field.name}" if path else field.name
                if field.is_repeated:
                    seen[number] = seen.get(number, -1) + 1
                    name = f"{name}[{seen[number]}]"
                found = _check_field(field, data, start, pos, name, depth)
                if found is not None:
                    return found
        elif wire_type in (3, 4):
            raise _Unsupported(f"group (wire type {wire_type}) at byte {tag_at}")
        else:
            raise _WireError(f"invalid wire type {wire_type} at byte {tag_at}")
        if pos > end:
            raise _WireError(f"field {number} at byte {tag_at} runs past the end of its message")
    return None


def _check_field(
    field: AnyFieldDescriptor, data: bytes, start: int, end: int, name: str, depth: int
) -> tuple[str, int] | None:
    """Like :func:`_walk`, for one length-delimited field."""
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            data[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            return name, exc.start
        return None
    entry = field.message_type
    if field.type != FieldDescriptor.TYPE_MESSAGE or entry is None:
        return None  # bytes, or packed scalars
    found = _walk(entry, data, start, end, name, depth + 1)
    if found is not None and found[0] == f"{name}.value" and entry.GetOptions().map_entry:
        key = _map_key(entry, data, start, end)
        if key is not None:  # options["temperature"] reads better than options[3].value
            return f"{name[: name.rindex('[')]}[{json.dumps(key, ensure_ascii=False)}]", found[1]
    return found


def _map_key(entry: AnyDescriptor, data: bytes, pos: int, end: int) -> str | None:
    """The string key of a map entry, if it has a valid one (the last one wins, as in parsing)."""
    if entry.fields_by_number[1].type != FieldDescriptor.TYPE_STRING:
        return None
    key: str | None = None
    try:
        while pos < end:
            tag, pos = _varint(data, pos, end)
            wire_type = tag & 7
            if wire_type == 0:
                _, pos = _varint(data, pos, end)
            elif wire_type in (1, 5):
                pos += 8 if wire_type == 1 else 4
            elif wire_type == 2:
                length, pos = _varint(data, pos, end)
                if tag >> 3 == 1:
                    key = data[pos : pos + length].decode("utf-8")
                pos += length
            else:
                return None
    except (_WireError, UnicodeDecodeError):
        return None
    return key


def find_invalid_utf8(descriptor: AnyDescriptor, data: bytes) -> str | None:
    """Path of the first ``string`` field in ``data`` that is not valid UTF-8, in wire order.

    Paths look like ``problem.text``, ``rollout.steps[2]`` (repeated fields count from 0),
    ``options["temperature"]`` (a map value) or ``options[1].key`` (a map key, by entry).
    Strict UTF-8: encoded surrogates are invalid, as protobuf has them. None when every string
    is valid, or when the bytes cannot be walked (garbage, truncation, groups).
    """
    try:
        found = _walk(descriptor, data, 0, len(data), "", 0)
    except _WireError:
        return None
    return None if found is None else found[0]


def parse_request(message_cls: type[M], data: bytes) -> M:
    """Parse ``data`` as a ``message_cls``; raise :class:`RequestDecodeError` if it does not."""
    message = message_cls()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise _decode_error(message_cls.DESCRIPTOR, data, exc) from exc
    return message


def _decode_error(descriptor: AnyDescriptor, data: bytes, exc: DecodeError) -> RequestDecodeError:
    found, reason = None, str(exc)
    try:
        found = _walk(descriptor, data, 0, len(data), "", 0)
    except _Unsupported:
        pass  # the error may lie anywhere after the group: protobuf's words are all there is
    except _WireError as wire_error:
        reason = str(wire_error)
    if found is not None:
        field, offset = found
        return RequestDecodeError(
            field, f"is not valid UTF-8 (byte {offset} of that field); send UTF-8 text"
        )
    name = descriptor.full_name
    return RequestDecodeError(
        "", f"is not a valid {name} protobuf: {reason}; send a serialized {name}"
    )


def parse_or_invalid(message_cls: type[M], data: bytes) -> M:
    """:func:`parse_request`, with a decode error as INVALID_ARGUMENT naming the field."""
    from splice.server.errors import InvalidArgumentError

    try:
        return parse_request(message_cls, data)
    except RequestDecodeError as exc:
        raise InvalidArgumentError(exc.field or "request", exc.detail) from exc
