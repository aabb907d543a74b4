"""gate.decide: one verdict from the metric, main's baseline and the blocking Deepchecks checks."""

from __future__ import annotations

import dataclasses

import pytest

from mlops.params import Params
from mlops.review import champion
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


NONE = {
    "basis": champion.NONE,
    "reason": "main has no committed run yet, so there is nothing to compare with",
}


def main_model(value: float, name: str = "roc_auc", basis: str = champion.RESCORED) -> dict:
    """A comparison as champion.compare writes it: main's model scored on this change's test set."""
    return {"basis": basis, "reason": "…", "metrics": {"test": {name: value}}, "plots": {}}


def test_passes_above_the_minimum_without_baseline(params: Params):
    result = decide(metrics(0.82), NONE, [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert result["metric"] == "roc_auc"
    assert result["value"] == 0.82
    assert result["baseline"] is None
    texts = [r["text"] for r in result["reasons"]]
    assert texts[0] == f"test roc_auc 0.8200 ≥ minimum {params.gate.min}"
    assert f"not compared with main: {NONE['reason']}" in texts
    assert all(r["passed"] for r in result["reasons"])


def test_fails_below_the_minimum(params: Params):
    result = decide(metrics(0.70), NONE, [], params.gate, params.validation)
    assert result["verdict"] == "fail"
    assert result["reasons"][0] == {"passed": False, "text": "test roc_auc 0.7000 < minimum 0.75"}


def test_minimum_itself_passes(params: Params):
    assert decide(metrics(params.gate.min), NONE, [], params.gate, params.validation)["verdict"] == "pass"


def test_drop_beyond_max_drop_against_main_fails(params: Params):
    result = decide(metrics(0.80), main_model(0.85), [], params.gate, params.validation)
    assert result["verdict"] == "fail"
    assert result["baseline"] == 0.85
    drop = result["reasons"][1]
    assert drop["passed"] is False
    assert drop["text"] == (
        "test roc_auc 0.8000 vs main 0.8500 (main's model on this test set): change -0.0500 "
        "(largest drop allowed 0.02)"
    )


def test_a_drop_says_what_to_do(params: Params):
    result = decide(metrics(0.80), main_model(0.85), [], params.gate, params.validation)
    remedy = result["reasons"][1]["remedy"]
    assert remedy.startswith("This change's model scores lower than main's on the same rows")
    assert remedy.endswith(
        "if the drop is expected (e.g. the new data is harder), raise gate.max_drop in params.yaml for "
        "this pull request."
    )
    passing = decide(metrics(0.85), main_model(0.85), [], params.gate, params.validation)
    assert "remedy" not in passing["reasons"][1]


def test_the_drop_compares_both_models_on_the_rows_main_never_trained_on(params: Params):
    """champion scored this change's model on those rows too: that number, not metrics.json's whole
    test set, is compared with main's, and the line says on how many rows."""
    comparison = main_model(0.60) | {
        "rows": 1234,
        "excluded": 56,
        "challenger_metrics": {"test": {"roc_auc": 0.74}},
    }
    result = decide(metrics(0.80), comparison, [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert (result["value"], result["baseline"]) == (0.80, 0.60)
    assert result["reasons"][1] == {
        "passed": True,
        "text": "test roc_auc 0.7400 vs main 0.6000 (main's model and this change's on the 1,234 test rows "
        "main never trained on): change +0.1400 (largest drop allowed 0.02)",
    }


def test_a_test_set_main_never_trained_on_is_named_with_its_rows(params: Params):
    comparison = main_model(0.85) | {"rows": 300, "excluded": 0, "challenger_metrics": None}
    result = decide(metrics(0.86), comparison, [], params.gate, params.validation)
    assert result["reasons"][1]["text"].startswith(
        "test roc_auc 0.8600 vs main 0.8500 (main's model on this test set's 300 rows, none of which it "
        "trained on): change +0.0100"
    )


@pytest.mark.parametrize(("base", "value"), [(0.85, 0.84), (0.85, 0.83), (0.80, 0.90)])
def test_drop_within_max_drop_or_a_gain_passes(params: Params, base: float, value: float):
    # 0.85 -> 0.83 is exactly max_drop (0.02), which is allowed, floating-point error or not.
    result = decide(metrics(value), main_model(base), [], params.gate, params.validation)
    assert result["verdict"] == "pass", result["reasons"]


def test_baseline_without_the_gate_metric_counts_as_no_baseline(params: Params):
    result = decide(metrics(0.80), main_model(0.95, name="r2"), [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert result["baseline"] is None


def test_same_test_set_says_it_compares_with_mains_committed_metrics(params: Params):
    comparison = main_model(0.85, basis=champion.SAME_TEST_SET)
    result = decide(metrics(0.86), comparison, [], params.gate, params.validation)
    assert result["basis"] == champion.SAME_TEST_SET
    assert result["reasons"][1]["text"] == (
        "test roc_auc 0.8600 vs main 0.8500 (main's committed metrics on the same test set): "
        "change +0.0100 (largest drop allowed 0.02)"
    )


def test_not_comparable_never_fails_on_numbers_from_other_data(params: Params):
    comparison = {"basis": champion.NONE, "reason": "main's model predicts 'churned' (binary) and …"}
    result = decide(metrics(0.76), comparison, [], params.gate, params.validation)
    assert result["verdict"] == "pass"
    assert result["baseline"] is None
    assert result["reasons"][1] == {
        "passed": True,
        "text": "not compared with main: main's model predicts 'churned' (binary) and …",
    }


def test_undefined_metric_fails_with_its_reason_and_the_remedy(params: Params):
    why = "the set has no rows of class 'rare' (the model knows 3 classes)"
    undefined = {
        "train": {"roc_auc": 0.9},
        "test": {"roc_auc": None},
        "undefined": {"test": {"roc_auc": why}},
    }
    result = decide(undefined, main_model(0.8), [], params.gate, params.validation)
    assert result["verdict"] == "fail"
    assert result["value"] is None
    first, drop = result["reasons"][:2]
    assert first["passed"] is False
    assert first["text"].startswith(f"test roc_auc is undefined: {why}. Set gate.metric in params.yaml")
    assert drop == {
        "passed": True,
        "text": "not compared with main: roc_auc is undefined for one of the two models",
    }


@pytest.mark.parametrize("status", ["FAIL", "ERROR"])
def test_blocking_deepchecks_failure_fails(params: Params, status: str):
    blocking = params.validation.blocking_checks[0]
    result = decide(metrics(0.9), NONE, [summary((blocking, status))], params.gate, params.validation)
    assert result["verdict"] == "fail"
    failed = [r["text"] for r in result["reasons"] if not r["passed"]]
    assert failed == [f"Deepchecks {blocking} (Train Test Validation Suite): some condition: why"]


def test_non_blocking_deepchecks_failure_does_not_fail(params: Params):
    assert "Simple Model Comparison" not in params.validation.blocking_checks
    problems = summary(("Simple Model Comparison", "FAIL"), suite="Model Evaluation Suite")
    result = decide(metrics(0.9), NONE, [problems], params.gate, params.validation)
    assert result["verdict"] == "pass"


def test_blocking_failure_says_what_to_do(params: Params):
    result = decide(
        metrics(0.9), NONE, [summary(("Index Train Test Leakage", "FAIL"))], params.gate, params.validation
    )
    [failed] = [r for r in result["reasons"] if not r["passed"]]
    assert failed["remedy"].startswith("Some ids (data.id_column) are in both train and test")
    assert failed["remedy"].endswith(
        "To accept it, remove 'Index Train Test Leakage' from validation.blocking_checks in params.yaml."
    )


def test_blocking_check_that_warns_does_not_fail(params: Params):
    blocking = params.validation.blocking_checks[0]
    result = decide(metrics(0.9), NONE, [summary((blocking, "WARN"))], params.gate, params.validation)
    assert result["verdict"] == "pass"


def test_blocking_check_that_could_not_run_fails(params: Params):
    blocking = params.validation.blocking_checks[0]
    result = decide(metrics(0.9), NONE, [summary((blocking, "NOT RUN"))], params.gate, params.validation)
    assert result["verdict"] == "fail"
    [failed] = [r for r in result["reasons"] if not r["passed"]]
    assert failed["text"] == f"Deepchecks {blocking} (Train Test Validation Suite) could not run: why"
    assert failed["remedy"].startswith("What it guards is unchecked")


def test_every_blocking_failure_is_listed(params: Params):
    validation = dataclasses.replace(params.validation, blocking_checks=("Is Single Value", "Feature Drift"))
    problems = [
        summary(("Is Single Value", "FAIL"), suite="Data Integrity Suite"),
        summary(("Feature Drift", "FAIL")),
    ]
    result = decide(metrics(0.6), main_model(0.9), problems, params.gate, validation)
    assert [r["passed"] for r in result["reasons"]] == [False, False, False, False]


def test_regression_gate_on_r2(raw_params: dict):
    from mlops.params import parse_params

    raw_params["data"].update(task="regression", target="monthly_charges")
    raw_params["gate"].update(metric="r2", min=0.5)
    params = parse_params(raw_params)
    assert decide(metrics(0.6, "r2"), NONE, [], params.gate, params.validation)["verdict"] == "pass"
    assert decide(metrics(0.4, "r2"), NONE, [], params.gate, params.validation)["verdict"] == "fail"
