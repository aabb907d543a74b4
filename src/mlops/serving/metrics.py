"""Prometheus series of what the model is given and what it answers, served on the service's /metrics.

- ``mlops_predictions_total{label}``: predictions per class (classifiers), or
  ``mlops_prediction_value`` (``_bucket``/``_sum``/``_count``): a histogram of predicted values (regression);
- ``mlops_feature_null_total{feature}``, ``mlops_feature_unseen_category_total{feature}`` (a category
  schema.yaml does not list) and ``mlops_feature_out_of_range_total{feature}`` (a number outside
  schema.yaml's min/max), per feature;
- ``mlops_feedback_labels_total`` (``{label}`` for classifiers): labels received on /feedback.

Counting works on the columns the service builds for predict anyway, once per batch of requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.params import Features

HISTOGRAM_BUCKETS = 10


@dataclass(frozen=True)
class Contract:
    """What schema.yaml expects of each feature: numeric bounds and known categories."""

    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, frozenset[str]] = field(default_factory=dict)


def contract(schema: dict[str, dict[str, Any]], features: Features) -> Contract:
    """The schema's ranges of the numeric features and categories of the categorical ones."""
    bounds = {}
    for name in features.numeric:
        spec = schema.get(name, {})
        low, high = spec.get("min"), spec.get("max")
        bounds[name] = (-np.inf if low is None else float(low), np.inf if high is None else float(high))
    categories = {
        name: frozenset(map(str, schema[name]["categories"]))
        for name in features.categorical
        if "categories" in schema.get(name, {})
    }
    return Contract(bounds, categories)


def value_buckets(schema: dict[str, dict[str, Any]], target: str) -> tuple[float, ...] | None:
    """Evenly spaced histogram bounds over the target's range in the schema; None if it has none."""
    spec = schema.get(target, {})
    low, high = spec.get("min"), spec.get("max")
    if not isinstance(low, int | float) or not isinstance(high, int | float) or high <= low:
        return None
    return tuple(float(x) for x in np.linspace(low, high, HISTOGRAM_BUCKETS + 1))


def feature_issues(columns: dict[str, Any], rules: Contract) -> dict[str, dict[str, int]]:
    """Per kind of issue (null, unseen_category, out_of_range), the count per feature that has any.

    ``columns``: numeric features as float arrays (NaN for null), categorical ones as lists."""
    issues: dict[str, dict[str, int]] = {"null": {}, "unseen_category": {}, "out_of_range": {}}
    for name, (low, high) in rules.bounds.items():
        values = columns[name]
        nulls = int(np.count_nonzero(np.isnan(values)))
        outside = int(np.count_nonzero((values < low) | (values > high)))  # NaN is neither
        _add(issues, name, nulls, 0, outside)
    for name, values in columns.items():
        if isinstance(values, list):
            nulls = values.count(None)
            known = rules.categories.get(name)
            unseen = 0 if known is None else len(values) - nulls - sum(map(known.__contains__, values))
            _add(issues, name, nulls, unseen, 0)
    return issues


def _add(issues: dict[str, dict[str, int]], name: str, nulls: int, unseen: int, outside: int) -> None:
    for kind, count in (("null", nulls), ("unseen_category", unseen), ("out_of_range", outside)):
        if count:
            issues[kind][name] = count


_metrics: dict[str, Any] = {}  # one per name and process: prometheus_client refuses duplicates


def _metric(kind: str, name: str, documentation: str, labels: Iterable[str] = (), **options: Any) -> Any:
    import prometheus_client  # here, after BentoML has set up its multiprocess directory

    if name not in _metrics:
        _metrics[name] = getattr(prometheus_client, kind)(name, documentation, list(labels), **options)
    return _metrics[name]


class ModelMetrics:
    """The service's own series; every labelled series exists (at 0) from the start."""

    def __init__(
        self,
        features: Features,
        rules: Contract,
        classes: list[Any] | None,
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        self.rules, self.classes = rules, classes
        if classes is None:
            options = {"buckets": buckets} if buckets else {}
            self.values = _metric("Histogram", "mlops_prediction_value", "Predicted values", **options)
            self.feedback = _metric("Counter", "mlops_feedback_labels", "Feedback labels received")
        else:
            self.predictions = _metric("Counter", "mlops_predictions", "Predictions per class", ["label"])
            self.feedback = _metric(
                "Counter", "mlops_feedback_labels", "Feedback labels received per class", ["label"]
            )
            for label in map(str, classes):
                self.predictions.labels(label=label)
                self.feedback.labels(label=label)
        documentation = {
            "null": "Null values per feature",
            "unseen_category": "Categories schema.yaml does not list, per feature",
            "out_of_range": "Numbers outside schema.yaml's min and max, per feature",
        }
        self.issues = {
            kind: _metric("Counter", f"mlops_feature_{kind}", text, ["feature"])
            for kind, text in documentation.items()
        }
        applicable = {"null": features.all, "unseen_category": rules.categories, "out_of_range": rules.bounds}
        for kind, names in applicable.items():
            for name in names:
                self.issues[kind].labels(feature=name)

    def observe(self, columns: dict[str, Any], labels: list[Any]) -> None:
        """Count a batch's feature issues and predictions."""
        for kind, counts in feature_issues(columns, self.rules).items():
            for name, count in counts.items():
                self.issues[kind].labels(feature=name).inc(count)
        if self.classes is None:
            for value in labels:
                self.values.observe(value)
        else:
            for label, count in Counter(labels).items():
                self.predictions.labels(label=str(label)).inc(count)

    def observe_feedback(self, labels: list[Any]) -> None:
        """Count the labels received."""
        if self.classes is None:
            self.feedback.inc(len(labels))
        else:
            for label, count in Counter(labels).items():
                self.feedback.labels(label=str(label)).inc(count)
