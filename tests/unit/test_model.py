"""The estimator params.yaml names, and the preprocessing-plus-estimator Pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from mlops.data.schema import infer_schema, resolve_features
from mlops.errors import UserError
from mlops.params import ESTIMATORS, Params
from mlops.pipeline.evaluate import sample_request
from mlops.pipeline.model import (
    ESTIMATOR_CLASSES,
    as_text,
    build_pipeline,
    categorical_columns,
    category_text,
    make_estimator,
    predict,
)


def test_make_estimator_uses_params_hyperparameters_and_seed(params: Params):
    estimator = make_estimator(params.model, params.data.task)
    assert isinstance(estimator, HistGradientBoostingClassifier)
    assert estimator.max_iter == 20
    assert estimator.learning_rate == params.model.hyperparameters["learning_rate"]
    assert estimator.random_state == params.model.seed


def test_make_estimator_regression_picks_the_regressor(params: Params):
    assert isinstance(make_estimator(params.model, "regression"), HistGradientBoostingRegressor)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_estimator_builds_without_hyperparameters(params: Params, estimator: str, task: str):
    model = dataclasses.replace(params.model, estimator=estimator, hyperparameters={})
    built = make_estimator(model, task)
    assert type(built) is ESTIMATOR_CLASSES[estimator, task == "regression"]


def test_unknown_hyperparameter_names_it_and_lists_allowed(params: Params):
    model = dataclasses.replace(params.model, hyperparameters={"max_depthh": 3})
    with pytest.raises(UserError) as error:
        make_estimator(model, "binary")
    message = str(error.value)
    assert "'max_depthh'" in message
    assert "HistGradientBoostingClassifier does not take" in message
    assert "Allowed: " in message
    assert "max_depth" in message
    assert "learning_rate" in message


def test_invalid_hyperparameter_value_is_a_user_error(params: Params):
    model = dataclasses.replace(params.model, hyperparameters={"learning_rate": -1})
    with pytest.raises(UserError, match="invalid for HistGradientBoostingClassifier"):
        make_estimator(model, "binary")


def test_as_text_keeps_missing_values_missing():
    values = pd.DataFrame({"code": [1, 2, None], "name": ["a", None, "c"]})
    text = as_text(values)
    assert text[1, 1] != text[1, 1]  # NaN
    assert text[2, 0] != text[2, 0]
    assert text[2, 1] == "c"


def test_category_codes_are_the_same_text_whether_read_as_int_float_or_text():
    as_float = pd.Series([1.0, 2.5, None, 30.0])  # a gap makes pandas read int codes as floats
    assert category_text(as_float).tolist()[:2] == ["1", "2.5"]
    assert category_text(as_float).tolist()[3] == "30"
    assert category_text(pd.Series([1, 30])).tolist() == ["1", "30"]
    assert category_text(pd.Series(["1", None])).tolist()[0] == "1"


def test_numeric_coded_category_sent_as_text_predicts_as_in_training(churn: pd.DataFrame, params: Params):
    data = churn.assign(plan_code=churn["churned"] * 2 + 1.0)  # a code the model leans on
    data.loc[data.index[::10], "plan_code"] = None  # read back from CSV, codes with gaps are floats
    inferred = resolve_features(infer_schema(churn, params.data), params.data)
    features = dataclasses.replace(inferred, categorical=(*inferred.categorical, "plan_code"))
    pipeline = build_pipeline(features, make_estimator(params.model, params.data.task))
    pipeline.fit(data[list(features.all)], data["churned"])
    assert categorical_columns(pipeline) == list(features.categorical)

    rows = data[list(features.all)].head(3)  # the first has no plan_code
    request = sample_request(rows, list(features.all), categorical_columns(pipeline))["records"]
    assert {type(record["plan_code"]) for record in request} == {str, type(None)}
    assert {record["plan_code"] for record in request} <= {"1", "3", None}
    _, trained = predict(pipeline, rows)
    _, served = predict(pipeline, pd.DataFrame(request))
    np.testing.assert_allclose(served, trained)


def test_pipeline_fits_and_predicts_with_unseen_categories(churn: pd.DataFrame, params: Params):
    features = resolve_features(infer_schema(churn, params.data), params.data)
    pipeline = build_pipeline(features, make_estimator(params.model, params.data.task))
    pipeline.fit(churn[list(features.all)], churn["churned"])
    unseen = churn.head(5).copy()
    unseen["contract"] = "weekly"
    labels, proba = predict(pipeline, unseen)
    assert list(pipeline.classes_) == [0, 1]
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert set(labels) <= {0, 1}
    assert list(pipeline.feature_names_in_) == list(features.all)


def test_regression_pipeline_predicts_without_probabilities(churn: pd.DataFrame, params: Params):
    data = dataclasses.replace(params.data, task="regression", target="monthly_charges")
    features = resolve_features(infer_schema(churn, data), data)
    pipeline = build_pipeline(features, make_estimator(params.model, "regression"))
    pipeline.fit(churn[list(features.all)], churn["monthly_charges"])
    values, proba = predict(pipeline, churn.head(3))
    assert proba is None
    assert values.shape == (3,)
