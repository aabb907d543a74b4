"""Live performance: feedback labels joined to logged predictions, scored like the test set.

The gate metric (params gate.metric) is computed with the pipeline's own metric code on the
current model's predictions that have feedback, and compared with the test-set value in
reports/metrics.json. A drop beyond ``monitoring.max_metric_drop`` warns; it alerts only when it is
beyond that by more than two standard errors (bootstrapped), so a few hundred labels of an
unlucky week do not alert. Below ``monitoring.min_feedback`` labelled predictions: no verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlops.monitoring.logs import Logs
from mlops.monitoring.reference import Reference
from mlops.monitoring.verdict import Reason
from mlops.params import MonitoringParams
from mlops.pipeline.metrics import compute_metrics

ROUNDS = 50  # bootstrap resamples
MAX_BOOTSTRAP_ROWS = 2000  # resample at most this many rows; the standard error is scaled to all
Z = 2.0


def join_feedback(predictions: pa.Table, feedback: pa.Table, classes: list[str]) -> tuple[pd.DataFrame, dict]:
    """Logged predictions with their feedback label (the latest where one was sent twice), and
    counts: feedback lines, repeated ids, and ids no prediction read has."""
    labels = feedback.to_pandas().dropna(subset=["prediction_id", "label"])
    unique = labels.sort_values("time", kind="stable").drop_duplicates("prediction_id", keep="last")
    parts = unique["prediction_id"].str.extract(r"^(?P<request_id>.+)-(?P<index>\d+)$").dropna()
    keys = pa.table(
        {
            "request_id": pa.array(parts["request_id"], pa.string()),
            "index": pa.array(parts["index"].astype("int64")),
            "label": pa.array(unique.loc[parts.index, "label"], feedback.schema.field("label").type),
        }
    )
    columns = ["request_id", "index", "model_version", "prediction", *[f"proba:{c}" for c in classes]]
    # Arrow's hash join builds on the right side: the feedback, smaller than the predictions.
    joined = predictions.select(columns).join(keys, keys=["request_id", "index"], join_type="inner")
    joined = joined.to_pandas().drop_duplicates(["request_id", "index"])
    counts = {
        "feedback": len(labels),
        "repeated": len(labels) - len(unique),
        "unknown": len(unique) - len(joined),
    }
    return joined, counts


def score(reference: Reference, rows: pd.DataFrame) -> float | None:
    """The gate metric on these rows, as the evaluate stage computes it."""
    proba = rows[[f"proba:{c}" for c in reference.class_keys]].to_numpy() if reference.classes else None
    classes = np.asarray(reference.classes)
    y_true = rows["label"].to_numpy()
    return compute_metrics(reference.task, y_true, rows["prediction"].to_numpy(), proba, classes)[
        reference.metric
    ]


def standard_error(reference: Reference, rows: pd.DataFrame, seed: int = 0) -> float:
    """Bootstrap standard error of the metric (on at most MAX_BOOTSTRAP_ROWS rows, scaled)."""
    rng = np.random.default_rng(seed)
    size = min(len(rows), MAX_BOOTSTRAP_ROWS)
    values = [score(reference, rows.iloc[rng.integers(0, len(rows), size)]) for _ in range(ROUNDS)]
    values = [v for v in values if v is not None]
    return float(np.std(values)) * np.sqrt(size / len(rows)) if len(values) > 1 else float("inf")


def check(
    reference: Reference, logs: Logs, monitoring: MonitoringParams
) -> tuple[dict[str, Any], list[Reason]]:
    """The live metric of the current model against the test set's, and the reasons."""
    joined, counts = join_feedback(logs.predictions, logs.feedback, reference.class_keys)
    if reference.model_version is not None:
        joined = joined[joined["model_version"] == reference.model_version]
    dtype = reference.train[reference.target].dtype
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        joined = joined.astype({"label": dtype})  # pandas made integer labels float, for nulls
    result = {**counts, "labelled": len(joined), "metric": reference.metric, "test": reference.test_metric}
    reasons = []
    if counts["unknown"]:
        text = (
            f"{counts['unknown']:,} feedback label(s) name predictions not in the logs read (older than "
            "--since, or never logged): ignored."
        )
        reasons.append(Reason("info", "performance", text))
    return result, reasons + _verdict(reference, joined, monitoring, result)


def _verdict(
    reference: Reference, joined: pd.DataFrame, monitoring: MonitoringParams, result: dict
) -> list[Reason]:
    metric, n, test = reference.metric, len(joined), reference.test_metric
    if not result["feedback"]:
        return [Reason("info", "performance", "No feedback logged: no performance verdict.")]
    if n < monitoring.min_feedback:
        text = (
            f"Not enough feedback for a performance verdict: {n:,} of the current model's predictions "
            f"have a label (monitoring.min_feedback: {monitoring.min_feedback})."
        )
        return [Reason("info", "performance", text)]
    live = result["live"] = score(reference, joined)
    if live is None or test is None:
        where = "these labels" if live is None else "the test set (reports/metrics.json)"
        return [Reason("info", "performance", f"{metric} is undefined on {where}: no performance verdict.")]
    drop = test - live
    text = f"{metric} on {n:,} labelled predictions: {live:.4f}, test set {test:.4f}"
    if drop <= monitoring.max_metric_drop:
        return [Reason("ok", "performance", text + ".")]
    se = result["standard_error"] = round(standard_error(reference, joined), 4)
    text += f" (-{drop:.4f}; limit {monitoring.max_metric_drop}, standard error {se:.4f})"
    if drop - monitoring.max_metric_drop > Z * se:
        return [Reason("alert", "performance", text + ": the model got worse.")]
    return [Reason("warn", "performance", text + ": maybe worse; more feedback will tell.")]
