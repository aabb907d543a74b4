"""params.yaml parsing: the real file loads, unknown keys and bad values fail with a fix."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
import yaml

from mlops.errors import UserError
from mlops.params import (
    DEEPCHECKS_CHECKS,
    GATE_METRICS,
    DataParams,
    Features,
    GateParams,
    ModelParams,
    MonitoringParams,
    Params,
    SplitParams,
    ValidationParams,
    load_params,
    parse_params,
)

ROOT = Path(__file__).resolve().parents[2]


def test_real_params_yaml_loads():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.gate.metric in GATE_METRICS[params.data.task]
    assert set(params.validation.blocking_checks) <= set(DEEPCHECKS_CHECKS)


def test_shrunk_params_parse(params: Params):
    assert params.validation.n_samples == 200
    assert params.model.hyperparameters["max_iter"] == 20
    assert params.data.features is None  # features: auto
    assert isinstance(params.validation.blocking_checks, tuple)


def test_unknown_top_level_key_names_it_and_lists_allowed_keys(raw_params: dict):
    raw_params["modle"] = {}
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    message = str(error.value)
    assert "'modle'" in message
    assert "Did you mean 'model'?" in message
    assert "Allowed keys: data, split, model, validation, gate, refresh, monitoring." in message


@pytest.mark.parametrize(
    ("section", "key", "fields_of"),
    [
        ("data", "targte", DataParams),
        ("split", "seeds", SplitParams),
        ("model", "estimater", ModelParams),
        ("validation", "blocking", ValidationParams),
        ("gate", "minimum", GateParams),
        ("monitoring", "min_record", MonitoringParams),
    ],
)
def test_unknown_key_in_a_section_names_it_and_lists_allowed_keys(raw_params, section, key, fields_of):
    raw_params[section][key] = 1
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    message = str(error.value)
    assert f"{section} has an unknown key '{key}'" in message
    allowed = ", ".join(f.name for f in dataclasses.fields(fields_of))
    assert f"Allowed keys: {allowed}." in message


def test_unknown_key_in_features_is_rejected(raw_params: dict):
    raw_params["data"]["features"] = {"numeric": ["age"], "text": ["region"]}
    with pytest.raises(UserError, match=r"data\.features has an unknown key 'text'"):
        parse_params(raw_params)


def test_explicit_features_become_tuples(raw_params: dict):
    raw_params["data"]["features"] = {"numeric": ["age", "tenure_months"], "categorical": ["plan"]}
    features = parse_params(raw_params).data.features
    assert features == Features(numeric=("age", "tenure_months"), categorical=("plan",))
    assert features.all == ("age", "tenure_months", "plan")


def test_missing_section_is_named(raw_params: dict):
    del raw_params["gate"]
    with pytest.raises(UserError, match="lacks the section"):
        parse_params(raw_params)


def test_missing_required_key_is_named(raw_params: dict):
    del raw_params["data"]["target"]
    with pytest.raises(UserError, match=r"data lacks the key\(s\) target"):
        parse_params(raw_params)


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("data", "task", "ranking", "Use one of: binary, multiclass, regression"),
        ("data", "path", "data/churn.txt", "data.path must name a .csv or .parquet file"),
        ("model", "estimator", "xgboost", "Use one of: linear, random_forest, hist_gradient_boosting"),
        ("model", "hyperparameters", [1, 2], "model.hyperparameters must be a mapping"),
        ("model", "seed", "42", "model.seed is '42'; it must be an integer"),
        ("split", "test_size", 1.5, "split.test_size is 1.5; it must be a fraction between 0 and 1"),
        ("split", "test_size", 0.0, "split.test_size is 0.0"),
        ("split", "test_size", 1, "split.test_size is 1;"),
        ("split", "seed", True, "split.seed is True; it must be an integer"),
        ("validation", "n_samples", 10, "validation.n_samples is 10; it must be an integer of at least 100"),
        ("gate", "min", "high", "gate.min is 'high'; it must be a number"),
        ("gate", "max_drop", -0.1, "gate.max_drop is -0.1; it must be a number from 0 to 1 (roc_auc lies"),
        ("gate", "max_drop", 5, "gate.max_drop is 5; it must be a number from 0 to 1"),
        (
            "gate",
            "min",
            1.5,
            "gate.min is 1.5; it must be a number from 0 to 1 (the range of roc_auc), e.g. 0.7.",
        ),
        ("gate", "min", -0.2, "gate.min is -0.2; it must be a number from 0 to 1"),
        ("gate", "min", float("nan"), "gate.min is nan; it must be a number from 0 to 1"),
        ("gate", "metric", "r2", "gate.metric (for task binary) is 'r2'"),
    ],
)
def test_bad_values_are_rejected_with_what_is_allowed(raw_params, section, key, value, expected):
    raw_params[section][key] = value
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert expected in str(error.value)


def test_gate_min_for_r2_may_be_negative_but_not_above_1(raw_params: dict):
    raw_params["data"].update(task="regression", target="monthly_charges")
    raw_params["gate"].update(metric="r2", min=-0.5, max_drop=5)
    assert parse_params(raw_params).gate.min == -0.5
    raw_params["gate"]["min"] = 1.5
    with pytest.raises(
        UserError, match=r"gate\.min is 1\.5; it must be a number of at most 1 \(the best r2\)"
    ):
        parse_params(raw_params)


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (
            "all",
            "data.features is 'all'; it must be auto (every column of schema.yaml but the target, id and "
            "date) or a mapping such as {numeric: [age], categorical: [plan]}.",
        ),
        (
            {"numeric": "age", "categorical": ["contract"]},
            "data.features.numeric is 'age'; it must be a list of column names, e.g. [age].",
        ),
        (
            {"numeric": ["age"], "categorical": "contract"},
            "data.features.categorical is 'contract'; it must be a list of column names, e.g. [contract].",
        ),
        ({"numeric": ["age", 3]}, "data.features.numeric is ['age', 3]; it must be a list of column names"),
        ({}, "data.features lists no columns. List at least one under numeric or categorical"),
        ({"numeric": None, "categorical": []}, "data.features lists no columns."),
        ({"numeric": ["age", "age"]}, "data.features lists 'age' twice; keep it once"),
        (
            {"numeric": ["age"], "categorical": ["age"]},
            "data.features lists 'age' under both numeric and categorical; keep it once",
        ),
        (
            {"numeric": ["age", "churned"]},
            "data.features lists 'churned', which is data.target; it cannot be a feature too. Remove it",
        ),
        ({"categorical": ["customer_id"]}, "data.features lists 'customer_id', which is data.id_column;"),
        (
            {"categorical": ["signup_date"]},
            "data.features lists 'signup_date', which is data.datetime_column;",
        ),
    ],
)
def test_bad_features_are_rejected(raw_params: dict, features, expected: str):
    raw_params["data"]["features"] = features
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert f"params.yaml: {expected}" in str(error.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"datetime_column": "churned"},
            "data.target and data.datetime_column both name 'churned'; each needs a column of its own. "
            "Change one of them (or set it to null).",
        ),
        ({"id_column": "churned"}, "data.target and data.id_column both name 'churned'"),
        ({"id_column": "signup_date"}, "data.id_column and data.datetime_column both name 'signup_date'"),
        ({"target": None}, "data.target is None; it must be a column name."),
        (
            {"id_column": ["customer_id"]},
            "data.id_column is ['customer_id']; it must be a column name, or null.",
        ),
    ],
)
def test_roles_must_be_distinct_column_names(raw_params: dict, changes: dict, expected: str):
    raw_params["data"].update(changes)
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert f"params.yaml: {expected}" in str(error.value)


def test_explicit_features_without_the_roles_are_accepted(raw_params: dict):
    raw_params["data"].update(features={"numeric": ["age"]}, id_column=None, datetime_column=None)
    assert parse_params(raw_params).data.features == Features(numeric=("age",))


def test_a_check_both_blocking_and_skipped_is_rejected(raw_params: dict):
    raw_params["validation"]["skip_checks"] = ["Outlier Sample Detection", "Index Train Test Leakage"]
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert str(error.value) == (
        "params.yaml: validation lists 'Index Train Test Leakage' in both blocking_checks and skip_checks; "
        "a skipped check never runs, so it could never block. Remove it from one of the two lists."
    )


def test_gate_metric_must_suit_the_task(raw_params: dict):
    raw_params["data"].update(task="regression", target="monthly_charges")  # gate.metric stays roc_auc
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert "gate.metric (for task regression) is 'roc_auc'" in str(error.value)
    assert "Use one of: r2." in str(error.value)


@pytest.mark.parametrize("task", sorted(GATE_METRICS))
def test_every_listed_gate_metric_is_accepted_for_its_task(raw_params, task):
    for metric in GATE_METRICS[task]:
        raw_params["data"]["task"] = task
        raw_params["gate"]["metric"] = metric
        assert parse_params(raw_params).gate.metric == metric


@pytest.mark.parametrize("key", ["blocking_checks", "skip_checks"])
def test_unknown_check_name_is_rejected(raw_params: dict, key: str):
    raw_params["validation"][key] = ["Data Drift"]
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    message = str(error.value)
    assert f"validation.{key} entry is 'Data Drift'" in message
    assert "Feature Drift" in message  # the allowed names are listed


@pytest.mark.parametrize("check", ["Boosting Overfit", "Model Inference Time"])
def test_a_check_that_never_runs_cannot_block(raw_params: dict, check: str):
    raw_params["validation"]["blocking_checks"].append(check)
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    message = str(error.value)
    assert f"validation.blocking_checks lists '{check}', which never runs in this pipeline" in message
    assert "Remove it from the list." in message
    assert "\n" not in message


def test_a_check_that_never_runs_may_be_listed_in_skip_checks(raw_params: dict):
    raw_params["validation"]["skip_checks"] = ["Boosting Overfit"]
    assert parse_params(raw_params).validation.skip_checks == ("Boosting Overfit",)


def test_empty_blocking_checks_is_allowed(raw_params: dict):
    raw_params["validation"]["blocking_checks"] = None
    assert parse_params(raw_params).validation.blocking_checks == ()


def test_not_a_mapping_is_rejected():
    with pytest.raises(UserError, match="must be a mapping"):
        parse_params(["data"])


def test_load_params_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "data: [unclosed\n",
            "is not valid YAML: at line 2, column 1, expected ',' or ']', but got '<stream end>' (while "
            "parsing a flow sequence that starts at line 1, column 7). Fix the syntax there or just above it",
        ),
        (
            "gate:\n  metric: roc_auc\n  min 0.75\n  max_drop: 0.02\n",
            "is not valid YAML: at line 4, column 3 ('max_drop: 0.02'), could not find expected ':' (while "
            "scanning a simple key that starts at line 3, column 3).",
        ),
    ],
)
def test_load_params_invalid_yaml_is_one_line_with_where_and_what(tmp_path, text: str, expected: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as error:
        load_params(path)
    message = str(error.value)
    assert "\n" not in message
    assert f"{path} {expected}" in message
    assert message.endswith("and run again.")


def test_load_params_rejects_a_repeated_key_naming_it(tmp_path, small_params_raw: dict):
    """PyYAML would keep the last value; DVC refuses the file later with an unexpected error."""
    text = yaml.safe_dump(small_params_raw, sort_keys=False)
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("  min: 0.75\n", "  min: 0.75\n  min: 0.8\n"))
    lines = path.read_text().splitlines()
    first = lines.index("  min: 0.75") + 1
    with pytest.raises(UserError) as error:
        load_params(path)
    assert str(error.value) == (
        f"{path} has the key gate.min twice (lines {first} and {first + 1}): YAML keeps only one of them. "
        "Delete or rename one."
    )


def test_load_params_rejects_a_repeated_top_level_key(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data: {}\nsplit: {}\ndata: {}\n")
    with pytest.raises(UserError, match=r"has the key data twice \(lines 1 and 3\)"):
        load_params(path)


@pytest.mark.integration
def test_deepchecks_checks_are_the_checks_of_the_three_suites(monkeypatch):
    """params.DEEPCHECKS_CHECKS (the names blocking_checks may use) matches Deepchecks itself."""
    monkeypatch.setenv("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from deepchecks.tabular import suites

    names = [
        check.name()
        for suite in (suites.data_integrity(), suites.train_test_validation(), suites.model_evaluation())
        for check in suite.checks.values()
    ]
    assert len(names) == len(set(names))
    assert sorted(DEEPCHECKS_CHECKS) == sorted(names)


def test_refresh_section_is_optional_and_checked(raw_params: dict):
    raw_params.pop("refresh", None)
    assert parse_params(raw_params).refresh.command is None
    raw_params["refresh"] = {"command": "python export.py data/churn.csv"}
    assert parse_params(raw_params).refresh.command == "python export.py data/churn.csv"
    raw_params["refresh"] = {"command": ""}
    with pytest.raises(UserError, match=r"refresh\.command is ''; it must be a shell command, or null\."):
        parse_params(raw_params)


def test_monitoring_section_is_optional_and_defaults_apply(raw_params: dict):
    del raw_params["monitoring"]
    assert parse_params(raw_params).monitoring == MonitoringParams()


def test_monitoring_section_of_the_real_file_parses(params: Params):
    monitoring = params.monitoring
    assert monitoring.logs == "monitoring"
    assert monitoring.retrain_on == ("drift", "performance")
    assert 0 < monitoring.drift_warn <= monitoring.drift_alert


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("min_records", 0, "monitoring.min_records is 0; it must be an integer of at least 1"),
        ("min_feedback", 2.5, "monitoring.min_feedback is 2.5; it must be an integer of at least 1"),
        ("drift_warn", 0, "monitoring.drift_warn is 0; it must be a number above 0"),
        ("drift_alert", 0.05, "monitoring.drift_alert is 0.05; it must be a number of at least drift_warn"),
        ("max_unseen_share", 2, "monitoring.max_unseen_share is 2; it must be a fraction between 0 and 1"),
        ("max_null_increase", "10%", "monitoring.max_null_increase is '10%'"),
        ("max_metric_drop", -1, "monitoring.max_metric_drop is -1; it must be a number of at least 0"),
        ("retrain_on", ["drfit"], "monitoring.retrain_on entry is 'drfit'"),
        ("retrain_on", "drift", "monitoring.retrain_on must be a list"),
        ("logs", "", "monitoring.logs is ''"),
    ],
)
def test_bad_monitoring_values_are_rejected(raw_params, key, value, expected):
    raw_params["monitoring"][key] = value
    with pytest.raises(UserError) as error:
        parse_params(raw_params)
    assert expected in str(error.value)
