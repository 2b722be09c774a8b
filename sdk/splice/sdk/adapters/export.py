"""Export the hard set and the patch set as JSONL, an HF ``datasets`` folder, or verl's parquet.

verl's RL layout (one row per problem): ``data_source``, ``prompt`` (chat messages),
``ability``, ``reward_model`` (``{"style": "rule", "ground_truth": answer}``) and
``extra_info`` (``index``, ``problem_id``, ``problem``, ``reference_solution``, ...). A patch
example keeps its pre-tokenized ``input_ids`` / ``completion_mask`` in ``extra_info`` and, with
a ``decode`` function, its completion text as ``extra_info["response"]`` (verl's SFT reads
``prompt`` and ``extra_info.response``). ``datasets`` (and pyarrow) are needed only for the
``hf`` and ``verl`` formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "hf", "verl")
PROBLEM_FIELDS = ("problem_id", "problem", "reference_solution", "reference_answer")


def _problem(item: Any) -> dict[str, str]:
    get = item.get if isinstance(item, Mapping) else (lambda k, d="": getattr(item, k, d))
    return {k: str(get(k, "") or "") for k in PROBLEM_FIELDS}


def _verl_row(index: int, problem: Mapping[str, str], data_source: str, ability: str,
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"data_source": data_source,
            "prompt": [{"role": "user", "content": problem["problem"]}],
            "ability": ability,
            "reward_model": {"style": "rule", "ground_truth": problem["reference_answer"]},
            "extra_info": {"index": index, "split": "train", **problem, **(extra or {})}}


def _write(rows: Sequence[dict[str, Any]], path: Path, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path
    from datasets import Dataset  # type: ignore[import-untyped]

    data = Dataset.from_list(list(rows))
    if fmt == "hf":
        data.save_to_disk(str(path))
    else:
        data.to_parquet(str(path))
    return path


def export_hard_set(problems: Iterable[Any], path: Path, fmt: str = "jsonl", *,
                    data_source: str = "splice", ability: str = "math") -> Path:
    """Write the hard set (``Problem`` objects or mappings); ``fmt``: jsonl, hf or verl."""
    items = [_problem(p) for p in problems]
    rows = ([_verl_row(i, p, data_source, ability) for i, p in enumerate(items)]
            if fmt == "verl" else items)
    return _write(rows, Path(path), fmt)


def export_patch_dataset(examples: Iterable[Mapping[str, Any]], path: Path, fmt: str = "jsonl",
                         *, problems: Iterable[Any] = (),
                         decode: Callable[[Sequence[int]], str] | None = None,
                         data_source: str = "splice-patch", ability: str = "math") -> Path:
    """Write the patch set; ``problems`` (by ``problem_id``) fill verl's prompt and answer,
    ``decode`` (e.g. a tokenizer's) adds each completion's text."""
    by_id = {p["problem_id"]: p for p in map(_problem, problems)}
    rows = []
    for index, example in enumerate(examples):
        row = dict(example)
        start = len(row.get("completion_mask", [])) - sum(row.get("completion_mask", []))
        if decode is not None:
            row["response"] = decode(list(row["input_ids"])[start:])
        if fmt == "verl":
            problem = by_id.get(str(row.get("problem_id", "")),
                                _problem({"problem_id": row.get("problem_id", "")}))
            row = _verl_row(index, problem, data_source, ability, row)
        rows.append(row)
    return _write(rows, Path(path), fmt)
