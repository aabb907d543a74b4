"""gate.decide: one verdict from the metric, main's baseline and the blocking Deepchecks checks."""

from __future__ import annotations

import dataclasses

import pytest

from mlops.params import Params
from mlops.review.gate import decide


def summary(*problems: tuple[str, str], suite: str = "Train Test Validation Suite") -> dict:
    """A Deepchecks summary as mlops.pipeline.suites.summarize writes it, with (check, status) problems."""
    return {
        "suite": suite,
        "counts": {"PASS": 3, "WARN": 0, "FAIL": 0, "ERROR": 0, "NOT RUN": 0},
        "problems": [
            {"check": check, "condition": "some condition", "status": status, "details": "why"}
            for check, status in problems
        ],
    }


def metrics(value: float, name: str = "roc_auc") -> dict:
    return {"train": {name: value + 0.05}, "test": {name: value}}


def test_passes_above_the_minimum_without_baseline(params: Params):
    result = decide(metrics(0.82), None, [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert result["metric"] == "roc_auc"
    assert result["value"] == 0.82
    assert result["baseline"] is None
    texts = [r["text"] for r in result["reasons"]]
    assert texts[0] == f"test roc_auc 0.8200 ≥ minimum {params.gate.min}"
    assert "no baseline on main yet: the drop check is skipped" in texts
    assert all(r["passed"] for r in result["reasons"])


def test_fails_below_the_minimum(params: Params):
    result = decide(metrics(0.70), None, [], params.gate, params.validation)
    assert result["verdict"] == "fail"
    assert result["reasons"][0] == {"passed": False, "text": "test roc_auc 0.7000 < minimum 0.75"}


def test_minimum_itself_passes(params: Params):
    assert decide(metrics(params.gate.min), None, [], params.gate, params.validation)["verdict"] == "pass"


def test_drop_beyond_max_drop_against_main_fails(params: Params):
    result = decide(metrics(0.80), metrics(0.85), [], params.gate, params.validation)
    assert result["verdict"] == "fail"
    assert result["baseline"] == 0.85
    drop = result["reasons"][1]
    assert drop["passed"] is False
    assert drop["text"] == "test roc_auc 0.8000 vs main 0.8500: change -0.0500 (largest drop allowed 0.02)"


@pytest.mark.parametrize(("base", "value"), [(0.85, 0.84), (0.85, 0.83), (0.80, 0.90)])
def test_drop_within_max_drop_or_a_gain_passes(params: Params, base: float, value: float):
    # 0.85 -> 0.83 is exactly max_drop (0.02), which is allowed, floating-point error or not.
    result = decide(metrics(value), metrics(base), [], params.gate, params.validation)
    assert result["verdict"] == "pass", result["reasons"]


def test_baseline_without_the_gate_metric_counts_as_no_baseline(params: Params):
    result = decide(metrics(0.80), metrics(0.95, name="r2"), [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert result["baseline"] is None


@pytest.mark.parametrize("status", ["FAIL", "ERROR"])
def test_blocking_deepchecks_failure_fails(params: Params, status: str):
    blocking = params.validation.blocking_checks[0]
    result = decide(metrics(0.9), None, [summary((blocking, status))], params.gate, params.validation)
    assert result["verdict"] == "fail"
    failed = [r["text"] for r in result["reasons"] if not r["passed"]]
    assert failed == [f"Deepchecks {blocking} (Train Test Validation Suite): some condition: why"]


def test_non_blocking_deepchecks_failure_does_not_fail(params: Params):
    assert "Simple Model Comparison" not in params.validation.blocking_checks
    problems = summary(("Simple Model Comparison", "FAIL"), suite="Model Evaluation Suite")
    result = decide(metrics(0.9), None, [problems], params.gate, params.validation)
    assert result["verdict"] == "pass"


@pytest.mark.parametrize("status", ["WARN", "NOT RUN"])
def test_blocking_check_that_warns_or_did_not_run_does_not_fail(params: Params, status: str):
    blocking = params.validation.blocking_checks[0]
    result = decide(metrics(0.9), None, [summary((blocking, status))], params.gate, params.validation)
    assert result["verdict"] == "pass"


def test_every_blocking_failure_is_listed(params: Params):
    validation = dataclasses.replace(params.validation, blocking_checks=("Is Single Value", "Feature Drift"))
    problems = [
        summary(("Is Single Value", "FAIL"), suite="Data Integrity Suite"),
        summary(("Feature Drift", "FAIL")),
    ]
    result = decide(metrics(0.6), metrics(0.9), problems, params.gate, validation)
    assert [r["passed"] for r in result["reasons"]] == [False, False, False, False]


def test_regression_gate_on_r2(raw_params: dict):
    from mlops.params import parse_params

    raw_params["data"].update(task="regression", target="monthly_charges")
    raw_params["gate"].update(metric="r2", min=0.5)
    params = parse_params(raw_params)
    assert decide(metrics(0.6, "r2"), None, [], params.gate, params.validation)["verdict"] == "pass"
    assert decide(metrics(0.4, "r2"), None, [], params.gate, params.validation)["verdict"] == "fail"
