"""Thin adapters to RL frameworks: a TRL reward function, a verl ``compute_score`` hook, and
exports of the hard set and patch set (JSONL, HF datasets, verl's parquet layout)."""

from splice.sdk.adapters.export import export_hard_set, export_patch_dataset
from splice.sdk.adapters.trl import HarvestingReward
from splice.sdk.adapters.verl import HarvestingComputeScore

__all__ = ["HarvestingComputeScore", "HarvestingReward", "export_hard_set",
           "export_patch_dataset"]
