"""The configured oracles of one server, built from settings through the registry."""

from __future__ import annotations

from splice.sdk.types import OracleDescription
from splice.server.config import OracleConfig
from splice.server.errors import InvalidArgumentError
from splice.server.oracles.base import Oracle
from splice.server.oracles.registry import build_oracle


class OracleSet:
    """Name → started oracle, plus the default."""

    def __init__(self, configs: dict[str, OracleConfig], default: str) -> None:
        if default not in configs:
            raise ValueError(
                f"default oracle {default!r} is not configured; configured: {', '.join(configs)}")
        self._configs = dict(configs)
        self._oracles = {name: build_oracle(name, c.backend, c.options)
                         for name, c in configs.items()}
        self.default = default

    async def start(self) -> None:
        """Start every oracle (worker pools, HTTP clients)."""
        for oracle in self._oracles.values():
            await oracle.start()

    async def aclose(self) -> None:
        """Close every oracle."""
        for oracle in self._oracles.values():
            await oracle.aclose()

    def find(self, name: str) -> Oracle | None:
        """The oracle called ``name``, or None."""
        return self._oracles.get(name)

    def get(self, name: str) -> Oracle:
        """The oracle called ``name`` (empty: the default); INVALID_ARGUMENT if unknown."""
        oracle = self._oracles.get(name or self.default)
        if oracle is None:
            raise InvalidArgumentError(
                "oracle", f"{name!r} is not configured on this server; "
                f"configured: {', '.join(sorted(self._oracles))}")
        return oracle

    def timeout_of(self, name: str) -> float:
        """Hard limit of one call of oracle ``name``."""
        return self._configs[name].timeout_s

    def describe(self) -> list[OracleDescription]:
        """What ListOracles shows."""
        return [o.describe(is_default=(n == self.default))
                for n, o in sorted(self._oracles.items())]
