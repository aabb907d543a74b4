"""Stage evaluate: test-set metrics, plot data, feature importance and a sample service request."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from mlops.errors import cli
from mlops.jsonfile import write_json
from mlops.params import Params, load_params
from mlops.pipeline import metrics
from mlops.pipeline.model import categorical_columns, category_text, predict
from mlops.timings import timed

IMPORTANCE_ROWS = 2000
SAMPLE_ROWS = 3


def evaluate(model: Pipeline, train: pd.DataFrame, test: pd.DataFrame, params: Params) -> dict[str, Any]:
    """Metrics on both sets, and plot data on the test set.

    Metrics and curves the set does not define are null (never NaN, so metrics.json stays valid
    JSON); metrics.json's "undefined" block says why: by set for metrics ({"test": {metric: why}}),
    and under "plots" for the test set's curves ({"roc": why, "precision_recall": why}).
    """
    task, target = params.data.task, params.data.target
    classes = getattr(model, "classes_", None)
    known = classes if classes is not None else []
    scores, undefined = {}, {}
    for name, frame in (("train", train), ("test", test)):
        y_pred, proba = predict(model, frame)
        scores[name] = metrics.compute_metrics(task, frame[target], y_pred, proba, classes)
        if missing := [metric for metric, value in scores[name].items() if value is None]:
            undefined[name] = dict.fromkeys(missing, metrics.why_undefined(task, frame[target], known))
    if task == "regression":
        plots = metrics.regression_plots(test[target], y_pred)
    else:
        plots = metrics.classification_plots(test[target], proba, classes)
        plots["confusion_matrix"] = metrics.confusion(test[target], y_pred, classes)
        if curves := [curve for curve in metrics.CURVES if not plots[curve]]:
            undefined["plots"] = dict.fromkeys(curves, metrics.why_undefined(task, test[target], known))
    if undefined:
        scores["undefined"] = undefined
    return {"metrics": scores, "plots": plots}


def feature_importance(model: Pipeline, test: pd.DataFrame, target: str, seed: int) -> list[dict[str, Any]]:
    """Permutation importance of each input column on a bounded test sample, largest first."""
    sample = test.sample(min(len(test), IMPORTANCE_ROWS), random_state=seed)
    columns = list(model.feature_names_in_)
    result = permutation_importance(model, sample[columns], sample[target], n_repeats=3, random_state=seed)
    ranked = sorted(zip(columns, result.importances_mean, strict=True), key=lambda item: -item[1])
    return [{"feature": name, "importance": round(float(value), 5)} for name, value in ranked]


def sample_request(test: pd.DataFrame, columns: list[str], categorical: list[str]) -> dict[str, Any]:
    """A few held-out rows in the service's request shape: categories as text, missing as null."""
    rows = test[columns].head(SAMPLE_ROWS)
    rows = rows.assign(**{column: category_text(rows[column]) for column in categorical})
    return {"records": json.loads(rows.to_json(orient="records"))}


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("model", "train", "test", "metrics", "plots", "sample_request"):
        parser.add_argument(name, type=Path)
    args = parser.parse_args()
    with timed("evaluate"):
        params = load_params()
        model = joblib.load(args.model)
        train, test = pd.read_parquet(args.train), pd.read_parquet(args.test)
        result = evaluate(model, train, test, params)
        write_json(args.metrics, result["metrics"])
        for name, data in result["plots"].items():
            write_json(args.plots / f"{name}.json", data)
        importance = feature_importance(model, test, params.data.target, params.model.seed)
        write_json(args.plots / "feature_importance.json", importance)
        sample = sample_request(test, list(model.feature_names_in_), categorical_columns(model))
        write_json(args.sample_request, sample)


if __name__ == "__main__":
    main()
