"""Process checks from /proc for tests that kill servers: children, and alive or not."""

from __future__ import annotations


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (those its main thread started)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie that nobody reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
