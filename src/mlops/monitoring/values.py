"""Schema skew and drift of the logged values: each feature, and the predictions.

Values outside the contract (unseen categories, numbers out of range) are skew and counted once,
there; drift compares the distribution of the values inside it with the training data's.

Takes the current model's records (an Arrow table, one row per record) and the reference; returns
one JSON-ready row per feature and the Reasons for what was found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops.monitoring import drift, skew
from mlops.monitoring.reference import Reference
from mlops.monitoring.verdict import Reason
from mlops.params import MonitoringParams
from mlops.pipeline.model import category_text


def feature_checks(
    reference: Reference, current: pa.Table, cut: dict[str, int], monitoring: MonitoringParams
) -> tuple[list[dict[str, Any]], list[Reason]]:
    """One row per feature (skew, null rates, truncations, drift) and the reasons found.
    ``cut``: per feature, the requests whose logged values of it the service truncated."""
    enough = len(current) >= monitoring.min_records
    rows, reasons = [], []
    for name in reference.features.all:
        train, live = reference.train[name], current[name]
        if name in reference.features.categorical:
            row, binning, values = _categorical(name, train, live, reference, monitoring)
        else:
            row, binning, values = _numeric(name, train, live, reference, monitoring)
        row["nulls"] = skew.null_rates(live.null_count, len(live), int(train.isna().sum()), len(train))
        row["truncated"] = int(cut.get(name, 0))
        if enough:
            row["drift"] = drift.compare(binning, values, monitoring.drift_warn, monitoring.drift_alert)
        if len(current):
            reasons += _skew_reasons(row, monitoring, enough)
        rows.append(row)
    if enough:
        reasons += _drift_reasons(rows, monitoring)
    return rows, reasons


def prediction_drift(
    reference: Reference, current: pa.Table, monitoring: MonitoringParams
) -> tuple[dict[str, Any] | None, list[Reason]]:
    """Drift of what the model predicts: see reference.prediction_values."""
    if reference.predictions is None or len(current) < monitoring.min_records:
        return None, []
    if reference.task == "binary":
        what = f"probability of class {reference.class_keys[1]}"
        live = current[f"proba:{reference.class_keys[1]}"].to_numpy().astype(float)
    elif reference.task == "regression":
        what, live = "predicted value", current["prediction"].to_numpy().astype(float)
    else:
        what, live = "predicted class", _counts(pc.cast(current["prediction"], pa.string()))
    if isinstance(live, dict):
        counts = pd.Series(reference.predictions).value_counts().to_dict()
        binning = drift.categorical_binning(counts)
    else:
        binning = drift.numeric_binning(reference.predictions)
    result = {"what": what, **drift.compare(binning, live, monitoring.drift_warn, monitoring.drift_alert)}
    text = f"Predictions ({what}): PSI {result['psi']:.3f} against the model's on the training data"
    level = result["level"]
    limit = monitoring.drift_alert if level == "alert" else monitoring.drift_warn
    text += f" (limit {limit}{_noise(result, limit)})." if level != "ok" else "."
    return result, [Reason(level, "drift", text)]


def _categorical(
    name: str, train: pd.Series, live: pa.ChunkedArray, reference: Reference, monitoring: MonitoringParams
) -> tuple[dict[str, Any], drift.Binning, dict[str, int]]:
    counts = _counts(live)
    train_counts = category_text(train).value_counts().to_dict()
    known = set(train_counts) | set(map(str, reference.schema.get(name, {}).get("categories", [])))
    unseen = skew.unseen_categories(counts, known)
    row = {
        "feature": name,
        "kind": "categorical",
        "unseen": unseen,
        "skew_level": skew.level(unseen["share"], monitoring.max_unseen_share),
    }
    inside = {value: n for value, n in counts.items() if value in known}  # the rest is skew, not drift
    return row, drift.categorical_binning(train_counts), inside


def _numeric(
    name: str, train: pd.Series, live: pa.ChunkedArray, reference: Reference, monitoring: MonitoringParams
) -> tuple[dict[str, Any], drift.Binning, np.ndarray]:
    values = live.to_numpy().astype(float) if len(live) else np.array([])
    spec = reference.schema.get(name, {})
    outside = {**skew.out_of_range(values, spec.get("min"), spec.get("max")), "low": spec.get("min")}
    outside["high"] = spec.get("max")
    row = {
        "feature": name,
        "kind": "numeric",
        "out_of_range": outside,
        "skew_level": skew.level(outside["share"], monitoring.max_out_of_range_share),
    }
    low, high = (-np.inf if spec.get(k) is None else spec[k] for k in ("min", "max"))
    inside = values[~((values < low) | (values > high))]  # the rest is skew, not drift
    return row, drift.numeric_binning(pd.to_numeric(train, errors="coerce").to_numpy(float)), inside


def _counts(values: pa.ChunkedArray) -> dict[str, int]:
    pairs = pc.value_counts(values).to_pylist() if len(values) else []
    return {pair["values"]: pair["counts"] for pair in pairs if pair["values"] is not None}


def _skew_reasons(row: dict[str, Any], monitoring: MonitoringParams, enough: bool) -> list[Reason]:
    name, level, reasons = row["feature"], row["skew_level"], []
    if level != "ok" and row["kind"] == "categorical":
        unseen = row["unseen"]
        text = (
            f"{name}: {unseen['count']:,} value(s) ({unseen['share']:.2%}) in categories neither "
            f"schema.yaml nor the training data has: {', '.join(map(repr, unseen['examples']))}"
        )
        reasons.append(Reason(level, "skew", text + _limit(level, monitoring.max_unseen_share)))
    elif level != "ok":
        out = row["out_of_range"]
        text = (
            f"{name}: {out['count']:,} value(s) ({out['share']:.2%}) outside schema.yaml's range "
            f"[{out['low']}, {out['high']}] (live min {out['min']:.4g}, max {out['max']:.4g})"
        )
        reasons.append(Reason(level, "skew", text + _limit(level, monitoring.max_out_of_range_share)))
    nulls = row["nulls"]
    if enough and nulls["increase"] > monitoring.max_null_increase:
        text = (
            f"{name}: {nulls['live']:.1%} of values are null against {nulls['training']:.1%} in the "
            f"training data (monitoring.max_null_increase: {monitoring.max_null_increase:.0%} more)."
        )
        reasons.append(Reason("alert", "skew", text))
    if row["truncated"]:
        text = (
            f"{name}: the service truncated logged values in {row['truncated']:,} request(s); "
            "cut categories show as unseen here."
        )
        reasons.append(Reason("info", "skew", text))
    return reasons


def _limit(level: str, share: float) -> str:
    return f"; limit {share:.1%}." if level == "alert" else f", under the {share:.1%} limit."


def _drift_reasons(rows: list[dict[str, Any]], monitoring: MonitoringParams) -> list[Reason]:
    """One line per drifted feature, and one for the share of drifted features."""
    scored = sorted(rows, key=lambda row: -row["drift"]["psi"])
    drifted = [row for row in scored if row["drift"]["level"] != "ok"]
    reasons = []
    for row in drifted:
        result = row["drift"]
        limit = monitoring.drift_alert if result["level"] == "alert" else monitoring.drift_warn
        text = f"{row['feature']} drifted: PSI {result['psi']:.3f} (limit {limit}{_noise(result, limit)})."
        reasons.append(Reason(result["level"], "drift", text))
    share = len(drifted) / len(rows) if rows else 0.0
    if drifted and share >= monitoring.max_drifted_share:
        text = (
            f"{len(drifted)} of {len(rows)} features ({share:.0%}) drifted: at least "
            f"monitoring.max_drifted_share ({monitoring.max_drifted_share:.0%})."
        )
        reasons.append(Reason("alert", "drift", text))
    if not drifted and scored:
        top = scored[0]
        text = f"No feature drifted (largest PSI {top['drift']['psi']:.3f}, {top['feature']})."
        reasons.append(Reason("ok", "drift", text))
    return reasons


def _noise(result: dict[str, Any], limit: float) -> str:
    """Where noise at this sample size raised the limit, by how much."""
    return (
        f", raised to {result['noise']:.3f} by noise at this sample size" if result["noise"] > limit else ""
    )
