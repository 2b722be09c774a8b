"""Helpers of the trainer tests (importable by spawned worker processes)."""

from __future__ import annotations

import time

from splice.trainer.rewards import math_reward


def slow_check(completion: str, reference: str) -> float:
    """math_reward, except that a completion containing SLOW never finishes in time."""
    if "SLOW" in completion:
        time.sleep(600)
    return math_reward(completion, reference)
