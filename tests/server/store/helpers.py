"""Records and results for the store tests (also imported by the writer subprocess)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from splice.sdk.types import (
    ErrorCategory,
    OracleInfo,
    Provenance,
    Replacement,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.server.oracles.base import OracleResult
from splice.server.store.base import RequestRecord

ORACLE = OracleInfo(name="fake", backend="fake", version="1", config_hash="cfg1")


def make_steps(text: str, n: int = 4) -> tuple[Step, ...]:
    """``n`` steps that tile ``"".join(step texts)`` exactly."""
    steps, offset = [], 0
    for i in range(1, n + 1):
        body = f"Step {i}: {text}\n\n"
        steps.append(Step(i, body, offset, offset + len(body)))
        offset += len(body)
    return tuple(steps)


def make_record(
    request_id: str, *, text: str = "2 + 2 = 5", client_id: str = "client-a",
    oracle: OracleInfo = ORACLE, pending: bool = False, step_chars: int = 0,
    created_at: datetime | None = None,
) -> RequestRecord:
    """A request whose content hash depends on ``text`` (and ``step_chars`` of padding)."""
    body = text + ("x" * step_chars)
    steps = make_steps(body)
    content_hash = hashlib.sha256(body.encode()).hexdigest()
    return RequestRecord(
        request_id=request_id, client_id=client_id, problem="What is 2 + 2?",
        reference_solution="2 + 2 = 4.", reference_answer="4", problem_id="p-1",
        steps=steps, segmenter=Segmenter(name="blank_line", version="1"), oracle=oracle,
        categorize=True, options={"temperature": "0"}, content_hash=content_hash,
        provenance=Provenance(policy_checkpoint="ckpt-7", sampling={"temperature": "1.0"},
                              tokenizer="tok", chat_template_hash="abc", policy_step=7),
        created_at=created_at or datetime.now(UTC), initial_status_pending=pending,
        labels={"run": "r1"},
    )


def found_error(step: int = 2, *, raw: str = "") -> OracleResult:
    """A FOUND_ERROR verdict with one replacement and some usage."""
    return OracleResult(
        status=Status.FOUND_ERROR, first_error_step=step,
        replacements=(Replacement(location=step, content="So 2 + 2 = 4.", leaks_answer=True),),
        category=ErrorCategory.EXECUTION, explanation="2 + 2 is 4, not 5.",
        usage=Usage(input_tokens=120, output_tokens=30, cost_usd=0.0021,
                    oracle_latency_ms=812.5),
        raw=raw,
    )
