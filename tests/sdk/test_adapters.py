"""Adapters: the TRL reward wrapper and the verl hook feed a real server; the exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from splice.sdk.adapters import (
    HarvestingComputeScore,
    HarvestingReward,
    export_hard_set,
    export_patch_dataset,
)
from splice.sdk.harvester import Harvester
from splice.server.testing import start_server_process

PROBLEM, REFERENCE = "What is 12 times 13?", "$12 \\times 13 = 156$, so \\boxed{156}."


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {"oracles": {"noop": {"backend": "noop"}}, "default_oracle": "noop"}
    server = start_server_process(settings, tmp_path_factory.mktemp("srv"))
    try:
        yield server.address
    finally:
        server.terminate()


def boxed_156(prompts: Any, completions: Any, **_: Any) -> list[float]:
    return [1.0 if "156" in c[-1]["content"] else 0.0 for c in completions]


def test_trl_reward_harvests_all_zero_groups(address: str) -> None:
    prompts = [[{"role": "user", "content": PROBLEM}]] * 2 + \
        [[{"role": "user", "content": "What is 2 times 3?"}]] * 2
    texts = ["\\boxed{146}", "\\boxed{147}", "\\boxed{6}", "\\boxed{156}"]
    completions = [[{"role": "assistant", "content": t}] for t in texts]

    class State:
        global_step = 4

    with Harvester(address, per_group=2) as harvester:
        reward = HarvestingReward(boxed_156, harvester)
        rewards = reward(prompts, completions, reference_solution=[REFERENCE] * 4,
                         problem_id=["p1", "p1", "p2", "p2"], trainer_state=State())
        assert rewards == [0.0, 0.0, 0.0, 1.0]
        assert reward.__name__ == "boxed_156"
        assert harvester.flush(60)
        stats = harvester.stats
    assert (stats.groups_seen, stats.groups_all_zero, stats.enqueued) == (2, 1, 2)
    assert (stats.finished, stats.failed) == (2, 0)


def test_verl_compute_score_harvests_complete_groups(address: str) -> None:
    def score(data_source: str, solution: str, truth: str, extra: Any) -> dict[str, float]:
        return {"score": 1.0 if f"{{{truth}}}" in solution else 0.0}

    with Harvester(address) as harvester:
        hook = HarvestingComputeScore(score, harvester, group_size=2)
        info = {"index": 0, "problem": PROBLEM, "reference_solution": REFERENCE}
        assert hook("toy", "\\boxed{146}", "156", info) == {"score": 0.0}
        assert harvester.stats.groups_seen == 0 and hook.pending_groups() == 1
        hook("toy", "\\boxed{145}", "156", info)
        hook("toy", "\\boxed{156}", "156", {**info, "index": 1})
        hook("toy", "\\boxed{1}", "156", {**info, "index": 1})
        assert harvester.flush(60)
        stats = harvester.stats
    assert (stats.groups_seen, stats.groups_all_zero, stats.finished) == (2, 1, 1)
    assert hook.pending_groups() == 0


PROBLEMS = [{"problem_id": f"p{k}", "problem": f"What is {k} times 2?",
             "reference_solution": f"\\boxed{{{2 * k}}}", "reference_answer": str(2 * k)}
            for k in range(3)]
EXAMPLES = [{"problem_id": "p1", "input_ids": [5, 6, 7, 8], "completion_mask": [0, 0, 1, 1]}]


def test_export_hard_set_in_three_formats(tmp_path: Path) -> None:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]
    from datasets import load_from_disk  # type: ignore[import-untyped]

    lines = export_hard_set(PROBLEMS, tmp_path / "hard.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == PROBLEMS
    assert load_from_disk(str(export_hard_set(PROBLEMS, tmp_path / "hard", "hf"))).to_list() \
        == PROBLEMS
    rows = pq.read_table(export_hard_set(PROBLEMS, tmp_path / "h.parquet", "verl")).to_pylist()
    assert list(rows[1]) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert rows[1]["prompt"] == [{"role": "user", "content": "What is 1 times 2?"}]
    assert rows[1]["reward_model"] == {"style": "rule", "ground_truth": "2"}
    assert rows[1]["extra_info"]["index"] == 1 and rows[1]["extra_info"]["problem_id"] == "p1"
    with pytest.raises(ValueError, match="format"):
        export_hard_set(PROBLEMS, tmp_path / "x", "csv")


def test_export_patch_dataset(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    def decode(ids: Any) -> str:
        return " ".join(map(str, ids))

    row = json.loads(export_patch_dataset(EXAMPLES, tmp_path / "p.jsonl", decode=decode)
                     .read_text())
    assert row == {**EXAMPLES[0], "response": "7 8"}
    path = export_patch_dataset(EXAMPLES, tmp_path / "p.parquet", "verl", problems=PROBLEMS,
                                decode=decode)
    (verl,) = pq.read_table(path).to_pylist()
    assert verl["prompt"][0]["content"] == "What is 1 times 2?"
    assert verl["extra_info"]["response"] == "7 8"
    assert verl["extra_info"]["input_ids"] == [5, 6, 7, 8]
