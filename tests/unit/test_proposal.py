"""The retraining pull request's title says the verdict and the score a reviewer looks for first."""

from __future__ import annotations

from mlops.retraining.proposal import title


def test_title_of_a_passing_gate_compared_with_main():
    gate = {"verdict": "pass", "metric": "roc_auc", "value": 0.83121, "baseline": 0.82556}

    assert title(gate) == "Retrain on new data: gate PASS, roc_auc 0.8312 (main 0.8256)"


def test_title_of_a_failing_gate_without_a_comparison():
    gate = {"verdict": "fail", "metric": "r2", "value": -0.5, "baseline": None}

    assert title(gate) == "Retrain on new data: gate FAIL, r2 -0.5000"


def test_title_when_the_metric_is_undefined_on_the_test_set():
    gate = {"verdict": "fail", "metric": "roc_auc", "value": None, "baseline": 0.8}

    assert title(gate) == "Retrain on new data: gate FAIL, roc_auc undefined (main 0.8000)"
