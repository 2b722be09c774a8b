"""Rules and properties of rollout segmentation: steps tile the text exactly."""

from __future__ import annotations

import dataclasses
import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from splice.sdk.types import SegmentationMode, Step
from splice.server.segmentation import (
    BLANK_LINE_VERSION,
    KEYWORD_VERSION,
    KEYWORDS,
    PRESEGMENTED,
    PRESEGMENTED_SEPARATOR,
    join_presegmented,
    segment,
    segmenter_for,
)

BLANK = SegmentationMode.BLANK_LINE
KEYWORD = SegmentationMode.KEYWORD


def texts(text: str, mode: SegmentationMode = BLANK) -> list[str]:
    return [step.text for step in segment(text, mode)]


# --- A slow, independent statement of the rules, to compare against. -------------------------

_LINE_SPACE = frozenset(" \t\r\f\v")


def _holds_blank_line(run: str) -> bool:
    lines = run.split("\n")
    return any(all(c in _LINE_SPACE for c in line) for line in lines[1:-1])


def reference_cuts(text: str, mode: SegmentationMode) -> list[int]:
    """Offsets where steps 2, 3, ... start, found character by character."""
    cuts = []
    for p in range(1, len(text)):
        if not text[:p].strip():
            continue  # leading whitespace belongs to step 1
        q = p
        while q and text[q - 1].isspace():
            q -= 1
        after_blank_line = not text[p].isspace() and q < p and _holds_blank_line(text[q:p])
        if after_blank_line or (mode is KEYWORD and _keyword_opens_step(text, p)):
            cuts.append(p)
    return cuts


def _keyword_opens_step(text: str, p: int) -> bool:
    whole = any(
        text.startswith(k, p) and not re.match(r"\w", text[p + len(k) : p + len(k) + 1])
        for k in KEYWORDS
    )
    return whole and re.search(r"(?:\n[ \t]*|[.!?:;)\]][ \t]+)\Z", text[:p]) is not None


def assert_tiles(text: str, steps: tuple[Step, ...], *, blank_ok: bool = False) -> None:
    """Steps 1..n cover ``text`` exactly, in order; none is empty (or blank, unless allowed)."""
    assert "".join(s.text for s in steps) == text
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    position = 0
    for step in steps:
        assert step.char_start == position
        assert step.text == text[step.char_start : step.char_end]
        assert step.text, "empty step"
        position = step.char_end
    assert position == len(text)
    if len(steps) > 1 and not blank_ok:
        assert all(step.content for step in steps), "a blank step"


# --- Blank-line rules ---------------------------------------------------------------------------


def test_empty_text_has_no_steps() -> None:
    assert segment("") == ()
    assert segment("", KEYWORD) == ()


def test_no_separator_gives_one_step() -> None:
    text = "x = 1\nso y = 2.\nDone."
    assert segment(text) == (Step(index=1, text=text, char_start=0, char_end=len(text)),)


def test_split_after_blank_line_keeping_the_separator() -> None:
    assert texts("a\n\nb\n\n\n\nc") == ["a\n\n", "b\n\n\n\n", "c"]


@pytest.mark.parametrize("separator", ["\n \n", "\n\t\t\n", "\r\n\r\n", "\n\r\n", "\n \f\v\n"])
def test_blank_line_may_hold_spaces_tabs_and_carriage_returns(separator: str) -> None:
    assert texts(f"a{separator}b") == [f"a{separator}", "b"]


def test_crlf_text_splits_like_lf_text() -> None:
    text = "Step one.\r\nStill one.\r\n\r\nStep two.\r\n"
    assert texts(text) == ["Step one.\r\nStill one.\r\n\r\n", "Step two.\r\n"]


def test_single_newline_and_non_ascii_space_line_do_not_split() -> None:
    assert len(segment("a\nb")) == 1
    assert len(segment("a\n\u00a0\nb")) == 1


def test_separator_takes_the_next_lines_indentation() -> None:
    assert texts("a\n\n    b\n\n\u3000c") == ["a\n\n    ", "b\n\n\u3000", "c"]


def test_leading_whitespace_belongs_to_step_one() -> None:
    assert texts("\n\n  a\n\nb") == ["\n\n  a\n\n", "b"]
    assert texts("  \n\nWait\nBut", KEYWORD) == ["  \n\nWait\n", "But"]


def test_trailing_whitespace_stays_on_the_last_step() -> None:
    assert texts("a\n\nb\n\n \n") == ["a\n\n", "b\n\n \n"]


def test_whitespace_only_text_is_one_step() -> None:
    assert texts(" \n\n\t\n") == [" \n\n\t\n"]


def test_blank_line_mode_ignores_keywords() -> None:
    assert len(segment("x = 1. Wait, no.\nBut yes.")) == 1


def test_unspecified_mode_is_blank_line() -> None:
    text = "a\n\nb. Wait."
    assert segment(text, SegmentationMode.UNSPECIFIED) == segment(text, BLANK)
    assert segmenter_for(SegmentationMode.UNSPECIFIED) == segmenter_for(BLANK)


# --- Keyword rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = 1. Wait, x = 2.", ["x = 1. ", "Wait, x = 2."]),
        ("x = 1?  \tBut then", ["x = 1?  \t", "But then"]),
        ("see (1) Alternatively", ["see (1) ", "Alternatively"]),
        ("x = 1\nHmm.", ["x = 1\n", "Hmm."]),
        ("x = 1\n   maybe not", ["x = 1\n   ", "maybe not"]),
        ("x = 1.\r\nwait", ["x = 1.\r\n", "wait"]),
        ("So x. Let me double-check: y", ["So x. ", "Let me double-check: y"]),
        ("So x. Hold on, y", ["So x. ", "Hold on, y"]),
    ],
)
def test_keyword_opening_a_sentence_or_line_starts_a_step(text: str, expected: list[str]) -> None:
    assert texts(text, KEYWORD) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Butter melts. Butterfly.",  # keyword inside a longer word
        "We await it.\nawait more",  # keyword at the end of a word
        "x = 1. Waiting, Maybe_x, But2",  # not whole words
        "x is 1 but Wait is here",  # mid-sentence
        "x = 1, But y",  # a comma does not end a sentence
        "x = 1.But y",  # no space after the full stop
        "x = 1. Hold onto y. Let me see",  # only the listed phrases
        "Wait, this opens the text.",  # nothing before: no cut at 0
    ],
)
def test_keyword_inside_a_word_or_sentence_does_not_split(text: str) -> None:
    assert texts(text, KEYWORD) == [text]


def test_keyword_mode_also_splits_at_blank_lines_once() -> None:
    assert texts("a.\n\nWait. b\n\nc", KEYWORD) == ["a.\n\n", "Wait. b\n\n", "c"]


def test_many_capitals_switch_to_word_search() -> None:
    # More capital W and B than the letter scan inspects: the word search must find the rest.
    text = "W" * 60 + ". Wait " + "BB " * 60 + "x. But y.\nWait"
    assert [s.char_start for s in segment(text, KEYWORD)][1:] == reference_cuts(text, KEYWORD)
    assert len(segment(text, KEYWORD)) == 4


def test_segmenters_are_named_and_versioned() -> None:
    assert (segmenter_for(BLANK).name, segmenter_for(BLANK).version) == (
        "blank_line",
        BLANK_LINE_VERSION,
    )
    assert (segmenter_for(KEYWORD).name, segmenter_for(KEYWORD).version) == (
        "keyword",
        KEYWORD_VERSION,
    )
    assert PRESEGMENTED.name == "presegmented"


# --- Step -------------------------------------------------------------------------------------


def test_step_is_a_value() -> None:
    step = Step(index=2, text=" ab \n\n", char_start=3, char_end=9)
    same = Step(2, " ab \n\n", 3, 9)
    assert step == same and hash(step) == hash(same) and len({step, same}) == 1
    assert step != Step(2, " ab \n\n", 3, 10)
    assert step.content == "ab"
    assert repr(step) == "Step(index=2, text=' ab \\n\\n', char_start=3, char_end=9)"
    assert pickle.loads(pickle.dumps(step)) == step
    assert dataclasses.asdict(step) == {"index": 2, "text": " ab \n\n", "char_start": 3,
                                        "char_end": 9}
    assert dataclasses.replace(step, index=1).index == 1
    with pytest.raises(AttributeError):
        step.other = 1  # type: ignore[attr-defined]


# --- join_presegmented ------------------------------------------------------------------------


def test_join_presegmented() -> None:
    text, steps = join_presegmented(["a", "b c", "d"])
    assert text == "a\n\nb c\n\nd"
    assert [s.text for s in steps] == ["a\n\n", "b c\n\n", "d"]
    assert_tiles(text, steps)
    assert join_presegmented([]) == ("", ())


# --- Properties ---------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "\n", "\n\n", "\r\n", "\r", "\t", " ", "  ", "\x0b", "\x0c", "\u00a0", "\u2028", "\x85",
        ".", ". ", "!", ")", ":", ",", "é", "日本", "😀", "\udcff", "_", "2",
        *KEYWORDS, "await", "Butter", "Hold onto", "Waiting", "W", "B", "m",
    ]
)
ROLLOUTS = st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=40).map("".join)
MODES = st.sampled_from([BLANK, KEYWORD])


@given(ROLLOUTS, MODES)
def test_steps_tile_any_text(text: str, mode: SegmentationMode) -> None:
    assert_tiles(text, segment(text, mode))


@given(ROLLOUTS, MODES)
def test_steps_start_where_the_rules_say(text: str, mode: SegmentationMode) -> None:
    steps = segment(text, mode)
    starts = [step.char_start for step in steps[1:]]
    assert starts == reference_cuts(text, mode)
    for start in starts:
        assert text[start - 1].isspace(), "a step must begin after a separator"


@given(ROLLOUTS, MODES)
def test_segmentation_is_deterministic(text: str, mode: SegmentationMode) -> None:
    copy = "".join(list(text))
    assert segment(text, mode) == segment(copy, mode)


@given(st.lists(st.text(min_size=1, max_size=30), max_size=10))
def test_join_presegmented_round_trips(step_texts: list[str]) -> None:
    text, steps = join_presegmented(step_texts)
    assert text == PRESEGMENTED_SEPARATOR.join(step_texts)
    assert_tiles(text, steps, blank_ok=True)
    assert [s.text for s in steps[:-1]] == [t + PRESEGMENTED_SEPARATOR for t in step_texts[:-1]]
    if steps:
        assert steps[-1].text == step_texts[-1]


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=10))
def test_blank_line_segmentation_recovers_presegmented_steps(step_texts: list[str]) -> None:
    """Steps that hold no blank line and no outer whitespace come back unchanged."""
    clean = [t for t in step_texts if t == t.strip() and len(segment(t)) == 1]
    if clean:
        text, steps = join_presegmented(clean)
        assert segment(text) == steps
