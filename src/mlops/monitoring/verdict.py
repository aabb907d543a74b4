"""One verdict from many findings: ok, warn or alert, and whether to retrain.

Each finding is a Reason. ok and info lines say what was checked or could not be, and never change
the status; any warn makes it warn, any alert makes it alert, and an alert of a kind that
``monitoring.retrain_on`` lists (drift, performance, skew) also sets ``retrain``.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("ok", "info", "warn", "alert")


@dataclass(frozen=True)
class Reason:
    level: str  # one of LEVELS
    check: str  # input, volume, skew, drift or performance
    text: str


def verdict(reasons: list[Reason], retrain_on: tuple[str, ...]) -> tuple[str, bool]:
    """The status (the worst of warn and alert, else ok) and whether to retrain."""
    levels = {r.level for r in reasons}
    status = "alert" if "alert" in levels else "warn" if "warn" in levels else "ok"
    return status, any(r.level == "alert" and r.check in retrain_on for r in reasons)


def worst_first(reasons: list[Reason]) -> list[Reason]:
    return sorted(reasons, key=lambda r: -LEVELS.index(r.level))
