"""The ``symbolic`` oracle backend: sympy + math-verify claim checking in worker processes."""

from splice.server.oracles.symbolic.oracle import SymbolicOracle

__all__ = ["SymbolicOracle"]
