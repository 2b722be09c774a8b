"""LaTeX and plain-text math normalisation: math segments, sentences and offset-keeping tokens.

The tokenizer is deliberately small: anything it does not understand becomes a ``BAD`` token,
which makes the expression around it undecidable (the checker then abstains on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NUMBER_DIGITS = 400
"""Longer literals are not evaluated (guards the checker against pathological inputs)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A region of a step: LaTeX math (with the delimiter that closes it) or plain text."""

    start: int
    end: int
    latex: bool
    closer: str = ""


@dataclass(frozen=True, slots=True)
class Token:
    """One token with its span in the step text.

    Kinds: NUM, ID, CONST, OP (+ - * / ^ ! _), LP, RP, REL (= < > <= >= != approx equiv),
    FRAC, SQRT, BINOM, FUNC (a trigonometric function), PCT, DEG, SEP (clause separator),
    OR (a disjunction), BAD.
    """

    kind: str
    value: str
    start: int
    end: int


_DELIMS: tuple[tuple[str, str], ...] = (
    ("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"),
)
_ENV_RE = re.compile(r"\\begin\{(align\*?|aligned|equation\*?|gather\*?|eqnarray\*?)\}")


def find_segments(text: str) -> list[Segment]:
    """Split ``text`` into LaTeX math segments and the plain-text regions between them.

    An odd number of unescaped ``$`` means they are currency signs, not delimiters.
    """
    dollars = len(re.findall(r"(?<!\\)\$", text))
    use_dollar = dollars % 2 == 0
    out: list[Segment] = []
    i = plain_start = 0
    n = len(text)
    while i < n:
        m = _ENV_RE.match(text, i)
        if m:
            closer = f"\\end{{{m.group(1)}}}"
            end = text.find(closer, m.end())
            end = n if end < 0 else end
            if plain_start < i:
                out.append(Segment(plain_start, i, latex=False))
            out.append(Segment(m.end(), end, latex=True, closer=closer))
            i = plain_start = min(n, end + len(closer))
            continue
        opened = False
        for open_, close in _DELIMS:
            if not text.startswith(open_, i) or (open_[0] == "$" and not use_dollar):
                continue
            if open_[0] == "$" and i > 0 and text[i - 1] == "\\":
                continue
            end = text.find(close, i + len(open_))
            while close == "$" and end > 0 and text[end - 1] == "\\":
                end = text.find(close, end + 1)
            if end < 0:
                continue
            if plain_start < i:
                out.append(Segment(plain_start, i, latex=False))
            out.append(Segment(i + len(open_), end, latex=True, closer=close))
            i = plain_start = end + len(close)
            opened = True
            break
        if not opened:
            i += 1
    if plain_start < n:
        out.append(Segment(plain_start, n, latex=False))
    return out


_SENTENCE_END_RE = re.compile(r"(?:[.!]\$?(?=\s+[A-Z\\$])|\?|\n)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Approximate sentence spans (end-exclusive); only their word content is used."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


_COMMANDS: dict[str, tuple[str, str]] = {
    "times": ("OP", "*"), "cdot": ("OP", "*"), "ast": ("OP", "*"), "div": ("OP", "/"),
    "frac": ("FRAC", "frac"), "dfrac": ("FRAC", "frac"), "tfrac": ("FRAC", "frac"),
    "cfrac": ("FRAC", "frac"), "sqrt": ("SQRT", "sqrt"), "binom": ("BINOM", "binom"),
    "dbinom": ("BINOM", "binom"), "tbinom": ("BINOM", "binom"), "pi": ("CONST", "pi"),
    "sin": ("FUNC", "sin"), "cos": ("FUNC", "cos"), "tan": ("FUNC", "tan"),
    "cot": ("FUNC", "cot"), "sec": ("FUNC", "sec"), "csc": ("FUNC", "csc"),
    "%": ("PCT", "%"),
    "le": ("REL", "<="), "leq": ("REL", "<="), "leqslant": ("REL", "<="),
    "ge": ("REL", ">="), "geq": ("REL", ">="), "geqslant": ("REL", ">="),
    "lt": ("REL", "<"), "gt": ("REL", ">"), "ne": ("REL", "!="), "neq": ("REL", "!="),
    "approx": ("REL", "approx"), "equiv": ("REL", "equiv"),
    "Rightarrow": ("SEP", ""), "implies": ("SEP", ""), "Longrightarrow": ("SEP", ""),
    "rightarrow": ("SEP", ""), "to": ("SEP", ""), "iff": ("SEP", ""), "therefore": ("SEP", ""),
    "quad": ("SEP", ""), "qquad": ("SEP", ""), "\\": ("SEP", ""), "circ": ("DEG", ""),
    "degree": ("DEG", ""), "{": ("BAD", "{"), "}": ("BAD", "}"),
}
_IGNORED = frozenset({
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
    "displaystyle", "textstyle", ",", "!", ";", ":", " ", "$", "boxed", "nonumber", "notag",
})
_TEXT_CMDS = frozenset({"text", "textbf", "textit", "mathrm", "mbox", "textrm", "operatorname"})
_UNICODE: dict[str, tuple[str, str]] = {
    "×": ("OP", "*"), "·": ("OP", "*"), "⋅": ("OP", "*"), "÷": ("OP", "/"), "−": ("OP", "-"),
    "≤": ("REL", "<="), "≥": ("REL", ">="), "≠": ("REL", "!="), "≈": ("REL", "approx"),
    "⇒": ("SEP", ""), "→": ("SEP", ""), "°": ("DEG", ""), "π": ("CONST", "pi"),
}
_SEP_WORDS = frozenset({"and", "so", "then", "thus", "hence", "therefore", "where", "with"})
# Words that change the meaning of an adjacent number ("17 = 2 mod 5", "3 = 6 times ...").
MODIFIER_WORDS = frozenset({
    "mod", "modulo", "base", "times", "squared", "cubed", "percent", "thousand", "thousands",
    "million", "millions", "billion", "hundred", "hundreds", "dozen", "factorial", "choose",
    "over", "divided", "plus", "minus", "raised", "power", "root", "half", "twice", "double",
    "triple", "of", "th", "st", "nd", "rd", "digits", "digit", "remainder", "pmod", "bmod",
})
_DIGITS = frozenset("0123456789")
# Words that, just before a LaTeX segment, change the meaning of its first number.
LATEX_MODIFIER_WORDS = frozenset({
    "half", "twice", "double", "triple", "times", "mod", "modulo", "base", "percent",
    "thousand", "million", "billion", "hundred", "dozen", "over", "plus", "minus", "divided",
})
_NUM_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_THOUSANDS_LATEX_RE = re.compile(
    r"[0-9]{1,3}(?:(?:,|\{,\}|,\\!|\\,|\\ )[0-9]{3})+(?![0-9])(?:\.[0-9]+)?"
)
_THOUSANDS_PLAIN_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9]|,[0-9])(?:\.[0-9]+)?")
_WORD_RE = re.compile(r"[A-Za-z]+")
_CMD_RE = re.compile(r"\\([A-Za-z]+|.)")


def _read_group(text: str, i: int, end: int) -> int:
    """Index after the brace group opening at ``text[i] == '{'`` (or ``end``)."""
    depth = 0
    for j in range(i, end):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return end


def _number(text: str, i: int, end: int, latex: bool) -> tuple[str, int] | None:
    pat = _THOUSANDS_LATEX_RE if latex else _THOUSANDS_PLAIN_RE
    m = pat.match(text, i, end) or _NUM_RE.match(text, i, end)
    if not m:
        return None
    value = re.sub(r"[^\d.]", "", m.group(0))
    if value.endswith("."):
        value = value[:-1]
    return value, m.end()


_BARE_LATEX_RE = re.compile(r"\\[A-Za-z]+\s*\{|[\^_]\{")


def tokenize(text: str, start: int, end: int, *, latex: bool) -> list[Token]:
    """Tokens of ``text[start:end]``; offsets refer to ``text``.

    Plain text that uses LaTeX commands with braced arguments (``\\frac{1}{2} = 0.5`` without
    delimiters) keeps its braces as groups.
    """
    toks: list[Token] = []
    braces = latex or bool(_BARE_LATEX_RE.search(text, start, end))
    i = start
    while i < end:
        c = text[i]
        if c.isspace():
            if c == "\n" and not latex and (not toks or toks[-1].kind != "SEP"):
                toks.append(Token("SEP", "\n", i, i + 1))  # a line of plain text ends a clause
            i += 1
            continue
        if c in _DIGITS or (c == "." and i + 1 < end and text[i + 1] in _DIGITS):
            num = _number(text, i, end, latex)
            assert num is not None
            value, j = num
            kind = "NUM" if len(value) <= MAX_NUMBER_DIGITS else "BAD"
            if j < end and text[j] == "_":
                kind = "BAD"  # base-n numbers such as 58_9
            toks.append(Token(kind, value, i, j))
            i = j
            continue
        if c.isalpha() and c.isascii():
            m = _WORD_RE.match(text, i, end)
            assert m is not None
            word = m.group(0)
            if latex or len(word) == 1:
                # In LaTeX math adjacent letters are a product of one-letter variables.
                name, j = word[0], i + 1
                if j < end and text[j] == "_":
                    k = j + 1
                    if k < end and text[k] == "{":
                        stop = _read_group(text, k, end)
                        name += "_" + re.sub(r"\s", "", text[k + 1 : stop - 1])
                        j = stop
                    elif k < end:
                        name += "_" + text[k]
                        j = k + 1
                while j < end and text[j] == "'":
                    name += "'"
                    j += 1
                toks.append(Token("ID", name, i, j))
                i = j
                continue
            lower = word.lower()
            kind = "BAD" if lower in MODIFIER_WORDS else ("OR" if lower == "or" else "SEP")
            if kind == "SEP" and lower not in _SEP_WORDS:
                kind = "WORD"
            toks.append(Token(kind, lower, i, m.end()))
            i = m.end()
            continue
        if c == "\\":
            m = _CMD_RE.match(text, i, end)
            if m is None:
                toks.append(Token("BAD", "\\", i, i + 1))
                i += 1
                continue
            name, j = m.group(1), m.end()
            if name in _IGNORED or (name == "$" and not latex):
                i = j
                continue
            if name in _TEXT_CMDS and j < end and text[j] == "{":
                stop = _read_group(text, j, end)
                inner = text[j + 1 : stop - 1].strip().lower()
                kind = ("SEP" if inner in _SEP_WORDS or not inner.strip(" ,.;:")
                        else "OR" if inner == "or" else "BAD")
                toks.append(Token(kind, inner, i, stop))
                i = stop
                continue
            kind, value = _COMMANDS.get(name, ("BAD", name))
            if kind == "PCT" and text[j:end].lstrip()[:1].isalnum():
                kind = "BAD"  # 17 \% 5 is modulo
            if name in ("begin", "end") and j < end and text[j] == "{":
                j = _read_group(text, j, end)
                kind = "SEP"
            toks.append(Token(kind, value, i, j))
            i = j
            continue
        if c in _UNICODE:
            kind, value = _UNICODE[c]
            toks.append(Token(kind, value, i, i + 1))
            i += 1
            continue
        i = _punct(text, i, end, latex, toks, braces)
    return toks if latex else _run_together(_plain_is(toks))


_IS_WORDS = frozenset({"is", "equals", "gives", "makes"})


def _plain_is(toks: list[Token]) -> list[Token]:
    """Plain text "210 + 91 is 300": a computation, a verb, then a bare number ends a clause."""
    out = list(toks)
    for k in range(1, len(out) - 1):
        tok = out[k]
        if tok.kind != "WORD" or tok.value not in _IS_WORDS:
            continue
        j = k - 1
        has_op = False
        while j >= 0 and out[j].kind in ("NUM", "OP", "LP", "RP"):
            has_op = has_op or (out[j].kind == "OP" and out[j].value != "!" and j > 0
                                and out[j - 1].kind in ("NUM", "RP"))
            j -= 1
        right = out[k + 1 : k + 3]
        rest = right[1] if len(right) > 1 else None
        if (has_op and out[k - 1].kind in ("NUM", "RP") and right[0].kind == "NUM"
                and (rest is None or rest.kind == "SEP")):
            out[k] = Token("REL", "=", tok.start, tok.end)
    return out


def _run_together(toks: list[Token]) -> list[Token]:
    """Plain text "52x = 1170 117x = 1170 x = 10" (line breaks lost): one clause per relation.

    A value that follows another value after a space starts a new clause when relations
    stand both before and after it.
    """
    out: list[Token] = []
    for k, tok in enumerate(toks):
        prev = out[-1] if out else None
        if (prev is not None and tok.kind in ("NUM", "ID") and prev.end < tok.start
                and prev.kind in ("NUM", "ID", "RP") and _rel_in_clause(out, -1)
                and _rel_in_clause(toks[k:], 1)):
            out.append(Token("SEP", "", tok.start, tok.start))
        out.append(tok)
    return out


def _rel_in_clause(toks: list[Token], step: int) -> bool:
    """Whether a relation comes before the next separator (walking by ``step``)."""
    seq = reversed(toks) if step < 0 else iter(toks)
    for tok in seq:
        if tok.kind in ("SEP", "OR", "WORD"):
            return False
        if tok.kind == "REL":
            return True
    return False


def _punct(text: str, i: int, end: int, latex: bool, toks: list[Token], braces: bool) -> int:
    """Tokenize one punctuation character (or a two-character relation) at ``i``."""
    c = text[i]
    nxt = text[i + 1] if i + 1 < end else ""
    prev = toks[-1] if toks else None
    after_value = prev is not None and prev.end == i and prev.kind in ("NUM", "ID", "RP", "CONST")
    two = c + nxt
    if two in ("<=", ">=", "=="):
        toks.append(Token("REL", "=" if two == "==" else two, i, i + 2))
        return i + 2
    if c == "!":
        if after_value:
            toks.append(Token("OP", "!", i, i + 1))
        elif nxt == "=":
            toks.append(Token("REL", "!=", i, i + 2))
            return i + 2
        else:
            toks.append(Token("SEP", "!", i, i + 1))
        return i + 1
    if c in "+-*/^":
        toks.append(Token("OP", c, i, i + 1))
    elif c in "=<>":
        toks.append(Token("REL", c, i, i + 1))
    elif c in "([":
        toks.append(Token("LP", c, i, i + 1))
    elif c in ")]":
        toks.append(Token("RP", c, i, i + 1))
    elif c == "{":
        toks.append(Token("LP" if braces else "BAD", c, i, i + 1))
    elif c == "}":
        toks.append(Token("RP" if braces else "BAD", c, i, i + 1))
    elif c == "%":
        rest = text[i + 1 : end].lstrip()
        modulo = bool(rest) and (rest[0] in _DIGITS or rest[0].isalpha() or rest[0] == "(")
        toks.append(Token("BAD" if modulo else "PCT", "%", i, i + 1))  # 17 % 5 is modulo
    elif c in ",;":
        toks.append(Token("SEP", c, i, i + 1))
    elif c == "&":
        pass  # alignment marker
    elif c == ":":
        kind = "SEP" if (not nxt or nxt.isspace()) and not latex else "BAD"
        toks.append(Token(kind, c, i, i + 1))
    elif c in ".?\n":
        toks.append(Token("SEP", c, i, i + 1))
    elif c == "$":
        pass  # a currency sign
    else:
        toks.append(Token("BAD", c, i, i + 1))
    return i + 1
