"""Nothing lost when a run fails: the last good outputs come back exactly as they were.

Before a run, the small files that describe the last good run (dvc.lock, data.dvc, schema.yaml,
the metrics, plots and reports that git tracks instead of DVC's cache, and report.md/gate.json)
are read into memory. When the run fails, in preflight or in any stage, they are written back,
and DVC's own ``checkout`` restores the cached outputs (model, train/test sets, HTML reports)
that the restored dvc.lock records. The user's data itself is never touched.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dvc.exceptions import DvcException
from dvc.repo import Repo

ALWAYS = (
    "dvc.lock",
    "data.dvc",
    "schema.yaml",
    "reports/report.md",
    "reports/gate.json",
    "reports/baseline.json",
    "reports/timings",
)


def protected_paths(repo: Repo) -> list[Path]:
    """The files to keep: ALWAYS, plus every stage output DVC does not cache (directories walked)."""
    root = Path(repo.root_dir)
    paths = [root / name for name in ALWAYS]
    for stage in repo.index.stages:
        for out in stage.outs:
            if not out.use_cache:
                paths.append(Path(out.fs_path))
    return paths


@dataclass(frozen=True)
class Saved:
    """Bytes of the kept files (None where absent), and the kept directories."""

    files: dict[Path, bytes | None]
    directories: tuple[Path, ...]


def snapshot(paths: list[Path]) -> Saved:
    """Read every kept file; a directory stands for every file under it."""
    directories = tuple(path for path in paths if path.is_dir())
    files = {path: path.read_bytes() if path.is_file() else None for path in paths if path not in directories}
    for directory in directories:
        files.update({file: file.read_bytes() for file in directory.rglob("*") if file.is_file()})
    return Saved(files, directories)


def restore(saved: Saved) -> None:
    """Put every kept file back as it was: rewritten, or removed where it did not exist."""
    for directory in saved.directories:
        for file in directory.rglob("*"):
            if file.is_file() and file not in saved.files:
                file.unlink()
    for path, data in saved.files.items():
        if data is None and path.is_dir():  # a folder the failed run created (reports/timings)
            shutil.rmtree(path)
        elif data is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def cached_outputs(repo: Repo) -> list[str]:
    """The stage outputs DVC caches (model, train/test sets, HTML reports) present in the workspace."""
    return [
        str(out.fs_path)
        for stage in repo.index.stages
        if stage.cmd
        for out in stage.outs
        if out.use_cache and Path(out.fs_path).exists()
    ]


def checkout(root: Path, outputs: list[str]) -> None:
    """``dvc checkout`` of these outputs as dvc.lock records them (says what it could not)."""
    with Repo(str(root)) as repo:
        try:
            repo.checkout(targets=outputs, force=True)
        except DvcException as error:  # e.g. outputs missing from the cache (after `dvc gc`)
            print(f"warning: some cached outputs could not be restored: {error}", file=sys.stderr)


@contextmanager
def kept_on_failure(root: Path) -> Iterator[Saved]:
    """Restore the last good outputs if the block raises; re-raise with what was restored."""
    with Repo(str(root)) as repo:
        saved = snapshot(protected_paths(repo))
        outputs = cached_outputs(repo)  # a fresh clone has none yet: nothing to bring back
    try:
        yield saved
    except BaseException:
        restore(saved)
        if outputs and saved.files.get(root / "dvc.lock") is not None:
            checkout(root, outputs)
        raise
