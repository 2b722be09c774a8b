"""The handler's per-step loops in C (``_native.c``, compiled when splice is installed).

Segmentation, the store's step layout and the protobuf encoding of steps each run over every
step of every request. Their Python versions (in ``segmentation``, ``store._codec`` and
``responses``) define the behaviour; the C versions must agree with them exactly, which the
tests check. Without the compiled module, or with ``SPLICE_NATIVE=0`` in the environment,
the Python versions run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from splice.sdk.types import Step


class NativeModule(Protocol):
    """What ``_native`` provides."""

    def segment_steps(self, text: str, keywords: tuple[str, ...], step_type: type[Step],
                      /) -> tuple[Step, ...]:
        """Segmentation of a text: blank-line mode, or keyword mode given the keywords."""

    def steps_wire(self, steps: Sequence[Step], field_number: int, /) -> bytes:
        """``steps`` encoded as the repeated ``splice.v1.Step`` field ``field_number``."""

    def steps_layout(self, steps: Sequence[Step], /) -> str:
        """The store's layout JSON of ``steps``."""


API_VERSION = 2
"""The ``_native.c`` this Python expects (its ``API_VERSION``); a module built from another
version of the file (an old build left in a source tree) is not used."""


def load() -> NativeModule | None:
    """The compiled module, or None when it is not built, stale, or ``SPLICE_NATIVE=0``."""
    global PROBLEM
    if os.environ.get("SPLICE_NATIVE", "1").strip() == "0":
        PROBLEM = "SPLICE_NATIVE=0"
        return None
    try:
        from splice.server import _native  # type: ignore[attr-defined, unused-ignore]
    except ImportError as exc:
        PROBLEM = f"not built ({exc})"
        return None
    built = getattr(_native, "API_VERSION", 0)
    if built != API_VERSION:
        PROBLEM = (f"{_native.__file__} is API version {built}, not {API_VERSION}: "
                   "rebuild it (scripts/setup.sh, or pip install again)")
        return None
    PROBLEM = ""
    module: NativeModule = _native
    return module


PROBLEM = ""
"""Why the compiled module is not used ("" when it is); the server logs it at start-up."""
NATIVE = load()
"""The compiled hot path, if any; the server logs which one runs."""
