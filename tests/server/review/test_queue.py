"""The review queue on both backends: claims, leases, stale tokens, skip, release, overlap."""

from __future__ import annotations

import asyncio

import pytest
from splice.sdk.types import ErrorCategory, Replacement, Status
from splice.server.errors import InvalidArgumentError
from splice.server.review.queue import (
    Review,
    StaleLeaseError,
    TaskContent,
    UnknownTaskError,
    hash_token,
)

from tests.server.review.conftest import Env


def found(reviewer: str, step: int, text: str = "So 2 + 2 = 4.") -> Review:
    """A FOUND_ERROR review at ``step`` with one replacement there."""
    return Review(reviewer=reviewer, status=Status.FOUND_ERROR, first_error_step=step,
                  replacements=(Replacement(location=step, content=text),),
                  category=ErrorCategory.EXECUTION, explanation=f"{reviewer} says {step}")


async def test_claim_order_and_single_holder(env: Env) -> None:
    await env.add_task("low", priority=0)
    await env.add_task("high", priority=5)
    again = TaskContent("p", "r", "", "", ("a",), False)
    assert not await env.queue.enqueue("high", again, priority=9)  # idempotent
    a = await env.queue.claim("alice", 30)
    b = await env.queue.claim("bob", 30)
    assert a is not None and b is not None
    assert (a.request_id, b.request_id) == ("high", "low")
    assert a.content.steps[0].startswith("Step 1") and len(a.content.steps) == 4
    assert await env.queue.claim("carol", 30) is None  # both held: nothing for carol
    stats = await env.queue.stats("alice")
    assert (stats.pending, stats.claimed, stats.done_today) == (0, 2, 0)


async def test_expired_lease_returns_task_and_refuses_stale_token(env: Env) -> None:
    await env.add_task("t1")
    alice = await env.queue.claim("alice", 0.3)
    assert alice is not None
    assert await env.queue.claim("bob", 0.3) is None
    await asyncio.sleep(0.45)
    with pytest.raises(StaleLeaseError):  # expired, even though nobody took it yet
        await env.queue.heartbeat("t1", alice.lease_token, 30)
    bob = await env.queue.claim("bob", 30)
    assert bob is not None and bob.request_id == "t1"
    with pytest.raises(StaleLeaseError):
        await env.desk.submit("t1", alice.lease_token, found("alice", 2))
    with pytest.raises(StaleLeaseError):
        await env.desk.submit("t1", "not-a-token", found("mallory", 2))
    outcome = await env.desk.submit("t1", bob.lease_token, found("bob", 3))
    assert outcome.done
    with pytest.raises(StaleLeaseError):  # a used token is dead too
        await env.desk.submit("t1", bob.lease_token, found("bob", 3))
    done = await env.store.get("t1")
    assert done is not None and done.status is Status.FOUND_ERROR
    assert done.first_error_step == 3 and done.sequence > 0
    assert done.replacements[0].content == "So 2 + 2 = 4."
    events = [(e.reviewer, e.event) for e in reversed(await env.queue.audit("t1"))]
    assert events == [("", "queued"), ("alice", "claimed"), ("alice", "expired"),
                      ("bob", "claimed"), ("alice", "stale_submit_refused"),
                      ("", "stale_submit_refused"), ("bob", "submitted"),
                      ("bob", "stale_submit_refused")]


async def test_heartbeat_keeps_the_lease(env: Env) -> None:
    await env.add_task("t1")
    claim = await env.queue.claim("alice", 0.5)
    assert claim is not None
    for _ in range(3):
        await asyncio.sleep(0.25)
        until = await env.queue.heartbeat("t1", claim.lease_token, 0.5)
        assert until > claim.lease_until
    assert await env.queue.claim("bob", 30) is None
    assert (await env.queue.submit("t1", claim.lease_token, found("alice", 1))).done


async def test_skip_and_release(env: Env) -> None:
    await env.add_task("t1")
    first = await env.queue.claim("alice", 30)
    assert first is not None
    await env.queue.release("t1", first.lease_token)
    again = await env.queue.claim("alice", 30)  # released: alice may take it again
    assert again is not None and again.request_id == "t1"
    await env.queue.skip("t1", again.lease_token, "cannot read the handwriting")
    assert await env.queue.claim("alice", 30) is None  # skipped: not offered to alice again
    with pytest.raises(StaleLeaseError):
        await env.queue.release("t1", again.lease_token)
    bob = await env.queue.claim("bob", 30)
    assert bob is not None and bob.request_id == "t1"
    events = [e.event for e in reversed(await env.queue.audit("t1"))]
    assert events == ["queued", "claimed", "released", "claimed", "skipped", "claimed"]


async def test_invalid_review_keeps_the_claim(env: Env) -> None:
    await env.add_task("t1")
    claim = await env.queue.claim("alice", 30)
    assert claim is not None
    bad = [Review("alice", Status.FOUND_ERROR, first_error_step=9),
           Review("alice", Status.ABSTAINED),
           Review("alice", Status.NO_ERROR, first_error_step=2),
           Review("alice", Status.FOUND_ERROR, 2, (Replacement(location=7, content="x"),)),
           Review("alice", Status.FOUND_ERROR, 2, (Replacement(location=2, content="  "),))]
    for review in bad:
        with pytest.raises(InvalidArgumentError):
            await env.desk.submit("t1", claim.lease_token, review)
    with pytest.raises(UnknownTaskError):
        await env.desk.submit("nope", claim.lease_token, found("alice", 1))
    assert (await env.desk.submit("t1", claim.lease_token, Review("alice", Status.NO_ERROR))).done
    done = await env.store.get("t1")
    assert done is not None and (done.status, done.first_error_step) == (Status.NO_ERROR, 0)


async def test_overlap_records_majority_and_agreement(env: Env) -> None:
    await env.add_task("t1", overlap=3)
    for reviewer, step in (("alice", 2), ("bob", 3), ("carol", 2)):
        claim = await env.queue.claim(reviewer, 30)
        assert claim is not None and claim.request_id == "t1"
        assert await env.queue.claim("dave", 30) is None  # one holder at a time
        outcome = await env.desk.submit("t1", claim.lease_token, found(reviewer, step))
        assert outcome.reviews_done == ["alice", "bob", "carol"].index(reviewer) + 1
        assert await env.queue.claim(reviewer, 30) is None  # never twice by one reviewer
    assert outcome.done
    done = await env.store.get("t1")
    assert done is not None and done.status is Status.FOUND_ERROR
    assert done.first_error_step == 2 and done.category is ErrorCategory.EXECUTION
    assert done.explanation.startswith("2/3 reviewers agree on step 2; disagreeing: bob: step 3")
    assert len(done.replacements) == 1  # alice's and carol's are identical
    assert (await env.store.last_sequence()) == done.sequence
    assert (await env.queue.stats()).done_total == 1


async def test_reconcile_finishes_submitted_tasks(env: Env) -> None:
    """A crash between the queue's submit and the store's finish: the next start finishes."""
    await env.add_task("t1")
    await env.add_task("t2")
    for _ in range(2):
        claim = await env.queue.claim("alice", 30)
        assert claim is not None
        await env.queue.submit(claim.request_id, claim.lease_token, found("alice", 2))
    assert (await env.store.get("t1")).status is Status.PENDING  # type: ignore[union-attr]
    assert await env.desk.reconcile() == 2
    assert await env.desk.reconcile() == 0
    for rid in ("t1", "t2"):
        done = await env.store.get(rid)
        assert done is not None and done.status is Status.FOUND_ERROR and done.sequence > 0
    assert len(await env.store.read_log(0)) == 2


async def test_concurrent_claims_never_share_a_task(env: Env) -> None:
    for i in range(40):
        await env.add_task(f"t{i:02d}")

    async def reviewer(name: str) -> list[str]:
        got = []
        while (claim := await env.queue.claim(name, 30)) is not None:
            got.append(claim.request_id)
            await env.desk.submit(claim.request_id, claim.lease_token, found(name, 1))
        return got

    results = await asyncio.gather(*(reviewer(f"r{i}") for i in range(8)))
    claimed = [rid for got in results for rid in got]
    assert sorted(claimed) == [f"t{i:02d}" for i in range(40)]
    assert len(await env.store.read_log(0)) == 40


async def test_tokens_are_stored_hashed(env: Env) -> None:
    await env.queue.add_token(hash_token("secret-1"), "alice", "reviewer")
    await env.queue.add_token(hash_token("secret-2"), "alice", "admin")
    found_row = await env.queue.find_token(hash_token("secret-1"))
    assert found_row is not None and (found_row.name, found_row.role) == ("alice", "reviewer")
    assert await env.queue.find_token("secret-1") is None
    assert await env.queue.revoke_tokens("alice") == 2
    assert await env.queue.find_token(hash_token("secret-1")) is None
    assert [t.revoked_at is not None for t in await env.queue.list_tokens()] == [True, True]
