"""Hashes as DVC keeps them: a file's md5, and the md5 a dvc.lock records for an output.

The model's md5 is its version everywhere: dvc.lock, the BentoML model tag, the service's
``model_version``, the prediction logs and the registry's lineage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml


def file_md5(path: Path) -> str:
    """The md5 of a file, as DVC computes it for dvc.lock."""
    digest = hashlib.md5()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def out_md5(lock: dict | None, path: str) -> str | None:
    """The md5 a dvc.lock (parsed) records for the output at ``path``."""
    for stage in ((lock or {}).get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("path") == path:
                return out.get("md5")
    return None


def read_lock(path: Path) -> dict | None:
    """A dvc.lock, parsed; None when there is none (or it is not a lock)."""
    try:
        lock = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, yaml.YAMLError):
        return None
    return lock if isinstance(lock, dict) else None


def locked_md5(lock_path: Path, path: Path) -> str | None:
    """The md5 the dvc.lock at ``lock_path`` records for the file at ``path``."""
    try:
        relative = path.resolve().relative_to(lock_path.parent.resolve())
    except ValueError:  # outside the lock's project
        return None
    return out_md5(read_lock(lock_path), relative.as_posix())
