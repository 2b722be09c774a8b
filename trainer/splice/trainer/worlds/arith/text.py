"""Problem text: sentence templates per operation, rendered and parsed back deterministically.

The templates are this world's own, so the oracle can recover a problem's spec from its text
alone (:func:`parse_problem`); ``render_problem(parse_problem(t)) == t`` for every generated
text.
"""

from __future__ import annotations

import re

from splice.trainer.worlds.arith.spec import Op, OpKind, ProblemSpec

NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emi", "Farid", "Gus", "Hana", "Ivo", "Jun", "Kemal",
         "Lena")
ITEMS = ("points", "coins", "stamps", "marbles", "cards", "beads", "shells", "tokens")

START = ("{name} has {a} {item}.", "{name} starts with {a} {item}.")
GROUPED_START = ("{name} has {a} boxes with {k} {item} each.",
                 "{name} has {a} bags of {k} {item}.")
OPS: dict[OpKind, tuple[str, ...]] = {
    OpKind.ADD: ("{name} earns {k} more {item}.", "Then {name} finds {k} {item}.",
                 "{name} gets {k} {item} as a gift."),
    OpKind.SUB: ("{name} gives away {k} {item}.", "Then {name} loses {k} {item}.",
                 "{name} spends {k} {item}."),
    OpKind.MUL: ("Then the number of {item} becomes {k} times as large.",
                 "A bonus multiplies {name}'s {item} by {k}."),
    OpKind.DIV: ("{name} splits the {item} into {k} equal piles and keeps one pile.",
                 "Then {name} divides the {item} into {k} equal groups and keeps one group."),
}
QUESTION = ("How many {item} does {name} have now?", "How many {item} does {name} have at the end?")


def _regex(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    for key, group in (("name", r"(?P<name>[A-Z][a-z]+)"), ("item", r"(?P<item>[a-z]+)"),
                       ("a", r"(?P<a>\d+)"), ("k", r"(?P<k>\d+)")):
        pattern = pattern.replace(re.escape("{" + key + "}"), group)
    return re.compile(pattern)


_START_RE = [_regex(t) for t in START]
_GROUPED_RE = [_regex(t) for t in GROUPED_START]
_OPS_RE = [(kind, i, _regex(t)) for kind, ts in OPS.items() for i, t in enumerate(ts)]
_QUESTION_RE = [_regex(t) for t in QUESTION]
_SENTENCE = re.compile(r"(?<=[.?])\s+")


def render_problem(spec: ProblemSpec) -> str:
    """The problem text of ``spec``; a leading multiplication is told as boxes of equal size."""
    fields = {"name": spec.name, "item": spec.item, "a": str(spec.start)}
    ops = list(spec.ops)
    if ops and ops[0].kind is OpKind.MUL:
        first = ops.pop(0)
        sentences = [GROUPED_START[first.variant % len(GROUPED_START)].format(
            **fields, k=first.operand)]
    else:
        sentences = [START[spec.start_variant % len(START)].format(**fields)]
    for op in ops:
        templates = OPS[op.kind]
        sentences.append(templates[op.variant % len(templates)].format(**fields, k=op.operand))
    sentences.append(QUESTION[spec.question_variant % len(QUESTION)].format(**fields))
    return " ".join(sentences)


def _match(patterns: list[re.Pattern[str]], sentence: str) -> tuple[int, re.Match[str]] | None:
    for i, pattern in enumerate(patterns):
        m = pattern.fullmatch(sentence)
        if m:
            return i, m
    return None


def parse_problem(text: str) -> ProblemSpec | None:
    """The spec that :func:`render_problem` rendered as ``text``; ``None`` if it is not ours."""
    sentences = _SENTENCE.split(text.strip())
    if len(sentences) < 3:
        return None
    question = _match(_QUESTION_RE, sentences[-1])
    grouped = _match(_GROUPED_RE, sentences[0])
    plain = None if grouped else _match(_START_RE, sentences[0])
    if question is None or (grouped or plain) is None:
        return None
    head = grouped or plain
    assert head is not None
    name, item = head[1]["name"], head[1]["item"]
    ops: list[Op] = []
    if grouped:
        ops.append(Op(OpKind.MUL, int(grouped[1]["k"]), grouped[0]))
    for sentence in sentences[1:-1]:
        for kind, variant, pattern in _OPS_RE:
            m = pattern.fullmatch(sentence)
            if m and m.groupdict().get("name", name) == name and m["item"] == item:
                ops.append(Op(kind, int(m["k"]), variant))
                break
        else:
            return None
    if question[1]["name"] != name or question[1]["item"] != item:
        return None
    spec = ProblemSpec(int(head[1]["a"]), tuple(ops), name, item,
                       plain[0] if plain else 0, question[0])
    return spec if spec.valid() else None
