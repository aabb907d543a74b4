"""Schema skew of live values: categories and ranges the data contract does not know, and nulls.

Unlike drift these are facts, not estimates: one unseen category is never noise. They are judged
as shares of the feature's live values, so that a rare surprise is shown but does not alert.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def unseen_categories(counts: dict[str, int], known: set[str]) -> dict[str, Any]:
    """Live values in no known category: how many, their share and the most frequent ones."""
    unseen = {value: n for value, n in counts.items() if value not in known}
    total = sum(counts.values())
    top = sorted(unseen, key=lambda value: (-unseen[value], value))[:5]
    count = sum(unseen.values())
    return {"count": count, "share": _share(count, total), "examples": top}


def out_of_range(values: np.ndarray, low: float | None, high: float | None) -> dict[str, Any]:
    """Live numbers below the contract's min or above its max."""
    values = values[~np.isnan(values)]
    below = int((values < low).sum()) if low is not None else 0
    above = int((values > high).sum()) if high is not None else 0
    return {
        "count": below + above,
        "share": _share(below + above, values.size),
        "below": below,
        "above": above,
        "min": float(values.min()) if values.size else None,
        "max": float(values.max()) if values.size else None,
    }


def null_rates(live_nulls: int, live_total: int, train_nulls: int, train_total: int) -> dict[str, Any]:
    live, train = _share(live_nulls, live_total), _share(train_nulls, train_total)
    return {"live": live, "training": train, "increase": round(live - train, 4)}


def level(share: float, limit: float) -> str:
    """alert above the limit, info for any at all, else ok."""
    return "alert" if share > limit else "info" if share > 0 else "ok"


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0
