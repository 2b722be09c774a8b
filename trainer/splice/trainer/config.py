"""Run configuration: one dataclass per stage, loaded from YAML, overridable as ``a.b=value``."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from splice.trainer.collect import CollectConfig
from splice.trainer.counterfactual import FilterConfig
from splice.trainer.evaluate import EvalConfig
from splice.trainer.grpo import GRPOStageConfig
from splice.trainer.mine import MineConfig
from splice.trainer.patch import PatchDataConfig
from splice.trainer.sft import SFTStageConfig

T = TypeVar("T")


@dataclass
class RunConfig:
    """Everything one ``splice-train run`` needs; stage sections default to the paper."""

    run_dir: str
    model: str
    problems: str
    eval_problems: str = ""
    device: str = "cpu"
    engine_batch_size: int = 64
    show_progress: bool = True
    mine: MineConfig = field(default_factory=MineConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    patch: PatchDataConfig = field(default_factory=PatchDataConfig)
    sft: SFTStageConfig = field(default_factory=SFTStageConfig)
    grpo: GRPOStageConfig = field(default_factory=GRPOStageConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)

    @property
    def root(self) -> Path:
        return Path(self.run_dir)


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; nested sections recurse, unknown keys fail."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} in {where or cls.__name__}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            values[name] = from_dict(hint, value or {}, f"{where}{name}.")
        else:
            values[name] = _coerce(hint, value, f"{where}{name}")
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        if option is float and isinstance(value, int | float | str) and \
                not isinstance(value, bool):
            try:
                return float(value)  # YAML reads 1e-6 (no dot) as a string
            except ValueError:
                continue
        if option in (int, str, bool) and type(value) is option:
            return value
        origin = typing.get_origin(option) or option
        if origin in (list, dict) and isinstance(value, origin):
            return value
    raise ValueError(f"{where}: {value!r} is not a {hint}")


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a raw config dict."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        *path, last = key.strip().split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(raw)
    return data


def load_config(path: Path, overrides: Sequence[str] = ()) -> RunConfig:
    """The run configuration of a YAML file, with overrides applied."""
    data = yaml.safe_load(path.read_text()) or {}
    return from_dict(RunConfig, apply_overrides(data, overrides))


def dump_config(config: RunConfig) -> str:
    """YAML of a configuration (as stored in the run directory)."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
