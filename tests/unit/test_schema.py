"""The data contract: schema skew is an error naming the column, value skew is a warning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlops.data.schema import (
    check_frame,
    infer_schema,
    load_schema,
    raise_if_errors,
    resolve_features,
    save_schema,
)
from mlops.errors import UserError
from mlops.params import Features, Params


@pytest.fixture
def schema(churn: pd.DataFrame, params: Params) -> dict:
    return infer_schema(churn, params.data)


def test_infer_schema_kinds(schema: dict):
    assert schema["customer_id"] == {"kind": "text"}  # more distinct values than categories allowed
    assert schema["signup_date"]["kind"] == "datetime"
    assert schema["age"]["kind"] == "numeric"
    assert 18 <= schema["age"]["min"] <= schema["age"]["max"] <= 90
    assert schema["contract"] == {
        "kind": "categorical",
        "categories": ["month-to-month", "one-year", "two-year"],
    }
    assert schema["churned"] == {"kind": "numeric", "min": 0, "max": 1}


def test_resolve_features_leaves_out_target_id_and_datetime(schema: dict, params: Params):
    features = resolve_features(schema, params.data)
    assert "churned" not in features.all
    assert "customer_id" not in features.all
    assert "signup_date" not in features.all
    assert "age" in features.numeric
    assert "plan" in features.categorical


def test_resolve_features_prefers_explicit_features(schema: dict, params: Params):
    chosen = Features(numeric=("age",), categorical=("plan",))
    data = dataclasses.replace(params.data, features=chosen)
    assert resolve_features(schema, data) == chosen


def test_data_matching_its_schema_has_no_findings(churn, schema, params):
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    assert findings.warnings == []


def test_missing_feature_column_is_an_error(churn, schema, params):
    findings = check_frame(churn.drop(columns="tenure_months"), schema, params.data)
    assert len(findings.errors) == 1
    assert "column 'tenure_months' (a feature in params.yaml) is missing" in findings.errors[0]


def test_missing_target_column_is_an_error(churn, schema, params):
    findings = check_frame(churn.drop(columns="churned"), schema, params.data)
    assert any("column 'churned' (the target in params.yaml) is missing" in e for e in findings.errors)


def test_text_in_a_numeric_column_is_an_error(churn, schema, params):
    churn["age"] = churn["age"].astype(object)
    churn.loc[5, "age"] = "forty"
    findings = check_frame(churn, schema, params.data)
    assert len(findings.errors) == 1
    assert "column 'age' should be numeric" in findings.errors[0]
    assert "'forty'" in findings.errors[0]


def test_numbers_read_as_text_are_still_numeric(churn, schema, params):
    churn["age"] = churn["age"].astype(str)
    assert check_frame(churn, schema, params.data).errors == []


def test_all_empty_column_is_an_error(churn, schema, params):
    churn["total_charges"] = np.nan
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == [
        "column 'total_charges' has no values at all. Fill it, or drop it from the features "
        "(data.features in params.yaml, or delete it from the table and schema.yaml)."
    ]


def test_single_class_target_is_an_error(churn, schema, params):
    churn["churned"] = 0
    findings = check_frame(churn, schema, params.data)
    assert len(findings.errors) == 1
    assert "the target 'churned' has a single class" in findings.errors[0]


def test_binary_target_with_three_classes_is_an_error(churn, schema, params):
    churn.loc[:9, "churned"] = 2
    findings = check_frame(churn, schema, params.data)
    assert any("has 3 classes but data.task is binary" in e for e in findings.errors)


def test_text_target_for_regression_is_an_error(churn, schema, params):
    data = dataclasses.replace(params.data, task="regression", target="plan")
    findings = check_frame(churn, schema, data)
    assert any("must be numeric for task regression" in e for e in findings.errors)


def test_rows_without_a_target_are_a_warning(churn, schema, params):
    churn.loc[:2, "churned"] = np.nan
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    assert "3 row(s) without a target value are dropped." in findings.warnings


def test_unseen_category_is_a_warning(churn, schema, params):
    churn.loc[0, "contract"] = "weekly"
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    assert len(findings.warnings) == 1
    assert "column 'contract' has categories not seen in the schema: weekly" in findings.warnings[0]


def test_value_out_of_range_is_a_warning(churn, schema, params):
    churn.loc[[0, 1], "age"] = 150
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    low, high = schema["age"]["min"], schema["age"]["max"]
    assert findings.warnings == [f"column 'age' has 2 value(s) outside the schema range [{low}, {high}]."]


def test_bad_dates_are_an_error(churn, schema, params):
    churn.loc[3, "signup_date"] = "not a date"
    findings = check_frame(churn, schema, params.data)
    assert any("column 'signup_date' should hold dates" in e for e in findings.errors)


def test_new_column_is_a_warning(churn, schema, params):
    churn["referrer"] = "web"
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    assert any("referrer" in w and "not in the schema" in w for w in findings.warnings)


def test_raise_if_errors_reports_every_error_in_one_message(churn, schema, params):
    churn = churn.drop(columns="tenure_months")
    churn["total_charges"] = np.nan
    findings = check_frame(churn, schema, params.data)
    with pytest.raises(UserError) as error:
        raise_if_errors(findings, "data/churn.csv")
    message = str(error.value)
    assert message.startswith("data/churn.csv breaks the data contract: (1) ")
    assert "(2) " in message
    assert "tenure_months" in message
    assert "total_charges" in message


def test_raise_if_errors_is_quiet_without_errors(churn, schema, params):
    raise_if_errors(check_frame(churn, schema, params.data), "data/churn.csv")


def test_schema_round_trip(tmp_path, schema):
    path = tmp_path / "schema.yaml"
    save_schema(schema, path)
    assert load_schema(path) == schema
    assert list(load_schema(path)) == list(schema)  # column order is kept for review


def test_load_schema_errors(tmp_path):
    with pytest.raises(UserError, match="is missing"):
        load_schema(tmp_path / "schema.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just a list\n")
    with pytest.raises(UserError, match="not a valid schema"):
        load_schema(broken)
