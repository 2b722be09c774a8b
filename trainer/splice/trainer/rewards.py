"""Outcome reward: math-verify on the last ``\\boxed{}`` against the reference answer.

Checking runs in a worker process with a hard time limit per completion: a pathological
answer (a tower of exponents, a 10^6-digit number) costs at most ``timeout_s`` and a
reward of 0, and never hangs a training step. :class:`MathReward` has TRL's reward-function
signature (``prompts, completions, **columns -> list[float]``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import re
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

STARTUP_TIMEOUT_S = 120.0


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces matched."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, begin = 1, i
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[begin:i]
        i += 1
    return None


def _as_boxed(answer: str) -> str:
    inner = last_boxed(answer)
    return f"\\boxed{{{inner if inner is not None else answer.strip().strip('$')}}}"


def math_reward(completion: str, reference_answer: str) -> float:
    """1.0 if the last boxed answer of ``completion`` equals ``reference_answer``, else 0.0.

    Runs in the calling process with no hard limit: use :class:`RewardWorker` in training.
    """
    from math_verify import parse, verify

    boxed = last_boxed(completion)
    if boxed is None or not reference_answer.strip():
        return 0.0
    gold = parse(_as_boxed(reference_answer))
    pred = parse(f"\\boxed{{{boxed}}}")
    return 1.0 if gold and pred and verify(gold, pred) else 0.0


_INTEGER = re.compile(r"-?\d+")


def _integer_verdict(boxed: str, reference: str) -> float | None:
    """The verdict when both answers are plain integers (exact, no sympy), else None."""
    a, b = boxed.strip().strip("$ "), reference.strip().strip("$ ")
    if _INTEGER.fullmatch(a) and _INTEGER.fullmatch(b):
        return 1.0 if int(a) == int(b) else 0.0
    return None


def _serve(conn: Connection, check: Callable[[str, str], float]) -> None:
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        completion, reference = item
        try:
            conn.send(float(check(completion, reference)))
        except Exception:
            conn.send(0.0)


class RewardWorker:
    """A persistent checker process; a completion over ``timeout_s`` gets 0 and a new worker.

    ``check`` (a picklable top-level function) defaults to :func:`math_reward`.
    Thread-safe (one check at a time); ``timeouts`` counts killed checks.
    """

    def __init__(self, timeout_s: float = 5.0,
                 check: Callable[[str, str], float] = math_reward) -> None:
        self.timeout_s = timeout_s
        self.check = check
        self.timeouts = 0
        self._lock = threading.Lock()
        self._ctx = mp.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            parent, child = self._ctx.Pipe()
            self._process = self._ctx.Process(target=_serve, args=(child, self.check), daemon=True,
                                              name="splice-reward")
            self._process.start()
            child.close()
            self._conn = parent
            # imports of sympy / math-verify happen here, outside any check's time limit
            parent.send(("\\boxed{1}", "1"))
            if not parent.poll(STARTUP_TIMEOUT_S):
                self._kill()
                raise RuntimeError("reward worker did not start")
            parent.recv()
        return self._conn

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None

    def score(self, completions: Sequence[str], references: Sequence[str]) -> list[float]:
        """Rewards of ``completions`` against ``references`` (pairwise)."""
        rewards = []
        # math_reward depends only on the boxed answer: k samples that box the same answer
        # are checked once (other checks are memoised on the whole completion).
        by_boxed = self.check is math_reward
        seen: dict[tuple[str, str], float] = {}
        with self._lock:
            for completion, reference in zip(completions, references, strict=True):
                boxed = last_boxed(completion)
                if boxed is None:
                    rewards.append(0.0)
                    continue
                key = (boxed if by_boxed else completion, reference)
                if key not in seen and by_boxed:
                    quick = _integer_verdict(boxed, reference)
                    if quick is not None:
                        seen[key] = quick
                if key not in seen:
                    seen[key] = self._check_one(
                        f"\\boxed{{{boxed}}}" if by_boxed else completion, reference)
                rewards.append(seen[key])
        return rewards

    def _check_one(self, completion: str, reference: str) -> float:
        conn = self._start()
        conn.send((completion, reference))
        if conn.poll(self.timeout_s):
            try:
                return float(conn.recv())
            except EOFError:
                pass
        self.timeouts += 1
        self._kill()
        return 0.0

    def close(self) -> None:
        """Stop the worker."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self._conn.send(None)
            if self._process is not None:
                self._process.join(timeout=2)
            self._kill()

    def __enter__(self) -> RewardWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def completion_text(completion: Any) -> str:
    """Text of a TRL completion: a string, or a list of chat messages (last one's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        return str(completion[-1].get("content", ""))
    return str(completion)


class MathReward:
    """TRL reward function: ``reward(prompts, completions, reference_answer=[...])``.

    The reference column is ``answer_column`` (default ``reference_answer``).
    """

    __name__ = "math_reward"

    def __init__(self, timeout_s: float = 5.0, answer_column: str = "reference_answer",
                 worker: RewardWorker | None = None) -> None:
        self.worker = worker or RewardWorker(timeout_s)
        self.answer_column = answer_column

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float]:
        references = [str(r) for r in columns[self.answer_column]]
        return self.worker.score([completion_text(c) for c in completions], references)

    def close(self) -> None:
        self.worker.close()
