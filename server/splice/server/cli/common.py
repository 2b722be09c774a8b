"""Helpers shared by the client-side commands: target flags and JSON output."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
from datetime import datetime
from typing import Any

DEFAULT_TARGET = "127.0.0.1:50051"


def add_target(p: argparse.ArgumentParser) -> None:
    """--target and --timeout."""
    p.add_argument("--target", default=DEFAULT_TARGET,
                   help=f"server address host:port (default {DEFAULT_TARGET})")
    p.add_argument("--timeout", type=float, default=120.0, help="deadline per call, seconds")


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums (by name) and datetimes as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """One JSON line."""
    return json.dumps(to_jsonable(value), ensure_ascii=False)
