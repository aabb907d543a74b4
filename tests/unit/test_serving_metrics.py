"""The service's own Prometheus series: what counts as null, unseen or out of range."""

from __future__ import annotations

import numpy as np
import prometheus_client

from mlops.params import Features
from mlops.serving.metrics import ModelMetrics, contract, feature_issues, value_buckets

SCHEMA = {
    "age": {"kind": "numeric", "min": 18, "max": 90},
    "score": {"kind": "numeric"},
    "plan": {"kind": "categorical", "categories": ["basic", "premium"]},
    "note": {"kind": "categorical"},
    "target": {"kind": "numeric", "min": 0, "max": 10},
}
FEATURES = Features(numeric=("age", "score"), categorical=("plan", "note"))


def test_issues_are_counted_per_feature() -> None:
    columns = {
        "age": np.array([17.0, 30.0, np.nan, 91.0]),
        "score": np.array([-1e9, np.nan, 0.0, 1e9]),
        "plan": ["basic", "gold", None, "Basic"],
        "note": ["x", None, None, "anything"],
    }
    assert feature_issues(columns, contract(SCHEMA, FEATURES)) == {
        "null": {"age": 1, "score": 1, "plan": 1, "note": 2},
        "unseen_category": {"plan": 2},  # no categories listed for note: nothing is unseen
        "out_of_range": {"age": 2},  # no range for score
    }


def test_histogram_buckets_span_the_target_range() -> None:
    assert value_buckets(SCHEMA, "target") == tuple(float(x) for x in range(11))
    assert value_buckets(SCHEMA, "plan") is None


def test_a_regressor_gets_a_histogram_of_predicted_values_and_a_feedback_count() -> None:
    rules = contract(SCHEMA, FEATURES)
    metrics = ModelMetrics(FEATURES, rules, None, value_buckets(SCHEMA, "target"))
    columns = {"age": np.array([100.0]), "score": np.array([1.0]), "plan": ["gold"], "note": [None]}
    metrics.observe(columns, [2.5, 7.0, 7.5])
    metrics.observe_feedback([1.0, 2.0])
    sample = prometheus_client.REGISTRY.get_sample_value
    assert sample("mlops_prediction_value_count") == 3
    assert sample("mlops_prediction_value_bucket", {"le": "3.0"}) == 1
    assert sample("mlops_feedback_labels_total") == 2
    assert sample("mlops_feature_out_of_range_total", {"feature": "age"}) == 1
    assert sample("mlops_feature_unseen_category_total", {"feature": "plan"}) == 1
    assert sample("mlops_feature_null_total", {"feature": "note"}) == 1
