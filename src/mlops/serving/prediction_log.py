"""Bounded prediction and feedback logs: JSON lines in files rotated by size and age, the directory capped.

Layout (``mlops.monitoring`` reads it): ``<dir>/<kind>/<YYYY-MM-DD>/<HHMMSS>-<host>-<pid>-<seq>.jsonl``, where
kind is ``predictions`` or ``feedback`` and the date and time are UTC, when the file was opened. Each
process writes its own files and holds an flock on the one it is writing, so that other processes
(the cap, ``ship_logs``) tell open files from closed ones. Writing a line is one unbuffered write
under a lock; what may be slow (closing idle files, shipping, the cap) runs in a background thread.

Settings come from environment variables (see ``ENV``), checked at startup.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from mlops.errors import UserError

KINDS = ("predictions", "feedback")
MB = 1024 * 1024
# Variable: (default, what it must be, the setting it becomes).
ENV = {
    "PREDICTION_LOG_MAX_FILE_MB": ("64", "a positive number of megabytes", "max_file_bytes"),
    "PREDICTION_LOG_ROTATE_MINUTES": ("60", "a positive number of minutes", "rotate_seconds"),
    "PREDICTION_LOG_MAX_TOTAL_MB": ("1024", "a positive number of megabytes", "max_total_bytes"),
    "PREDICTION_LOG_MAX_VALUE_CHARS": ("256", "a positive whole number of characters", "max_value_chars"),
}
SCALE = {"max_file_bytes": MB, "rotate_seconds": 60, "max_total_bytes": MB, "max_value_chars": 1}
MAX_TICK_SECONDS = 30.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogSettings:
    directory: Path = Path("monitoring")
    max_file_bytes: int = 64 * MB
    rotate_seconds: float = 3600.0
    max_total_bytes: int = 1024 * MB
    max_value_chars: int = 256
    url: str | None = None  # where closed files are shipped (an fsspec URL or a path)


def settings_from_env(env: Mapping[str, str]) -> LogSettings:
    """The log settings the environment asks for; a UserError naming the variable for a bad value."""
    values: dict[str, Any] = {}
    for name, (default, kind, setting) in ENV.items():
        raw = env.get(name, "").strip() or default
        values[setting] = _positive(name, raw, kind, default) * SCALE[setting]
    values["max_file_bytes"] = max(1, int(values["max_file_bytes"]))
    values["max_total_bytes"] = int(values["max_total_bytes"])
    values["max_value_chars"] = int(values["max_value_chars"])
    if values["max_total_bytes"] < values["max_file_bytes"]:
        raise UserError(
            f"PREDICTION_LOG_MAX_TOTAL_MB ({values['max_total_bytes'] / MB:g}) is smaller than "
            f"PREDICTION_LOG_MAX_FILE_MB ({values['max_file_bytes'] / MB:g}): set the total to at least "
            "the size of a few files."
        )
    directory = Path(env.get("PREDICTION_LOG_DIR", "").strip() or "monitoring")
    return LogSettings(directory=directory, url=env.get("PREDICTION_LOG_URL", "").strip() or None, **values)


def _positive(name: str, raw: str, kind: str, default: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    whole = "whole" not in kind or value.is_integer()
    if not (math.isfinite(value) and value > 0 and whole):
        raise UserError(
            f"{name}={raw!r} is not {kind}: set it to one, such as {default} (the default), or unset it."
        )
    return value


def relative_path(kind: str, opened: datetime, writer: str, seq: int) -> str:
    """A file's path under the log directory: by UTC date, named by UTC time, writer and sequence."""
    return f"{kind}/{opened:%Y-%m-%d}/{opened:%H%M%S}-{writer}-{seq}.jsonl"


def writer_name(host: str, pid: int) -> str:
    """Host and process: replicas whose workers have the same pid (containers) never share a name."""
    return f"{re.sub(r'[^A-Za-z0-9]+', '_', host)}-{pid}"


def truncate(
    rows: list[dict[str, Any]], columns: Iterable[str], max_chars: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows with text values cut to ``max_chars`` (copies; the input is kept), and the columns cut.

    Returns ``rows`` itself when nothing is too long."""
    out, cut = rows, {}
    for column in columns:
        values = list(map(itemgetter(column), rows))
        if max(map(len, filter(None, values)), default=0) <= max_chars:  # the fast, usual case
            continue
        for i, value in enumerate(values):
            if value is not None and len(value) > max_chars:
                if out is rows:
                    out = list(rows)
                if out[i] is rows[i]:
                    out[i] = dict(rows[i])
                out[i][column] = value[:max_chars]
                cut[column] = None
    return out, list(cut)


def rotation_due(size: int, age_seconds: float, incoming: int, settings: LogSettings) -> bool:
    """Whether a file of ``size`` bytes opened ``age_seconds`` ago must be closed before ``incoming`` more
    bytes are written (a line longer than a whole file still goes into a file of its own)."""
    if size == 0:
        return False
    return size + incoming > settings.max_file_bytes or age_seconds >= settings.rotate_seconds


def beyond_cap(files: list[tuple[str, int, bool]], max_total: int) -> list[str]:
    """The oldest closed files to delete so that all ``(relative path, size, closed)`` fit ``max_total``.

    Age is the opening time in the path (date directory, then HHMMSS), whatever the kind."""
    total = sum(size for _, size, _ in files)
    doomed = []
    for path, size, closed in sorted(files, key=lambda file: file[0].split("/", 1)[1]):
        if total <= max_total:
            break
        if closed:
            doomed.append(path)
            total -= size
    return doomed


def is_open(path: Path) -> bool:
    """Whether some process still writes ``path`` (holds its flock)."""
    try:
        with path.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


def log_files(directory: Path) -> list[Path]:
    """Every log file under ``directory``, open or closed, oldest first."""
    found = [path for kind in KINDS for path in (directory / kind).glob("*/*.jsonl")]
    return sorted(found, key=lambda path: (path.parent.name, path.name))


def closed_files(directory: Path) -> list[Path]:
    """The log files under ``directory`` no process writes any more, oldest first."""
    return [path for path in log_files(directory) if not is_open(path)]


def enforce_cap(directory: Path, max_total: int, today: date | None = None) -> list[Path]:
    """Delete the oldest closed files beyond ``max_total`` bytes, and empty date directories older than
    yesterday (writers only open files in today's); the files deleted."""
    files = []
    for path in log_files(directory):
        with contextlib.suppress(FileNotFoundError):  # another process's cap got there first
            files.append((path.relative_to(directory).as_posix(), path.stat().st_size, True))
    if sum(size for _, size, _ in files) > max_total:
        files = [(rel, size, not is_open(directory / rel)) for rel, size, _ in files]
    deleted = [directory / rel for rel in beyond_cap(files, max_total)]
    for path in deleted:
        path.unlink(missing_ok=True)
    before = str((today or datetime.now(UTC).date()) - timedelta(days=1))
    for folder in (directory / kind for kind in KINDS):
        for day in folder.glob("*") if folder.is_dir() else []:
            if day.name < before:
                with contextlib.suppress(OSError):  # not empty, or gone
                    day.rmdir()
    return deleted


class Done(NamedTuple):
    """A file taken out of writing. Its handle stays open, and so locked, until the first attempt to
    ship it is over, so that no process's cap deletes it before then."""

    path: Path
    file: BinaryIO

    def release(self) -> None:
        self.file.close()


class LogFile:
    """The file one process is writing for one kind of line, rotated by size and age."""

    def __init__(self, settings: LogSettings, kind: str, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.kind, self.clock = settings, kind, clock
        self.lock = threading.Lock()
        self.file: BinaryIO | None = None
        self.path: Path | None = None
        self.size, self.opened, self.seq = 0, 0.0, 0

    def write(self, data: bytes) -> Done | None:
        """Append ``data`` (whole lines); the file done to make room, if any."""
        with self.lock:
            done = None
            if self.file is not None and rotation_due(
                self.size, self.clock() - self.opened, len(data), self.settings
            ):
                done = self._done()
            if self.file is None:
                self._open()
            self.file.write(data)  # type: ignore[union-attr]
            self.size += len(data)
            return done

    def rotate_if_old(self) -> Done | None:
        """Take the file out of writing if it is due by age, also when no line comes."""
        with self.lock:
            if self.file is not None and rotation_due(
                self.size, self.clock() - self.opened, 0, self.settings
            ):
                return self._done()
            return None

    def close(self) -> Done | None:
        """Take the file out of writing, if one is open."""
        with self.lock:
            return self._done() if self.file is not None else None

    def _open(self) -> None:
        self.opened = self.clock()
        when = datetime.fromtimestamp(self.opened, UTC)
        writer = writer_name(socket.gethostname(), os.getpid())
        self.path = self.settings.directory / relative_path(self.kind, when, writer, self.seq)
        self.seq += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("ab", buffering=0)  # one write per line: readers see whole lines
        fcntl.flock(self.file, fcntl.LOCK_EX)  # waits out a moment's is_open test by another process
        self.size = 0

    def _done(self) -> Done:
        done = Done(self.path, self.file)  # type: ignore[arg-type]
        self.file = None
        return done


Ship = Callable[[list[Path]], list[Path]]  # copies closed files; returns those that failed


class PredictionLog:
    """One process's prediction and feedback files, with a thread that closes idle files when due,
    ships closed files (retrying failures at the next rotation) and holds the directory to its cap."""

    def __init__(
        self, settings: LogSettings, ship: Ship | None = None, clock: Callable[[], float] = time.time
    ):
        self.settings, self.ship = settings, ship
        self.files = {kind: LogFile(settings, kind, clock) for kind in KINDS}
        self.done: queue.SimpleQueue[Done | None] = queue.SimpleQueue()  # None: stop
        self.pending: list[Path] = []  # closed, not shipped yet
        self.thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self.thread.start()

    def write(self, kind: str, data: bytes) -> None:
        """Append whole lines to the current file of ``kind`` (predictions or feedback)."""
        done = self.files[kind].write(data)
        if done is not None:
            self.done.put(done)

    def close(self, timeout: float = 60.0) -> None:
        """Close the files, ship them (when shipping) and stop the thread."""
        for file in self.files.values():
            if (done := file.close()) is not None:
                self.done.put(done)
        self.done.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        tick = min(self.settings.rotate_seconds / 4, MAX_TICK_SECONDS)
        self._housekeep([])
        stopping = False
        while not stopping:
            items = []
            with contextlib.suppress(queue.Empty):
                items.append(self.done.get(timeout=tick))
                while True:  # a burst of rotations: one round for all
                    items.append(self.done.get_nowait())
            stopping = None in items
            done = [item for item in items if item is not None]
            if not stopping:
                done += [item for file in self.files.values() if (item := file.rotate_if_old())]
            if done:
                self._housekeep(done)
        if self.pending:  # stopping: a last try for files whose shipping failed in the final round
            self._housekeep([])

    def _housekeep(self, done: list[Done]) -> None:
        try:
            self.pending += [item.path for item in done]
            if self.ship is not None and self.pending:
                failed = set(self.ship(self.pending))
                self.pending = [path for path in self.pending if path in failed]
            else:
                self.pending = []
        except Exception:  # never let the thread die: the next rotation tries again
            logger.exception("shipping prediction logs failed")
        for item in done:
            item.release()
        try:
            enforce_cap(self.settings.directory, self.settings.max_total_bytes)
            self.pending = [path for path in self.pending if path.exists()]
        except Exception:
            logger.exception("holding the prediction logs to PREDICTION_LOG_MAX_TOTAL_MB failed")
