"""Metrics and plot data for each task: pure functions of labels, predictions and probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

GRID = np.linspace(0, 1, 21)


def compute_metrics(task: str, y_true, y_pred, proba, classes) -> dict[str, float]:
    """The task's metrics, rounded so that reports and diffs stay readable."""
    if task == "regression":
        values = {
            "r2": skm.r2_score(y_true, y_pred),
            "rmse": skm.root_mean_squared_error(y_true, y_pred),
            "mae": skm.mean_absolute_error(y_true, y_pred),
        }
    elif task == "binary":
        positive = proba[:, 1]
        values = {
            "roc_auc": skm.roc_auc_score(y_true, positive),
            "average_precision": skm.average_precision_score(y_true, positive, pos_label=classes[1]),
            "f1": skm.f1_score(y_true, y_pred, pos_label=classes[1]),
            "precision": skm.precision_score(y_true, y_pred, pos_label=classes[1], zero_division=0),
            "recall": skm.recall_score(y_true, y_pred, pos_label=classes[1]),
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "log_loss": skm.log_loss(y_true, proba, labels=classes),
            "brier": skm.brier_score_loss(y_true, positive, pos_label=classes[1]),
        }
    else:
        values = {
            "f1_macro": skm.f1_score(y_true, y_pred, average="macro"),
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "roc_auc_ovr": skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes),
            "log_loss": skm.log_loss(y_true, proba, labels=classes),
        }
    return {name: round(float(value), 5) for name, value in values.items()}


def classification_plots(y_true, proba, classes) -> dict[str, list[dict[str, Any]]]:
    """ROC, precision-recall (micro-averaged over classes when there are more than two) and calibration."""
    if len(classes) == 2:
        truth, scores = (np.asarray(y_true) == classes[1]).astype(int), proba[:, 1]
    else:
        truth, scores = label_binarize(y_true, classes=classes).ravel(), proba.ravel()
    fpr, tpr, _ = skm.roc_curve(truth, scores)
    precision, recall, _ = skm.precision_recall_curve(truth, scores)
    # Best precision at each recall or beyond (recall comes in decreasing order): interpolated PR.
    envelope = np.maximum.accumulate(precision)
    return {
        "roc": [{"fpr": x, "tpr": _round(np.interp(x, fpr, tpr))} for x in _round_all(GRID)],
        "precision_recall": [
            {"recall": x, "precision": _round(np.interp(x, recall[::-1], envelope[::-1]))}
            for x in _round_all(GRID)
        ],
        "calibration": calibration(
            truth if len(classes) == 2 else _top_label_hits(y_true, proba, classes),
            scores if len(classes) == 2 else proba.max(axis=1),
        ),
    }


def _top_label_hits(y_true, proba, classes) -> np.ndarray:
    return (np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)).astype(int)


def calibration(hits: np.ndarray, confidence: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Observed frequency against mean predicted probability, per probability decile bin."""
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            rows.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "predicted": _round(confidence[chosen].mean()),
                    "observed": _round(hits[chosen].mean()),
                    "count": int(chosen.sum()),
                }
            )
    return rows


def confusion(y_true, y_pred, classes) -> dict[str, Any]:
    """Counts with actual classes as rows and predicted classes as columns."""
    matrix = skm.confusion_matrix(y_true, y_pred, labels=classes)
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}


def regression_plots(y_true, y_pred, bins: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Mean actual per predicted-value decile, and a histogram of residuals."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    order = np.argsort(y_pred, kind="stable")
    deciles = np.array_split(order, bins)
    predicted_vs_actual = [
        {"bin": i + 1, "predicted": _round(y_pred[d].mean()), "actual": _round(y_true[d].mean())}
        for i, d in enumerate(deciles)
        if len(d)
    ]
    residuals = y_true - y_pred
    counts, edges = np.histogram(residuals, bins=15)
    histogram = [
        {"residual": _round((lo + hi) / 2), "count": int(n)}
        for lo, hi, n in zip(edges, edges[1:], counts, strict=False)
    ]
    return {"predicted_vs_actual": predicted_vs_actual, "residuals": histogram}


def _round(value: float) -> float:
    return round(float(value), 4)


def _round_all(values) -> list[float]:
    return [_round(v) for v in values]
