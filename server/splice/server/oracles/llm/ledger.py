"""Every provider attempt and what it cost; per-client budgets checked before a call.

:class:`Ledger` is the interface; the server uses the durable one of its store
(``splice.server.store.attempts.open_ledger``: an ``oracle_attempts`` table) and
:class:`MemoryLedger` is the in-process default. One ledger is shared by all LLM oracles of
a process, and so are its reservations of calls in flight: a budget spans them all.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call (or one refused before it was sent), as stored."""

    request_id: str
    client_id: str
    oracle: str
    model: str
    purpose: str
    """``intervene`` or ``categorize``."""
    sample: int
    """Which of the ``samples`` verdicts (0-based)."""
    attempt: int
    """1 for the first try, 2 for the first retry, ..."""
    started_at: datetime
    latency_ms: float
    outcome: str
    """``ok`` or an ``ErrorKind`` value (``rate_limited``, ``server``, ...)."""
    http_status: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str = ""
    prompt_version: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Spend:
    """Totals over a period."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.calls + other.calls, self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens, self.cost_usd + other.cost_usd)

    @classmethod
    def of(cls, rows: Iterable[Attempt]) -> Spend:
        """Totals of ``rows`` (refused-before-sending attempts are not calls)."""
        rows = list(rows)
        return cls(calls=sum(1 for a in rows if a.outcome != "unavailable"),
                   input_tokens=sum(a.input_tokens for a in rows),
                   output_tokens=sum(a.output_tokens for a in rows),
                   cost_usd=sum(a.cost_usd for a in rows))


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Totals of one client on one oracle."""

    client_id: str
    oracle: str
    spend: Spend


class Ledger(abc.ABC):
    """Where attempts are recorded and spend is summed; also holds calls in flight."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, float]] = {}

    def held(self, client_id: str) -> tuple[int, float]:
        """Tokens and USD reserved by ``client_id``'s calls in flight in this process."""
        return self._held.get(client_id, (0, 0.0))

    def hold(self, client_id: str, tokens: int, usd: float) -> None:
        """Reserve an estimate for a call about to be sent."""
        held_tokens, held_usd = self.held(client_id)
        self._held[client_id] = (held_tokens + tokens, held_usd + usd)

    def unhold(self, client_id: str, tokens: int, usd: float) -> None:
        """Release a reservation once the call's attempts are recorded."""
        if client_id not in self._held:
            return
        held_tokens, held_usd = self._held[client_id]
        left = (held_tokens - tokens, held_usd - usd)
        if left[0] <= 0 and left[1] <= 1e-12:
            del self._held[client_id]
        else:
            self._held[client_id] = left

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""

    @abc.abstractmethod
    async def record(self, attempt: Attempt) -> None:
        """Durably record one attempt."""

    @abc.abstractmethod
    async def attempts(self, request_id: str) -> list[Attempt]:
        """Attempts made for ``request_id``, in order."""

    @abc.abstractmethod
    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        """Totals of ``client_id`` (None: everyone) since ``since``."""

    @abc.abstractmethod
    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        """Totals per (client, oracle) since ``since``, optionally of one client or oracle."""


def group_totals(rows: Iterable[Attempt]) -> list[UsageRow]:
    """``rows`` summed per (client, oracle), sorted."""
    groups: dict[tuple[str, str], list[Attempt]] = {}
    for a in rows:
        groups.setdefault((a.client_id, a.oracle), []).append(a)
    return [UsageRow(c, o, Spend.of(g)) for (c, o), g in sorted(groups.items())]


class MemoryLedger(Ledger):
    """In-process ledger (lost at restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Attempt] = []

    async def record(self, attempt: Attempt) -> None:
        self.rows.append(attempt)

    async def attempts(self, request_id: str) -> list[Attempt]:
        return [a for a in self.rows if a.request_id == request_id]

    async def spent(self, client_id: str | None, since: datetime) -> Spend:
        return Spend.of(a for a in self.rows if a.started_at >= since
                        and (client_id is None or a.client_id == client_id))

    async def totals(self, client_id: str | None, oracle: str | None,
                     since: datetime) -> list[UsageRow]:
        return group_totals(a for a in self.rows if a.started_at >= since
                            and client_id in (None, a.client_id) and oracle in (None, a.oracle))


_shared: Ledger = MemoryLedger()


def shared_ledger() -> Ledger:
    """The process-wide ledger used by oracles that are not given one."""
    return _shared


def set_shared_ledger(ledger: Ledger) -> None:
    """Replace the process-wide ledger (e.g. with a store-backed one at server start)."""
    global _shared
    _shared = ledger


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits per UTC day; None means no limit."""

    tokens_per_day: int | None = None
    usd_per_day: float | None = None

    @classmethod
    def from_options(cls, value: Mapping[str, Any]) -> Budget:
        """From ``{"tokens_per_day": ..., "usd_per_day": ...}``."""
        tokens, usd = value.get("tokens_per_day"), value.get("usd_per_day")
        return cls(tokens_per_day=int(tokens) if tokens is not None else None,
                   usd_per_day=float(usd) if usd is not None else None)


class BudgetExceeded(Exception):
    """A client is over a budget; the message names the budget."""


def start_of_day(now: datetime | None = None) -> datetime:
    """Midnight UTC of ``now``'s day."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class BudgetGuard:
    """Refuses a call when spent + in flight + this call's estimate would pass a budget."""

    def __init__(self, ledger: Ledger, budgets: Mapping[str, Budget]) -> None:
        self.ledger = ledger
        self.budgets = dict(budgets)

    def budget_of(self, client_id: str) -> tuple[str, Budget] | None:
        """The budget that applies to ``client_id`` (its own, else ``*``) and its name."""
        for key in (client_id, "*"):
            if key in self.budgets:
                return key, self.budgets[key]
        return None

    async def reserve(self, client_id: str, tokens: int, usd: float) -> None:
        """Check and reserve an estimate; raise :class:`BudgetExceeded` when over."""
        found = self.budget_of(client_id)
        if found is None:
            return
        key, budget = found
        spent = await self.ledger.spent(client_id, start_of_day())
        held_tokens, held_usd = self.ledger.held(client_id)
        name = f"budget {key!r} of client {client_id!r}"
        if budget.tokens_per_day is not None and \
                spent.tokens + held_tokens + tokens > budget.tokens_per_day:
            raise BudgetExceeded(
                f"{name}: {spent.tokens} tokens used today, {held_tokens} in flight, this call "
                f"needs up to {tokens}; the limit is {budget.tokens_per_day} tokens per day")
        if budget.usd_per_day is not None and \
                spent.cost_usd + held_usd + usd > budget.usd_per_day:
            raise BudgetExceeded(
                f"{name}: ${spent.cost_usd:.4f} spent today, ${held_usd:.4f} in flight, this "
                f"call may cost ${usd:.4f}; the limit is ${budget.usd_per_day:.2f} per day")
        self.ledger.hold(client_id, tokens, usd)

    async def check_spent(self, client_id: str) -> None:
        """Raise :class:`BudgetExceeded` if the client has already used up its budget."""
        found = self.budget_of(client_id)
        if found is None:
            return
        key, budget = found
        spent = await self.ledger.spent(client_id, start_of_day())
        name = f"budget {key!r} of client {client_id!r}"
        if budget.tokens_per_day is not None and spent.tokens >= budget.tokens_per_day:
            raise BudgetExceeded(f"{name}: {spent.tokens} of {budget.tokens_per_day} tokens "
                                 "per day used")
        if budget.usd_per_day is not None and spent.cost_usd >= budget.usd_per_day:
            raise BudgetExceeded(f"{name}: ${spent.cost_usd:.4f} of ${budget.usd_per_day:.2f} "
                                 "per day spent")

    def release(self, client_id: str, tokens: int, usd: float) -> None:
        """Release a reservation once the attempt is recorded in the ledger."""
        if self.budget_of(client_id) is not None:
            self.ledger.unhold(client_id, tokens, usd)
