"""Hashes as DVC keeps them: a file's md5, and the md5 a dvc.lock records for an output.

The model's md5 is its version everywhere: dvc.lock, the BentoML model tag, the service's
``model_version``, the prediction logs and the registry's lineage.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


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
