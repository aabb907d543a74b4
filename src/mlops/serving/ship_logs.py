"""Copy closed prediction and feedback log files to an fsspec URL, under the same relative paths.

The service ships each file it closes when PREDICTION_LOG_URL is set; this command ships whatever is
not there yet (files closed before a restart, or all of them from a cron job or a sidecar):

    python -m mlops.serving.ship_logs [--dir monitoring] s3://bucket/monitoring

A file is copied when the URL has no file of that path and size. Files still being written are
skipped. s3://, gs:// and az:// need s3fs, gcsfs or adlfs (``pip install 'dvc[s3]'`` etc. bring them).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from mlops.errors import UserError, cli
from mlops.serving.prediction_log import closed_files

logger = logging.getLogger(__name__)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and base path of ``url``; a UserError when its protocol is unusable."""
    import fsspec

    try:
        fs, base = fsspec.core.url_to_fs(url)
    except ImportError as error:
        raise UserError(
            f"{url!r} needs a package that is not installed ({error}): install it (s3fs, gcsfs or adlfs; "
            "`pip install 'dvc[s3]'` etc. bring them), or use another URL."
        )
    except ValueError as error:
        raise UserError(f"{url!r} is not a URL fsspec knows ({error}): fix it.")
    return fs, base.rstrip("/")


def copy_files(paths: list[Path], directory: Path, url: str) -> list[Path]:
    """Copy each file to ``url`` under its path relative to ``directory``; the files that failed."""
    from fsspec.implementations.local import LocalFileSystem

    fs, base = filesystem(url)
    failed = []
    for path in paths:
        target = f"{base}/{path.relative_to(directory).as_posix()}"
        try:
            if isinstance(fs, LocalFileSystem):  # object stores have no directories to make
                fs.makedirs(fs._parent(target), exist_ok=True)
            fs.put_file(str(path), target)
        except Exception as error:  # any backend's failure: keep the file for the next try
            failed.append(path)
            last = error
    if failed:
        logger.warning(
            "could not ship %d log file(s) to %s (%s: %s); trying again at the next rotation",
            len(failed),
            url,
            type(last).__name__,
            last,
        )
    return failed


def missing_files(directory: Path, url: str) -> list[Path]:
    """The closed files under ``directory`` that ``url`` lacks, or holds with another size."""
    fs, base = filesystem(url)
    try:
        there = {path: info["size"] for path, info in fs.find(base, detail=True).items()}
    except FileNotFoundError:
        there = {}
    return [
        path
        for path in closed_files(directory)
        if there.get(f"{base}/{path.relative_to(directory).as_posix()}") != path.stat().st_size
    ]


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("url", help="where to copy: s3://…, gs://…, az://…, file:///path or a path")
    parser.add_argument("--dir", type=Path, default=Path("monitoring"), help="the log directory")
    args = parser.parse_args()
    if not args.dir.is_dir():
        raise UserError(f"{args.dir} is not a directory: pass the service's PREDICTION_LOG_DIR with --dir.")
    todo = missing_files(args.dir, args.url)
    failed = copy_files(todo, args.dir, args.url)
    if failed:
        raise UserError(f"{len(failed)} of {len(todo)} file(s) could not be copied to {args.url}; see above.")
    print(f"shipped {len(todo)} file(s) from {args.dir} to {args.url}")


if __name__ == "__main__":
    main()
