"""The data contract: schema skew is an error naming the column, value skew is a warning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlops.data.schema import (
    Findings,
    check_frame,
    infer_schema,
    load_schema,
    raise_if_errors,
    resolve_features,
    save_schema,
)
from mlops.data.table import read_table
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
    assert "column 'tenure_months' (a feature in schema.yaml) is missing from the data" in findings.errors[0]
    assert "or delete schema.yaml to infer the features again." in findings.errors[0]


def test_missing_explicit_feature_names_params_yaml(churn, schema, params):
    data = dataclasses.replace(params.data, features=Features(numeric=("age", "tenure_months")))
    findings = check_frame(churn.drop(columns="tenure_months"), schema, data)
    assert findings.errors == [
        "column 'tenure_months' (a feature in params.yaml) is missing from the data; the data has 14 "
        "columns: 'customer_id', 'signup_date', 'age', 'monthly_charges', 'total_charges', "
        "'support_tickets' and 8 more. Add the column(s), or fix data.* in params.yaml."
    ]


def test_several_missing_columns_are_one_short_error(churn, schema, params):
    findings = check_frame(churn.drop(columns=["churned", "signup_date", "age", "plan"]), schema, params.data)
    assert findings.errors == [
        "4 columns (the target 'churned'; the datetime column 'signup_date'; features 'age', 'plan') are "
        "missing from the data; the data has 11 columns: 'customer_id', 'tenure_months', "
        "'monthly_charges', 'total_charges', 'support_tickets', 'avg_session_minutes' and 5 more. Add the "
        "column(s), or fix data.* in params.yaml, or delete schema.yaml to infer the features again."
    ]


def test_unrecognised_separator_is_one_short_error_naming_it(tmp_path, churn, schema, params):
    churn.to_csv(tmp_path / "t.csv", sep=":", index=False)
    findings = check_frame(read_table(tmp_path / "t.csv"), schema, params.data)
    with pytest.raises(UserError) as error:
        raise_if_errors(findings, "data/churn.csv")
    message = str(error.value)
    assert len(findings.errors) == 1
    assert len(message) < 400, message
    assert "\n" not in message
    assert "15 columns named in params.yaml and schema.yaml are missing from the data;" in message
    assert "the data has a single column, 'customer_id:signup_date:age:tenure_mont…'." in message
    assert message.endswith("Its column separator was not recognised: use , or ; or tab or |.")


def test_missing_target_column_is_an_error(churn, schema, params):
    findings = check_frame(churn.drop(columns="churned"), schema, params.data)
    assert len(findings.errors) == 1
    assert findings.errors[0].startswith("column 'churned' (the target in params.yaml) is missing")
    assert findings.errors[0].endswith("Add the column(s), or fix data.* in params.yaml.")


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


def test_decimal_comma_column_is_inferred_numeric_and_named(churn, params):
    churn["monthly_charges"] = churn["monthly_charges"].map(lambda v: str(v).replace(".", ","))
    churn.loc[0, "monthly_charges"] = "1,234.5"  # thousands separators are numbers with a comma too
    schema = infer_schema(churn, params.data)
    assert schema["monthly_charges"]["kind"] == "numeric"
    assert schema["monthly_charges"]["max"] < 200
    findings = check_frame(churn, schema, params.data)
    assert len(findings.errors) == 1
    error = findings.errors[0]
    assert error.startswith(f"column 'monthly_charges' should be numeric but has {len(churn)} value(s)")
    assert "'1,234.5' has a comma: write numbers with a decimal point and no thousands separator" in error


def test_decimal_comma_in_a_regression_target_is_named(churn, schema, params):
    data = dataclasses.replace(params.data, task="regression", target="total_charges")
    churn["total_charges"] = churn["total_charges"].map(lambda v: str(v).replace(".", ","))
    findings = check_frame(churn, schema, data)
    start = "the target 'total_charges' must be numeric for task regression; '"
    assert any(e.startswith(start) and "has a comma" in e for e in findings.errors)


def test_semicolon_file_with_decimal_commas_meets_the_schema(tmp_path, churn, schema, params):
    churn.to_csv(tmp_path / "t.csv", sep=";", decimal=",", index=False)
    findings = check_frame(read_table(tmp_path / "t.csv"), schema, params.data)
    assert findings.errors == []
    assert findings.warnings == []


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


def test_class_with_a_single_row_is_an_error_for_a_random_split(churn, schema, params):
    data = dataclasses.replace(params.data, datetime_column=None, task="multiclass")
    churn.loc[0, "churned"] = 2
    churn.loc[1, "churned"] = 3
    findings = check_frame(churn, schema, data)
    assert findings.errors == [
        "the target 'churned' has 2 class(es) with a single row ('2', '3'), but the random split "
        "(data.datetime_column is null) needs at least 2 rows of each class. Add rows of those classes, "
        "drop those rows, or merge those classes into others."
    ]


def test_class_with_two_rows_or_a_time_split_is_fine(churn, schema, params):
    churn.loc[[0, 1], "churned"] = 2
    random_split = dataclasses.replace(params.data, datetime_column=None, task="multiclass")
    assert check_frame(churn, schema, random_split).errors == []
    churn.loc[1, "churned"] = 3
    time_split = dataclasses.replace(params.data, task="multiclass")
    assert check_frame(churn, schema, time_split).errors == []


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
    assert "column 'contract' has categories not seen in the schema: 'weekly'" in findings.warnings[0]


def test_value_out_of_range_is_a_warning(churn, schema, params):
    churn.loc[[0, 1], "age"] = 150
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == []
    low, high = schema["age"]["min"], schema["age"]["max"]
    assert findings.warnings == [f"column 'age' has 2 value(s) outside the schema range [{low}, {high}]."]


def test_bad_dates_are_an_error(churn, schema, params):
    churn.loc[3, "signup_date"] = "not a date"
    findings = check_frame(churn, schema, params.data)
    assert findings.errors == [
        "column 'signup_date' (data.datetime_column in params.yaml) should hold dates but has 1 value(s) "
        "that are not, e.g. 'not a date'. Fix those values, or set data.datetime_column to a column of "
        "dates, or to null for a random split."
    ]


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


def test_schema_round_trip_writes_non_ascii_names_readably(tmp_path, churn, params):
    churn = churn.rename(columns={"age": "年齢", "region": "région"})
    churn["région"] = churn["région"].replace("north", "nörd")
    schema = infer_schema(churn, params.data)
    path = tmp_path / "schema.yaml"
    save_schema(schema, path)
    text = path.read_text(encoding="utf-8")
    assert "年齢: {kind: numeric" in text
    assert "région:" in text
    assert "nörd" in text
    assert "\\u" not in text
    assert load_schema(path) == schema


def test_load_schema_errors(tmp_path):
    with pytest.raises(UserError, match="is missing"):
        load_schema(tmp_path / "schema.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just a list\n")
    with pytest.raises(UserError, match="not a valid schema"):
        load_schema(broken)


def test_text_column_listed_as_numeric_in_params_is_an_error(churn, schema, params):
    """params.yaml's role decides the check, not schema.yaml's kind (categorical here)."""
    data = dataclasses.replace(params.data, features=Features(numeric=("age", "contract")))
    findings = check_frame(churn, schema, data)
    assert len(findings.errors) == 1
    error = findings.errors[0]
    assert error.startswith(f"column 'contract' should be numeric but has {len(churn)} value(s) that are not")
    assert error.endswith(
        "List the column under data.features.categorical in params.yaml, or fix those values."
    )


def test_numbers_listed_as_categorical_are_fine(churn, schema, params):
    data = dataclasses.replace(params.data, features=Features(categorical=("support_tickets", "plan")))
    assert check_frame(churn, schema, data).errors == []


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (
            "contract",
            "column 'contract' (data.datetime_column in params.yaml) should hold dates but has 600 value(s) "
            "that are not, e.g. '",
        ),
        (
            "age",
            "column 'age' (data.datetime_column in params.yaml) holds numbers, not dates, e.g. ",
        ),
    ],
)
def test_datetime_column_that_holds_no_dates_is_an_error(churn, schema, params, column, expected):
    """The date check runs on the column params.yaml names, whatever kind schema.yaml gives it."""
    features = resolve_features(schema, params.data)
    data = dataclasses.replace(
        params.data,
        datetime_column=column,
        features=Features(
            numeric=tuple(c for c in features.numeric if c != column),
            categorical=tuple(c for c in features.categorical if c != column),
        ),
    )
    findings = check_frame(churn, schema, data)
    assert len(findings.errors) == 1
    assert findings.errors[0].startswith(expected)
    assert "or to null for a random split." in findings.errors[0]


def test_inferring_a_schema_with_a_text_datetime_column_does_not_fail(churn, params):
    data = dataclasses.replace(params.data, datetime_column="contract")
    assert infer_schema(churn, data)["contract"]["kind"] == "categorical"


def test_missing_id_column_is_an_error(churn, schema, params):
    data = dataclasses.replace(params.data, id_column="cust_id")
    findings = check_frame(churn, schema, data)
    assert len(findings.errors) == 1
    assert findings.errors[0].startswith("column 'cust_id' (the id column in params.yaml) is missing")


def test_no_features_left_in_the_schema_is_an_error(churn, params):
    table = churn[["customer_id", "signup_date", "churned"]]
    findings = check_frame(table, infer_schema(table, params.data), params.data)
    assert findings.errors == [
        "no column but the target, id and date is numeric or categorical in schema.yaml (text of more than "
        "50 distinct values is neither), so the model would have no features. List them under "
        "data.features in params.yaml."
    ]


def _decimal_commas(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.assign(
        **{c: frame[c].map(lambda v: f"{v:.2f}".replace(".", ","), na_action="ignore") for c in columns}
    )


def test_decimal_comma_columns_are_one_finding_naming_them(churn, params):
    columns = ["age", "tenure_months", "monthly_charges", "total_charges", "support_tickets"]
    churn = _decimal_commas(churn, columns)
    findings = check_frame(churn, infer_schema(churn, params.data), params.data)
    assert len(findings.errors) == 1
    error = findings.errors[0]
    assert error.startswith(
        "5 columns ('age', 'tenure_months', 'monthly_charges', 'total_charges', 'support_tickets') should be "
        "numeric but hold text: '"
    )
    assert error.count("has a comma") == 1
    assert len(error) < 450, error


def test_many_columns_of_text_in_numbers_make_one_short_message(churn, params):
    """23 columns of decimal commas plus 30 columns of text where numbers belong: two findings."""
    wide = pd.concat(
        [churn[["churned"]]]
        + [churn[["monthly_charges"]].rename(columns={"monthly_charges": f"price_{i}"}) for i in range(23)]
        + [churn[["age"]].rename(columns={"age": f"count_{i}"}) for i in range(30)],
        axis=1,
    )
    data = dataclasses.replace(params.data, id_column=None, datetime_column=None)
    schema = infer_schema(wide, data)
    wide = _decimal_commas(wide, [f"price_{i}" for i in range(23)])
    for i in range(30):
        wide[f"count_{i}"] = wide[f"count_{i}"].astype(object)
        wide.loc[0, f"count_{i}"] = "x" * 500  # a long cell is cut short too
    findings = check_frame(wide, schema, data)
    assert len(findings.errors) == 2
    with pytest.raises(UserError) as error:
        raise_if_errors(findings, "data/churn.csv")
    message = str(error.value)
    assert "\n" not in message
    assert len(message) < 2000, message
    assert "23 columns ('price_0', 'price_1'," in message
    assert message.count("has a comma") == 1


def test_rows_differing_only_in_the_id_are_one_row_for_a_random_split(churn, schema, params):
    """The split keeps rows with identical features together, so they count once (as split does)."""
    data = dataclasses.replace(params.data, datetime_column=None, task="multiclass")
    churn.loc[1] = churn.loc[0]
    churn.loc[1, "customer_id"] = "a copy"
    churn.loc[[0, 1], "churned"] = 2
    findings = check_frame(churn, schema, data)
    assert findings.errors == [
        "the target 'churned' has 1 class(es) with a single distinct row ('2'; rows whose features are all "
        "the same count once), but the random split (data.datetime_column is null) needs at least 2 rows "
        "of each class. Add rows of those classes, drop those rows, or merge those classes into others."
    ]


def test_raise_if_errors_shows_as_many_findings_as_fit_and_counts_the_rest():
    findings = Findings(
        errors=[f"column 'c{i}' has no values at all. Fill it." + " x" * 60 for i in range(40)]
    )
    with pytest.raises(UserError) as error:
        raise_if_errors(findings, "data/churn.csv")
    message = str(error.value)
    assert message.startswith("data/churn.csv breaks the data contract: (1) column 'c0' has no values")
    assert len(message) < 1200, message
    shown = message.count("has no values")
    assert message.endswith(
        f" … and {40 - shown} more problem(s) like these; fix these and run again to see them."
    )
