"""Metrics and plot data for each task: pure functions of labels, predictions and probabilities."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from mlops.pipeline.checks import NEW_CLASS

GRID = np.linspace(0, 1, 21)
CURVES = ("roc", "precision_recall")

# Metrics of classes that need rows of them. When the set lacks a class the model knows, they divide
# by zero, or scikit-learn returns a number the model's predictions could not change (0 where there
# was nothing to find, 1 where nothing could be wrong) or averages over the classes left, silently.
NEEDS_EVERY_CLASS = {
    "roc_auc",
    "average_precision",
    "precision",
    "balanced_accuracy",
    "roc_auc_ovr",
    "f1_macro",
}
# Recall and F1 of the positive class need its rows only: without negative rows they still measure
# how many positives the model finds.
NEEDS_POSITIVE_CLASS = {"f1", "recall"}


def compute_metrics(task: str, y_true, y_pred, proba, classes) -> dict[str, float | None]:
    """The task's metrics, rounded so that reports and diffs stay readable; None where a metric is
    undefined on these rows (e.g. ROC AUC or F1 on a set that lacks a class: see why_undefined)."""
    y_true = np.asarray(y_true)
    undefined = _undefined_on(task, y_true, classes)
    return {
        name: None if name in undefined else _defined(score)
        for name, score in _scorers(task, y_true, y_pred, proba, classes).items()
    }


def _undefined_on(task: str, y_true: np.ndarray, classes) -> set[str]:
    """The metrics the set's classes leave undefined, whatever the model predicts."""
    if task == "regression":
        return set()
    absent = absent_classes(y_true, classes)
    if not absent:
        return set()
    if task == "binary" and classes[1] in absent:
        return NEEDS_EVERY_CLASS | NEEDS_POSITIVE_CLASS
    return set(NEEDS_EVERY_CLASS)


def absent_classes(y_true, classes) -> list:
    """The classes the model knows that the set has no rows of."""
    present = set(np.asarray(y_true).tolist())
    return [c for c in classes if c not in present]


def unseen_classes(y_true, classes) -> list:
    """The classes of the set that the model never saw (in the test set only), in text order."""
    known = set(np.asarray(classes).tolist())
    return sorted(set(np.asarray(y_true).tolist()) - known, key=str)


def _scorers(task: str, y_true, y_pred, proba, classes) -> dict[str, Callable[[], float]]:
    if task == "regression":
        return {
            "r2": lambda: skm.r2_score(y_true, y_pred),
            "rmse": lambda: skm.root_mean_squared_error(y_true, y_pred),
            "mae": lambda: skm.mean_absolute_error(y_true, y_pred),
        }
    if task == "binary":
        positive, label = proba[:, 1], classes[1]
        return {
            "roc_auc": lambda: skm.roc_auc_score(y_true == label, positive),
            "average_precision": lambda: skm.average_precision_score(y_true, positive, pos_label=label),
            "f1": lambda: skm.f1_score(y_true, y_pred, pos_label=label),
            "precision": lambda: skm.precision_score(y_true, y_pred, pos_label=label, zero_division=0),
            "recall": lambda: skm.recall_score(y_true, y_pred, pos_label=label),
            "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": lambda: skm.balanced_accuracy_score(y_true, y_pred),
            "log_loss": lambda: skm.log_loss(y_true, proba, labels=classes),
            "brier": lambda: skm.brier_score_loss(y_true, positive, pos_label=label),
        }
    return {
        "f1_macro": lambda: skm.f1_score(y_true, y_pred, average="macro"),
        "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y_true, y_pred),
        "roc_auc_ovr": lambda: skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes),
        "log_loss": lambda: skm.log_loss(y_true, proba, labels=classes),
    }


def _defined(score: Callable[[], float]) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns where it returns NaN
        try:
            value = float(score())
        except ValueError:  # e.g. "Only one class present in y_true"
            return None
    return round(value, 5) if math.isfinite(value) else None


def why_undefined(task: str, y_true, classes) -> str:
    """Why a metric can be undefined on these rows, in words for the gate and the report."""
    if task != "regression":
        clauses = []
        if missing := absent_classes(y_true, classes):
            clauses.append(
                f"has no rows of class {_listed(missing)} (the model knows {len(classes)} classes)"
            )
        if unseen := unseen_classes(y_true, classes):
            clauses.append(f"has class {_listed(unseen)}, {NEW_CLASS}")
        if clauses:
            return "the set " + ", and it ".join(clauses)
    if len(set(np.asarray(y_true).tolist())) < 2:
        return f"every row of the set has the same target ({len(y_true)} row(s))"
    return "scikit-learn could not compute it on this set"


def _listed(values: list) -> str:
    return ", ".join(f"'{v}'" for v in values)


def curves_defined(y_true, classes) -> bool:
    """Whether the set defines ROC and precision-recall curves: with two classes it needs rows of
    both; micro-averaged over more, rows of any class the model knows (the other classes are the
    negatives)."""
    present = len(classes) - len(absent_classes(y_true, classes))
    return present == 2 if len(classes) == 2 else present > 0


def classification_plots(y_true, proba, classes) -> dict[str, list[dict[str, Any]]]:
    """ROC, precision-recall (micro-averaged over classes when there are more than two) and
    calibration (of the top label when there are more than two). The curves are empty lists where
    the set does not define them (see curves_defined)."""
    if len(classes) == 2:
        truth, scores = (np.asarray(y_true) == classes[1]).astype(int), proba[:, 1]
    else:
        truth, scores = label_binarize(y_true, classes=classes).ravel(), proba.ravel()
    plots: dict[str, list[dict[str, Any]]] = {name: [] for name in CURVES}
    if curves_defined(y_true, classes):
        plots.update(_curves(truth, scores))
    plots["calibration"] = calibration(
        truth if len(classes) == 2 else _top_label_hits(y_true, proba, classes),
        scores if len(classes) == 2 else proba.max(axis=1),
    )
    return plots


def _curves(truth: np.ndarray, scores: np.ndarray) -> dict[str, list[dict[str, Any]]]:
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
    """Counts with actual classes as rows and predicted classes as columns; classes of the set the
    model never saw come last, so that every row of the set is counted."""
    labels = [*classes, *unseen_classes(y_true, classes)]
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return {"labels": [str(c) for c in labels], "matrix": matrix.tolist()}


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


def _round(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None  # JSON has no NaN


def _round_all(values) -> list[float]:
    return [_round(v) for v in values]
