"""Progress bars and end-of-stage tables (rich), quiet when ``enabled`` is false."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=True)


class Bar:
    """One task of a progress bar; ``advance`` also updates the free-text ``info`` field."""

    def __init__(self, progress: Progress | None, total: int, description: str) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=total, info="") if progress else None

    def advance(self, steps: int = 1, info: str = "") -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=steps, info=info)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Bar]:
    """A rich progress bar with a count, elapsed / remaining time and an info field."""
    if not enabled:
        yield Bar(None, total, description)
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        yield Bar(progress, total, description)


def print_table(title: str, rows: Sequence[Mapping[str, Any]], enabled: bool = True) -> None:
    """A short summary table (columns from the first row)."""
    if not enabled or not rows:
        return
    table = Table(title=title)
    for name in rows[0]:
        table.add_column(str(name))
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
