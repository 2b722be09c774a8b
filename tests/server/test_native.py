"""The C hot path (``splice.server._native``) agrees exactly with the Python it replaces."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from splice.sdk.convert import intervention_from_pb, wrap_intervention
from splice.sdk.types import (
    ErrorCategory,
    Intervention,
    OracleInfo,
    Provenance,
    Replacement,
    SegmentationMode,
    Segmenter,
    Status,
    Step,
    Usage,
)
from splice.server import native
from splice.server.responses import STEPS_FIELD, response_bytes
from splice.server.segmentation import KEYWORDS, join_presegmented, segment_with
from splice.server.store._codec import steps_layout
from splice.v1 import intervention_pb2 as pb

from tests.server.test_segmentation import MODES, ROLLOUTS

NATIVE = native.load()
KEYWORD = SegmentationMode.KEYWORD
STEP_LISTS = st.one_of(
    ROLLOUTS.map(lambda text: segment_with(text, SegmentationMode.KEYWORD, None)),
    st.lists(st.text(min_size=1, max_size=30), max_size=12).map(
        lambda texts: join_presegmented(texts)[1]),
)


@pytest.fixture(scope="module")
def c() -> native.NativeModule:
    """The compiled module: scripts/setup.sh builds it, so its absence is a failure."""
    if NATIVE is None:
        pytest.fail("splice.server._native is not built (or SPLICE_NATIVE=0 is set): "
                    "run scripts/setup.sh, which compiles it")
    return NATIVE


def test_the_server_runs_the_compiled_path() -> None:
    assert os.environ.get("SPLICE_NATIVE", "1") != "0"
    assert native.NATIVE is not None, "the installed server would run the Python path"


@given(ROLLOUTS, MODES)
def test_segmentation_agrees(c: native.NativeModule, text: str,
                             mode: SegmentationMode) -> None:
    assert segment_with(text, mode, c) == segment_with(text, mode, None)


# Texts dense in keywords and in what may stand before or after one.
KEYWORD_TEXTS = st.lists(st.sampled_from([
    *KEYWORDS, "x", "é", "日", "1", "_", "s", "ing", " ", "  ", "\t", "\n", "\n\n", ". ", "? ",
    ") ", "; ", ",", ".", "\r\n\r\n", " \n", "\u00a0", "\x00",
]), max_size=30).map("".join)


@settings(max_examples=400)
@given(KEYWORD_TEXTS)
def test_keyword_mode_agrees(c: native.NativeModule, text: str) -> None:
    assert segment_with(text, KEYWORD, c) == segment_with(text, KEYWORD, None)


@pytest.mark.parametrize("text", [
    "Hello there.\nWait no.", "x. Wait", "x.  \tBut y", "x Wait", "(a) Hmm", "x\nWaiting",
    "x\n  maybe_y", "x\n maybe", "x.But", "x:\tLet me check", "x; Let me", " Wait", "\tWait",
    "x\n\n  Wait, y. But z\n\n", "ab wait", "1) However, 2)", "x.\u00a0Wait", "x\x00 Wait",
    "", " ", "\n\n", "  \n \n  x", "a\n\nb", "a\n\n", "a\n \t\r\f\v\nb\u2028\u00a0c",
    "日本\n\n語", "😀\n\n😀\n\n", "\n\nWait\n\n", "x" * 5000 + "\n\n" + "y",
])
def test_segmentation_edge_cases_agree(c: native.NativeModule, text: str) -> None:
    for mode in (SegmentationMode.BLANK_LINE, SegmentationMode.KEYWORD):
        assert segment_with(text, mode, c) == segment_with(text, mode, None)


def _surrogate_free(steps: tuple[Step, ...]) -> bool:
    return all(not any("\ud800" <= ch <= "\udfff" for ch in s.text) for s in steps)


@given(STEP_LISTS)
def test_layout_agrees(c: native.NativeModule, steps: tuple[Step, ...]) -> None:
    assert c.steps_layout(steps) == steps_layout(steps)


@given(STEP_LISTS.filter(_surrogate_free))
def test_wire_is_protobufs_own_encoding(c: native.NativeModule,
                                        steps: tuple[Step, ...]) -> None:
    expected = pb.Intervention(steps=[
        pb.Step(index=s.index, text=s.text, char_start=s.char_start, char_end=s.char_end)
        for s in steps]).SerializeToString()
    assert c.steps_wire(steps, STEPS_FIELD) == expected


def test_wire_of_default_and_large_values(c: native.NativeModule) -> None:
    steps = (Step(0, "", 0, 0), Step(2**32 - 1, "é" * 200, 2**31, 2**32 - 1),
             Step(300, "x", 127, 128))
    message = pb.Intervention.FromString(c.steps_wire(steps, STEPS_FIELD))
    got = [(s.index, s.text, s.char_start, s.char_end) for s in message.steps]
    assert got == [(s.index, s.text, s.char_start, s.char_end) for s in steps]


@pytest.mark.parametrize(("step", "error"), [
    (Step(2**32, "x", 0, 1), OverflowError),
    (Step(-1, "x", 0, 1), OverflowError),
    (Step(1, "x", 0, 2**40), OverflowError),
    (Step(1, b"x", 0, 1), TypeError),  # type: ignore[arg-type]
    (Step(1, "\udcff", 0, 1), UnicodeEncodeError),
])
def test_wire_refuses_what_protobuf_refuses(c: native.NativeModule, step: Step,
                                            error: type[Exception]) -> None:
    with pytest.raises(error):
        c.steps_wire((Step(1, "ok", 0, 2), step), STEPS_FIELD)


def test_bad_arguments_are_type_errors(c: native.NativeModule) -> None:
    with pytest.raises(TypeError):
        c.segment_steps("a Wait", ["Wait"], Step)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.segment_steps("a Wait", (b"Wait",), Step)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.segment_steps("a Wait", ("",), Step)
    with pytest.raises(TypeError):
        c.segment_steps(b"a\n\nb", (), Step)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.segment_steps("a\n\nb", (), tuple)  # no slots named index, text, ...
    with pytest.raises(AttributeError):
        c.steps_layout([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        c.steps_wire((), 16)


def _raises(error: type[Exception], call: Callable[[], object]) -> None:
    try:
        call()
    except error:
        return
    raise AssertionError(f"no {error.__name__}")


def test_no_memory_is_leaked(c: native.NativeModule) -> None:
    text = "Step one: 2 + 2 = 4.\n\nWait, é 日本 😀.\n \nDone. But\n\n" * 20
    steps = segment_with(text, SegmentationMode.BLANK_LINE, c)
    bad = (Step(1, "x", 0, 1), Step(-1, "x", 0, 1))
    calls: list[Callable[[], object]] = [
        lambda: c.segment_steps(text, (), Step), lambda: c.segment_steps(text, KEYWORDS, Step),
        lambda: c.steps_layout(steps), lambda: c.steps_wire(steps, STEPS_FIELD),
        lambda: _raises(OverflowError, lambda: c.steps_wire(bad, STEPS_FIELD)),
        lambda: _raises(TypeError, lambda: c.segment_steps(text, (), tuple)),
    ]
    for call in calls:
        call()  # warm caches (the UTF-8 of each text is cached on the str)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(20_000):
                call()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        # one object kept per call would be over 500 KB
        assert grown < 16 * 1024, f"{grown} bytes kept after 20,000 calls"


def _intervention(steps: tuple[Step, ...]) -> Intervention:
    return Intervention(
        request_id="r1", client_id="c", status=Status.FOUND_ERROR, first_error_step=1,
        steps=steps, replacements=(Replacement(1, "So 12 \\times 13 = 156.", False),),
        category=ErrorCategory.EXECUTION, explanation="wrong product",
        oracle=OracleInfo("symbolic", "symbolic", "1", "abc"), usage=Usage(oracle_latency_ms=2.5),
        failure=None, segmenter=Segmenter("blank_line", "2"), sequence=7, cached=False,
        created_at=datetime(2026, 12, 4, tzinfo=UTC),
        provenance=Provenance(policy_checkpoint="ck", sampling={"t": "1.0"}))


@pytest.mark.parametrize("text", ["", "One.\n\nTwo: 12 \\times 13 = 146.\n\nSo 146.",
                                  "日本 😀\n\n" * 50])
def test_responses_parse_to_the_same_message(c: native.NativeModule, text: str) -> None:
    steps = segment_with(text, SegmentationMode.BLANK_LINE, None) or (Step(1, "x", 0, 1),)
    base = _intervention(steps)
    for cls in (pb.InterveneResponse, pb.GetInterventionResponse,
                pb.WatchInterventionsResponse):
        expected = wrap_intervention(cls, base)
        for impl in (c, None):
            got = cls.FromString(response_bytes(cls, base, impl))
            assert got == expected
            assert intervention_from_pb(got.intervention) == base
    expected_stream = wrap_intervention(pb.InterveneStreamResponse, base, request_id="r9")
    for impl in (c, None):
        got_stream = pb.InterveneStreamResponse.FromString(
            response_bytes(pb.InterveneStreamResponse, base, impl, request_id="r9"))
        assert got_stream == expected_stream


def test_a_list_changed_while_it_is_read_is_safe(c: native.NativeModule) -> None:
    steps: list[object] = []

    class Shrinking:
        index, char_start, char_end = 1, 0, 1

        @property
        def text(self) -> str:
            steps.clear()  # frees the other items, were they only borrowed from the list
            return "x"

    steps += [Shrinking(), Shrinking(), Shrinking()]
    encoded = c.steps_wire(steps, STEPS_FIELD)  # type: ignore[arg-type]
    assert len(pb.Intervention.FromString(encoded).steps) == 3
    steps += [Shrinking(), Shrinking()]
    assert c.steps_layout(steps) == "[[1,0,1,1],[1,0,1,1]]"  # type: ignore[arg-type]


def test_a_module_built_from_another_version_is_not_used(
        c: native.NativeModule, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c, "API_VERSION", native.API_VERSION - 1)
    assert native.load() is None
    assert "rebuild it" in native.PROBLEM
    monkeypatch.undo()
    assert native.load() is c
    assert native.PROBLEM == ""
