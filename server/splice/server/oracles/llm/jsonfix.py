"""Lenient JSON for oracle answers: repairs what LLMs usually break, before ``json.loads``.

The repair always runs, not only when ``json.loads`` fails: ``"\\frac"`` is *valid* JSON (a
form feed followed by ``rac``), so a plain load would corrupt LaTeX silently. Inside
strings, a backslash that starts a known LaTeX command (``\\frac``, ``\\neq``, ``\\times``)
or an escape JSON does not have (``\\sqrt``, ``\\(``, ``\\{``) is doubled; JSON's own
escapes (``\\n``, ``\\"``, ``\\u00e9``) are kept. Also repaired: code fences, single-quoted
strings, trailing commas and Python's ``True``/``False``/``None``.

Known ambiguity: a real line break written as ``\\n`` right before a word that is a LaTeX
command (``"\\nabla"``) is read as the command, which is far more common in math answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

# LaTeX commands that start with n, r or t (JSON escapes that LLM text really uses); \b, \f
# and \u without four hex digits are always LaTeX: nobody means a backspace or form feed.
_LATEX_WORDS = """
    nabla natural ne nearrow neg negthinspace neq newcommand newline nexists ng ngeq ngtr ni
    nleq nless nmid nolimits nonumber norm not notin nparallel nprec nsim nsubseteq nsupseteq
    nu nwarrow
    rangle rceil rfloor rho right rightarrow rightharpoonup rightleftharpoons rm rvert rVert
    tan tanh tau tbinom text textbf textit textrm textstyle texttt tfrac th therefore theta
    thicksim tilde times to top triangle triangleleft triangleq triangleright tt
"""
_LATEX_COMMANDS = frozenset(_LATEX_WORDS.split())
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_LETTERS = re.compile(r"[A-Za-z]+")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?|\n?\s*```\s*$")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


class JsonRepairError(ValueError):
    """The text is not JSON, even after repairs."""


def loads_lenient(text: str) -> Any:
    """Parse ``text`` as JSON after the repairs described in the module docstring."""
    fixed = repair(strip_fences(text))
    try:
        return json.loads(fixed, strict=False)
    except json.JSONDecodeError as exc:
        raise JsonRepairError(f"not JSON after repairs: {exc.msg} at char {exc.pos}") from exc


def strip_fences(text: str) -> str:
    """Remove a surrounding Markdown code fence (```json ... ```)."""
    return _FENCE.sub("", text.strip())


def _fix_escape(text: str, i: int, out: list[str]) -> int:
    """Handle the backslash at ``text[i]`` inside a string; return the next index."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if nxt in ('"', "\\", "/"):
        out.append("\\" + nxt)
        return i + 2
    if nxt == "u" and _HEX4.match(text, i + 2):
        out.append(text[i:i + 6])
        return i + 6
    if nxt in "nrt":
        run = _LETTERS.match(text, i + 1)
        if run is None or run.group(0) not in _LATEX_COMMANDS:
            out.append("\\" + nxt)  # a real \n, \r or \t escape
            return i + 2
    out.append("\\\\")  # LaTeX or an escape JSON lacks: keep the backslash as text
    return i + 1


def _closes_single(text: str, i: int) -> bool:
    """Whether the ``'`` at ``i`` ends a single-quoted string (not an apostrophe)."""
    j = i + 1
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    return j >= len(text) or text[j] in ",:}]"


def repair(text: str) -> str:
    """Rewrite ``text`` into strict JSON where it can; see the module docstring."""
    out: list[str] = []
    i, n = 0, len(text)
    quote = ""  # the quote character of the string we are in, "" outside strings
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                if quote == "'" and i + 1 < n and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                i = _fix_escape(text, i, out)
                continue
            if c == quote and (quote == '"' or _closes_single(text, i)):
                out.append('"')
                quote = ""
            elif c == '"':  # a double quote inside a single-quoted string
                out.append('\\"')
            else:
                out.append(c)
            i += 1
            continue
        if c in "\"'":
            quote = c
            out.append('"')
            i += 1
            continue
        if c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                i += 1  # trailing comma
                continue
        if c.isalpha():
            run = _LETTERS.match(text, i)
            assert run is not None
            word = run.group(0)
            out.append(_PY_LITERALS.get(word, word))
            i = run.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)
