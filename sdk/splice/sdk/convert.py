"""Conversions between the typed values of ``splice.sdk.types`` and ``splice.v1`` protobuf."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from google.protobuf.timestamp_pb2 import Timestamp
from splice.sdk.types import (
    ErrorCategory,
    Failure,
    FailureReason,
    Intervention,
    OracleDescription,
    OracleInfo,
    Provenance,
    Replacement,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.v1 import intervention_pb2 as pb

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
W = TypeVar("W", pb.InterveneResponse, pb.InterveneStreamResponse, pb.GetInterventionResponse,
            pb.WatchInterventionsResponse)


def _enum(value: int) -> Any:
    """An IntEnum as the plain int that protobuf enum fields take."""
    return cast(Any, int(value))


def _ts_from_pb(msg: pb.Intervention, name: str) -> datetime | None:
    if not msg.HasField(name):
        return None
    ts: Timestamp = getattr(msg, name)
    return ts.ToDatetime(tzinfo=UTC)


def provenance_to_pb(p: Provenance) -> pb.Provenance:
    """Provenance → protobuf."""
    return pb.Provenance(
        policy_checkpoint=p.policy_checkpoint, sampling=dict(p.sampling),
        tokenizer=p.tokenizer, chat_template_hash=p.chat_template_hash,
        policy_step=p.policy_step,
    )


def provenance_from_pb(m: pb.Provenance) -> Provenance:
    """Protobuf → Provenance."""
    return Provenance(
        policy_checkpoint=m.policy_checkpoint, sampling=dict(m.sampling),
        tokenizer=m.tokenizer, chat_template_hash=m.chat_template_hash,
        policy_step=m.policy_step,
    )


def oracle_info_to_pb(o: OracleInfo) -> pb.OracleInfo:
    """OracleInfo → protobuf."""
    return pb.OracleInfo(name=o.name, backend=o.backend, version=o.version,
                         config_hash=o.config_hash)


def oracle_info_from_pb(m: pb.OracleInfo) -> OracleInfo:
    """Protobuf → OracleInfo."""
    return OracleInfo(name=m.name, backend=m.backend, version=m.version,
                      config_hash=m.config_hash)


def _ts_fields(value: datetime | None) -> dict[str, int] | None:
    """A datetime as Timestamp fields (what ``Timestamp.FromDatetime`` sets), or None."""
    if value is None:
        return None
    if value.tzinfo is None:  # naive means local time, as datetime.astimezone reads it
        value = value.astimezone(UTC)
    delta = value - _EPOCH
    return {"seconds": delta.days * 86400 + delta.seconds, "nanos": delta.microseconds * 1000}


def intervention_to_pb(i: Intervention, *, steps: bool = True) -> pb.Intervention:
    """Intervention → protobuf (without its steps if ``steps`` is false)."""
    msg = pb.Intervention(**_intervention_fields(i))
    _add_lists(msg, i, steps)
    return msg


def wrap_intervention(cls: type[W], i: Intervention, **fields: Any) -> W:
    """A ``cls`` message (a response) whose ``intervention`` field is ``i``, plus ``fields``.

    Built in place: ``CopyFrom(intervention_to_pb(i))`` would copy the ~20 KB message again.
    """
    msg = cls(intervention=_intervention_fields(i), **fields)
    _add_lists(msg.intervention, i)
    return msg


def _intervention_fields(i: Intervention) -> dict[str, Any]:
    """Constructor arguments of ``pb.Intervention`` for ``i``, except the repeated fields.

    Sub-messages are given as dicts: building them as messages first and passing them in
    copies each one.
    """
    o, u, seg = i.oracle, i.usage, i.segmenter
    fields: dict[str, Any] = {
        "request_id": i.request_id, "client_id": i.client_id, "status": int(i.status),
        "first_error_step": i.first_error_step, "category": int(i.category),
        "explanation": i.explanation,
        "oracle": {"name": o.name, "backend": o.backend, "version": o.version,
                   "config_hash": o.config_hash},
        "usage": {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                  "cost_usd": u.cost_usd, "oracle_latency_ms": u.oracle_latency_ms},
        "segmenter": {"name": seg.name, "version": seg.version},
        "sequence": i.sequence, "cached": i.cached, "problem_id": i.problem_id,
        "created_at": _ts_fields(i.created_at), "finished_at": _ts_fields(i.finished_at),
    }
    if i.failure is not None:
        f = i.failure
        fields["failure"] = {"reason": int(f.reason), "message": f.message,
                             "retryable": f.retryable}
    if i.provenance is not None:
        p = i.provenance
        fields["provenance"] = {
            "policy_checkpoint": p.policy_checkpoint, "sampling": dict(p.sampling),
            "tokenizer": p.tokenizer, "chat_template_hash": p.chat_template_hash,
            "policy_step": p.policy_step}
    return fields


def _add_lists(msg: pb.Intervention, i: Intervention, steps: bool = True) -> None:
    """Steps (if ``steps``) and replacements, added in place (a rollout has ~100 steps)."""
    add_step = msg.steps.add
    for s in i.steps if steps else ():
        add_step(index=s.index, text=s.text, char_start=s.char_start, char_end=s.char_end)
    add_replacement = msg.replacements.add
    for r in i.replacements:
        add_replacement(location=r.location, content=r.content, leaks_answer=r.leaks_answer)


def intervention_from_pb(m: pb.Intervention) -> Intervention:
    """Protobuf → Intervention."""
    return Intervention(
        request_id=m.request_id, client_id=m.client_id, status=Status(m.status),
        first_error_step=m.first_error_step,
        steps=tuple(Step(index=s.index, text=s.text, char_start=s.char_start,
                         char_end=s.char_end) for s in m.steps),
        replacements=tuple(Replacement(location=r.location, content=r.content,
                                       leaks_answer=r.leaks_answer) for r in m.replacements),
        category=ErrorCategory(m.category), explanation=m.explanation,
        oracle=oracle_info_from_pb(m.oracle),
        usage=Usage(input_tokens=m.usage.input_tokens, output_tokens=m.usage.output_tokens,
                    cost_usd=m.usage.cost_usd, oracle_latency_ms=m.usage.oracle_latency_ms),
        failure=(Failure(reason=FailureReason(m.failure.reason), message=m.failure.message,
                         retryable=m.failure.retryable) if m.HasField("failure") else None),
        segmenter=Segmenter(name=m.segmenter.name, version=m.segmenter.version),
        sequence=m.sequence, cached=m.cached, problem_id=m.problem_id,
        created_at=_ts_from_pb(m, "created_at"), finished_at=_ts_from_pb(m, "finished_at"),
        provenance=provenance_from_pb(m.provenance) if m.HasField("provenance") else None,
    )


def oracle_description_to_pb(d: OracleDescription) -> pb.OracleDescription:
    """OracleDescription → protobuf."""
    return pb.OracleDescription(info=oracle_info_to_pb(d.info), description=d.description,
                                capabilities=list(d.capabilities), cost_model=d.cost_model,
                                is_default=d.is_default)


def oracle_description_from_pb(m: pb.OracleDescription) -> OracleDescription:
    """Protobuf → OracleDescription."""
    return OracleDescription(info=oracle_info_from_pb(m.info), description=m.description,
                             capabilities=tuple(m.capabilities), cost_model=m.cost_model,
                             is_default=m.is_default)
