"""The shipped base policy of the arith world: a checkpoint folder with a checksummed manifest.

``manifest.json`` records how the checkpoint was built (seed, world config, hyper-parameters,
data size, wall time, library versions, the build script's git commit) and the sha256 of
every other file. :func:`load_base_policy` checks every checksum before loading, so a
checkpoint that was modified, truncated or half-copied never runs silently.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = Path(__file__).with_name("checkpoint")
"""Where the base policy is committed."""
MANIFEST = "manifest.json"


class ChecksumError(RuntimeError):
    """A checkpoint file is missing or differs from its manifest."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_files(folder: Path) -> list[Path]:
    """The files a manifest covers: every file in ``folder`` except the manifest itself."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``info`` plus the sha256 of every checkpoint file to ``folder/manifest.json``."""
    manifest = {**info, "sha256": {p.name: file_sha256(p) for p in checkpoint_files(folder)}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The manifest of the checkpoint in ``folder`` (default: the shipped one)."""
    path = (folder or CHECKPOINT_DIR) / MANIFEST
    if not path.is_file():
        raise ChecksumError(f"{path} is missing: not a built base policy")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def verify_checkpoint(folder: Path | None = None) -> dict[str, Any]:
    """Check every file against the manifest; returns the manifest, raises ChecksumError."""
    folder = folder or CHECKPOINT_DIR
    manifest = read_manifest(folder)
    expected: dict[str, str] = manifest.get("sha256", {})
    if not expected:
        raise ChecksumError(f"{folder / MANIFEST} lists no checksums")
    problems = []
    for name, want in sorted(expected.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif (got := file_sha256(path)) != want:
            problems.append(f"{name}: sha256 {got[:12]}… differs from manifest {want[:12]}…")
    unlisted = [p.name for p in checkpoint_files(folder) if p.name not in expected]
    problems.extend(f"{name}: not in the manifest" for name in unlisted)
    if problems:
        raise ChecksumError(f"base policy at {folder} fails its checksums "
                            f"(rebuild with scripts/build_base_policy.py): " + "; ".join(problems))
    return manifest


def load_base_policy(path: str | Path | None = None, verify: bool = True,
                     device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) of the base policy at ``path`` (default: the shipped checkpoint).

    With ``verify`` every file's sha256 is checked first (:class:`ChecksumError` on a
    mismatch). The model is in eval mode on ``device``.
    """
    from splice.trainer.hf_engine import load_policy

    folder = Path(path) if path is not None else CHECKPOINT_DIR
    if verify:
        verify_checkpoint(folder)
    return load_policy(folder, device)
