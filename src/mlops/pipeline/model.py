"""One sklearn Pipeline holds preprocessing and estimator, so training and serving share it."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import ThreadpoolController

from mlops.errors import UserError
from mlops.params import Features, ModelParams

SMALL_BATCH = 1000
ESTIMATOR_CLASSES = {
    ("linear", False): LogisticRegression,
    ("linear", True): Ridge,
    ("random_forest", False): RandomForestClassifier,
    ("random_forest", True): RandomForestRegressor,
    ("hist_gradient_boosting", False): HistGradientBoostingClassifier,
    ("hist_gradient_boosting", True): HistGradientBoostingRegressor,
}


def make_estimator(model: ModelParams, task: str):
    """The estimator params.yaml names, with its hyperparameters checked against sklearn's."""
    cls = ESTIMATOR_CLASSES[model.estimator, task == "regression"]
    allowed = sorted(inspect.signature(cls).parameters)
    unknown = [name for name in model.hyperparameters if name not in allowed]
    if unknown:
        raise UserError(
            f"params.yaml: model.hyperparameters has '{unknown[0]}', which {cls.__name__} does not "
            f"take. Allowed: {', '.join(allowed)}."
        )
    seeded = {"random_state": model.seed} if "random_state" in allowed else {}
    estimator = cls(**{**seeded, **model.hyperparameters})
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as error:
        raise UserError(f"params.yaml: model.hyperparameters are invalid for {cls.__name__}: {error}")
    return estimator


def as_text(values: pd.DataFrame) -> np.ndarray:
    """Categories as strings (numbers-as-codes included), missing kept missing for the imputer."""
    # One conversion for the whole table: column by column costs ~2 ms more on a served row.
    floats = {column: category_text(values[column]) for column in values if values[column].dtype.kind == "f"}
    if floats:
        values = values.assign(**floats)
    return values.astype(str).where(values.notna(), np.nan).to_numpy()


def category_text(values: pd.Series) -> pd.Series:
    """A category column as text, each value on its own: the code 1 is "1" even where gaps made
    pandas read the column as floats (1.0), so that "1" sent to the service is the same category."""
    text = values.astype(str)
    if pd.api.types.is_float_dtype(values):
        whole = np.isfinite(values) & (values % 1 == 0)
        text = text.mask(whole, values[whole].astype("int64").astype(str))
    return text.where(values.notna(), np.nan)


def categorical_columns(model: Pipeline) -> list[str]:
    """The input columns a fitted pipeline (see build_pipeline) treats as categories."""
    transformers = model.named_steps["preprocess"].transformers_
    return [column for name, _, columns in transformers if name == "categorical" for column in columns]


def build_pipeline(features: Features, estimator) -> Pipeline:
    """Impute and scale numbers, impute and one-hot categories (unseen ones ignored), then fit."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        FunctionTransformer(as_text, feature_names_out="one-to-one"),
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric, list(features.numeric)),
            ("categorical", categorical, list(features.categorical)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def predict(model: Pipeline, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and, for classifiers, class probabilities (columns in ``model.classes_`` order)."""
    # On a few rows, OpenMP threads cost more than they save: on 2 busy cores a one-row predict
    # took a hundred milliseconds or more with them, and milliseconds with one thread.
    limit = 1 if len(frame) < SMALL_BATCH else None
    with _threadpools().limit(limits=limit):
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(frame)
            return model.classes_[proba.argmax(axis=1)], proba
        return model.predict(frame), None
