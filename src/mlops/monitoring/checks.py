"""Run every check on the current model's logged records and gather one verdict.

The current model is the one whose md5 the reference names; other versions' records are counted
and left out. Then: volume, skew and drift of the features and the predictions (values.py), and
live performance (performance.py). The result is JSON-ready: verdict.json is exactly this.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mlops.monitoring import performance, values
from mlops.monitoring.logs import Logs
from mlops.monitoring.reference import Reference
from mlops.monitoring.verdict import Reason, verdict, worst_first
from mlops.params import MonitoringParams


def run_checks(reference: Reference, logs: Logs, monitoring: MonitoringParams) -> dict[str, Any]:
    """The verdict, its reasons and the figures behind them."""
    reasons = [Reason("info", "input", note) for note in [*reference.notes, *logs.notes]]
    current = _current(logs.predictions, reference.model_version)
    volume = volume_of(logs.predictions, current)
    reasons += volume_reasons(logs, reference.model_version, volume, monitoring.min_records)
    cut = truncated_counts(logs.truncated, reference.model_version)
    features, found = values.feature_checks(reference, current, cut, monitoring)
    predicted, found_in_predictions = values.prediction_drift(reference, current, monitoring)
    live, found_in_feedback = performance.check(reference, logs, monitoring)
    reasons += found + found_in_predictions + found_in_feedback
    status, retrain = verdict(reasons, monitoring.retrain_on)
    return {
        "status": status,
        "retrain": retrain,
        "reasons": [asdict(reason) for reason in worst_first(reasons)],
        "logs": {"root": logs.root, "files": logs.files},
        "model_version": reference.model_version,
        "volume": volume,
        "features": features,
        "prediction_drift": predicted,
        "performance": live,
        "thresholds": asdict(monitoring),
    }


def _current(table: pa.Table, version: str | None) -> pa.Table:
    if version is None:
        return table
    chosen = pc.fill_null(pc.equal(table["model_version"], version), False)
    return table if pc.all(chosen).as_py() else table.filter(chosen)  # no copy when all are current


def volume_of(table: pa.Table, current: pa.Table) -> dict[str, Any]:
    """Records per model version, and the current model's count and time span."""
    counts = pc.value_counts(table["model_version"]).to_pylist() if len(table) else []
    return {
        "records": len(current),
        "all_records": len(table),
        "per_version": {str(row["values"]): row["counts"] for row in counts},
        "first": pc.min(current["time"]).as_py() if len(current) else None,
        "last": pc.max(current["time"]).as_py() if len(current) else None,
    }


def truncated_counts(truncated: pa.Table, version: str | None) -> dict[str, int]:
    """Per feature, the current model's requests whose logged values of it were truncated."""
    current = _current(truncated, version)
    pairs = pc.value_counts(current["feature"]).to_pylist() if len(current) else []
    return {pair["values"]: pair["counts"] for pair in pairs if pair["values"] is not None}


def volume_reasons(logs: Logs, version: str | None, volume: dict, min_records: int) -> list[Reason]:
    """What was read and from which model; a warning when there is nothing to check."""
    if not logs.found:
        text = f"No logs at {logs.root}: is the service writing there? (monitoring.logs, or LOGS=…)"
        return [Reason("warn", "volume", text)]
    if not volume["all_records"]:
        return [Reason("warn", "volume", f"No prediction records under {logs.root}: nothing to check.")]
    reasons = []
    if version is None:
        reasons.append(Reason("info", "volume", "The current model is unknown: all versions are checked."))
    others = {v: n for v, n in volume["per_version"].items() if version is not None and v != version}
    if others:
        listed = ", ".join(f"{v[:12]} ({n:,})" for v, n in sorted(others.items(), key=lambda kv: -kv[1]))
        text = f"{sum(others.values()):,} records from other model versions are left out: {listed}."
        reasons.append(Reason("info", "volume", text))
    n, short = volume["records"], (version or "")[:12]
    if n == 0:
        text = f"No records from the current model {short}: is an older model still deployed?"
        return [*reasons, Reason("warn", "volume", text)]
    text = f"{n:,} records from the current model {short}, {volume['first']} to {volume['last']}."
    if n < min_records:
        text += f" Too few for a drift or null-rate verdict (monitoring.min_records: {min_records})."
    return [*reasons, Reason("info" if n < min_records else "ok", "volume", text)]
