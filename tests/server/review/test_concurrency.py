"""Reviewer processes crash (SIGKILL) and stall past their lease (SIGSTOP/SIGCONT) while
they claim and submit: every task finishes exactly once (N reviews with overlap N), none is
lost, none is held twice, and every submit sent after its lease ended is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.review.chaos import check_report, run_chaos


@pytest.mark.timeout(240)
def test_twenty_reviewers_thousand_tasks_postgres(pg_url: str, tmp_path: Path) -> None:
    report = run_chaos(pg_url, tmp_path, tasks=1000, workers=20, kills=15, pauses=15)
    check_report(report, tasks=1000, overlap=1)
    assert report.kills == 15 and report.pauses == 15
    assert report.notes["stale_late1"] > 0, "no paused reviewer came back to a stale lease"
    print(f"\n1000 tasks, 20 reviewers on PostgreSQL: {report.seconds:.1f} s, "
          f"{report.kills} kills, {report.pauses} pauses, {dict(report.notes)}")


@pytest.mark.timeout(180)
def test_reviewers_with_overlap_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chaos.db'}"
    report = run_chaos(url, tmp_path, tasks=200, workers=6, overlap=2, kills=5, pauses=8)
    check_report(report, tasks=200, overlap=2)
    assert report.notes["stale_late1"] > 0, "no paused reviewer came back to a stale lease"
    print(f"\n200 tasks x 2 reviews, 6 reviewers on SQLite: {report.seconds:.1f} s, "
          f"{dict(report.notes)}")
