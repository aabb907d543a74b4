"""Wall time of the last run of each stage, for the report's provenance (not tracked by git or DVC)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops.jsonfile import read_json

TIMINGS_DIR = Path("reports/timings")


@contextmanager
def timed(stage: str, directory: Path = TIMINGS_DIR) -> Iterator[None]:
    """Record how long the block took under ``directory/<stage>.json`` when it succeeds."""
    start = time.perf_counter()
    yield
    directory.mkdir(parents=True, exist_ok=True)
    seconds = round(time.perf_counter() - start, 2)
    (directory / f"{stage}.json").write_text(json.dumps({"stage": stage, "seconds": seconds}))


def read_timings(directory: Path = TIMINGS_DIR) -> dict[str, float]:
    """Seconds per stage, for stages that have run here."""
    return {path.stem: read_json(path)["seconds"] for path in sorted(directory.glob("*.json"))}
