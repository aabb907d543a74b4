"""What the main branch has committed: the baseline a change is compared with."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import yaml

DEFAULT_REF = "main"


def resolve_ref(name: str | None = None) -> str | None:
    """The baseline commit-ish: $BASELINE_REF or main, else origin/<it>; None if neither exists."""
    name = name or os.environ.get("BASELINE_REF") or DEFAULT_REF
    for candidate in (name, f"origin/{name}"):
        if _git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}") is not None:
            return candidate
    return None


def read_json(ref: str | None, path: str) -> Any:
    """A JSON file as committed at ``ref``, or None when it is not there."""
    text = show(ref, path)
    return json.loads(text) if text else None


def read_yaml(ref: str | None, path: str) -> Any:
    """A YAML file as committed at ``ref``, or None when it is not there."""
    text = show(ref, path)
    return yaml.safe_load(text) if text else None


def show(ref: str | None, path: str) -> str | None:
    return None if ref is None else _git("show", f"{ref}:{path}")


def commit(ref: str = "HEAD") -> str | None:
    """The full commit hash of ``ref``, or None outside a git repository or before the first commit."""
    return _git("rev-parse", ref)


def is_dirty() -> bool:
    """Whether tracked files differ from HEAD."""
    return bool(_git("status", "--porcelain", "--untracked-files=no"))


def _git(*args: str) -> str | None:
    result = subprocess.run(["git", *args], capture_output=True, text=True, encoding="utf-8", check=False)
    return result.stdout.strip() if result.returncode == 0 else None
