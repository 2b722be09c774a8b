"""What a caller sends: :class:`InterventionRequest` and its protobuf form."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from splice.sdk.convert import provenance_to_pb
from splice.sdk.types import Provenance, SegmentationMode
from splice.v1 import intervention_pb2 as pb


@dataclass(frozen=True)
class InterventionRequest:
    """One intervention to run: a problem, its reference solution and one rollout.

    Give ``rollout`` (raw text, segmented by the server) or ``rollout_steps`` (your own
    steps), not both. ``request_id`` is the idempotency key; one is made if not given.
    """

    problem: str
    reference_solution: str
    rollout: str = ""
    rollout_steps: Sequence[str] = ()
    reference_answer: str = ""
    problem_id: str = ""
    oracle: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client_id: str = ""
    segmentation: SegmentationMode = SegmentationMode.UNSPECIFIED
    categorize: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    provenance: Provenance | None = None

    def to_pb(self, default_client_id: str) -> pb.InterveneRequest:
        """The protobuf request (``client_id`` falls back to the client's)."""
        msg = pb.InterveneRequest(
            request_id=self.request_id, client_id=self.client_id or default_client_id,
            problem=pb.Problem(text=self.problem, reference_solution=self.reference_solution,
                               reference_answer=self.reference_answer,
                               problem_id=self.problem_id),
            rollout=pb.Rollout(text=self.rollout, steps=list(self.rollout_steps)),
            oracle=self.oracle, segmentation=cast(Any, int(self.segmentation)),
            categorize=self.categorize, options=dict(self.options),
        )
        if self.provenance is not None:
            msg.rollout.provenance.CopyFrom(provenance_to_pb(self.provenance))
        return msg
