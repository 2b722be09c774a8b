"""Name → oracle factory: built-ins, the ``splice.oracles`` entry points, dotted paths."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from splice.server.oracles.base import Oracle

OracleFactory = Callable[[str, Mapping[str, Any]], Oracle]
ENTRY_POINT_GROUP = "splice.oracles"

_BUILTINS: dict[str, str] = {
    "noop": "splice.server.oracles.noop:NoopOracle",
    "symbolic": "splice.server.oracles.symbolic:SymbolicOracle",
    "fake": "splice.server.oracles.fake:FakeOracle",
    "llm:anthropic": "splice.server.oracles.llm.oracle:AnthropicOracle",
    "llm:gemini": "splice.server.oracles.llm.oracle:GeminiOracle",
    "llm:openai": "splice.server.oracles.llm.oracle:OpenAIOracle",
    "cascade": "splice.server.oracles.llm.cascade:CascadeOracle",
    "human": "splice.server.oracles.human:HumanOracle",
    "world:arith": "splice.server.oracles.world_arith:WorldArithOracle",
}
_registered: dict[str, OracleFactory] = {}


class UnknownBackendError(LookupError):
    """No oracle backend is known under that name."""


def register_oracle(backend: str, factory: OracleFactory) -> None:
    """Register a factory (usually the Oracle subclass itself) under ``backend``."""
    _registered[backend] = factory


def _load_dotted(path: str) -> OracleFactory:
    module_name, _, attr = path.partition(":")
    if not attr:
        module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UnknownBackendError(f"cannot import oracle backend {path!r}: {exc}") from exc
    if not callable(factory):
        raise UnknownBackendError(f"oracle backend {path!r} is not callable")
    return factory  # type: ignore[no-any-return]


def resolve_backend(backend: str) -> OracleFactory:
    """Find the factory for ``backend``: registered, built-in, entry point, dotted path."""
    if backend in _registered:
        return _registered[backend]
    if backend in _BUILTINS:
        return _load_dotted(_BUILTINS[backend])
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == backend:
            return ep.load()  # type: ignore[no-any-return]
    if ":" in backend or "." in backend:
        return _load_dotted(backend)
    plugins = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    known = sorted({*_registered, *_BUILTINS, *plugins})
    raise UnknownBackendError(
        f"unknown oracle backend {backend!r}; known: {', '.join(known)}; "
        "or give a dotted path 'package.module:Class'"
    )


def build_oracle(name: str, backend: str, options: Mapping[str, Any]) -> Oracle:
    """Instantiate the oracle ``name`` of ``backend`` with its options."""
    oracle = resolve_backend(backend)(name, options)
    if not isinstance(oracle, Oracle):
        raise TypeError(f"backend {backend!r} built {type(oracle).__name__}, not an Oracle")
    return oracle
