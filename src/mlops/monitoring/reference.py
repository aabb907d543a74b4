"""What production is compared with: the training data, the contract, the test-set metric, the model.

Everything comes from the last `make run` (or `dvc pull`): artifacts/train.parquet, schema.yaml,
reports/metrics.json, and models/model.joblib or, without it, the md5 dvc.lock records for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlops.data.schema import load_schema, resolve_features
from mlops.errors import UserError
from mlops.hashes import file_md5, locked_md5
from mlops.jsonfile import read_json
from mlops.params import Features, Params


@dataclass(frozen=True)
class Paths:
    train: Path
    metrics: Path
    schema: Path
    model: Path
    lock: Path


@dataclass
class Reference:
    task: str
    target: str
    features: Features
    schema: dict[str, dict[str, Any]]
    train: pd.DataFrame  # the training rows' features and target
    classes: list  # the model's classes in its order (classifiers), as the target's type
    metric: str
    test_metric: float | None
    model_version: str | None
    predictions: np.ndarray | None = None  # the model's on the training rows: see prediction_values
    notes: list[str] = field(default_factory=list)

    @property
    def class_keys(self) -> list[str]:
        """The classes as the service writes them: the keys of each record's probabilities."""
        return [str(c) for c in self.classes]


def load_reference(paths: Paths, params: Params) -> Reference:
    """Read the reference files; a missing one is a UserError naming the file and the fix."""
    schema = load_schema(paths.schema)
    features = resolve_features(schema, params.data)
    train = _read(paths.train, lambda p: pd.read_parquet(p), "the training data")
    metrics = _read(paths.metrics, read_json, "the test-set metrics")
    target, task = params.data.target, params.data.task
    reference = Reference(
        task=task,
        target=target,
        features=features,
        schema=schema,
        train=train[[*features.all, target]],
        classes=[] if task == "regression" else np.unique(train[target].dropna()).tolist(),
        metric=params.gate.metric,
        test_metric=(metrics.get("test") or {}).get(params.gate.metric),
        model_version=None,
    )
    _add_model(reference, paths)
    return reference


def _read(path: Path, read, what: str):
    try:
        return read(path)
    except FileNotFoundError:
        raise UserError(
            f"{path} is missing: monitoring compares production with {what} of the last run. Run "
            f"`make run` to make it, or `dvc pull {path}` to fetch the copy dvc.lock records from the "
            "DVC remote (the model the service runs should be that run's)."
        )


def _add_model(reference: Reference, paths: Paths) -> None:
    """The current model's version, and its predictions on the training rows for prediction drift."""
    if paths.model.is_file():
        import joblib

        from mlops.pipeline.model import predict

        reference.model_version = file_md5(paths.model)
        model = joblib.load(paths.model)
        labels, proba = predict(model, reference.train[list(reference.features.all)])
        if reference.classes:
            reference.classes = list(model.classes_)
        reference.predictions = prediction_values(reference.task, labels, proba)
        return
    reference.model_version = locked_md5(paths.lock, paths.model)
    found = f"the version dvc.lock records ({reference.model_version})" if reference.model_version else None
    reference.notes.append(
        f"{paths.model} is missing, so the predictions' drift is not checked"
        + (f"; the current model is taken to be {found}" if found else "")
        + f". Run `dvc pull {paths.model}` (or `make run`) to check it."
    )


def prediction_values(task: str, labels: np.ndarray, proba: np.ndarray | None) -> np.ndarray:
    """What prediction drift compares: the positive class's probability (binary), the predicted
    class as text (multiclass) or the predicted value (regression)."""
    if task == "binary" and proba is not None:
        return np.asarray(proba[:, 1], dtype=float)
    if task == "regression":
        return np.asarray(labels, dtype=float)
    return np.asarray([str(label) for label in labels], dtype=object)


def target_type(values: pd.Series) -> pa.DataType:
    """The Arrow type of the target, as logged predictions and feedback labels carry it."""
    if pd.api.types.is_bool_dtype(values):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(values):
        return pa.int64()
    if pd.api.types.is_float_dtype(values):
        return pa.float64()
    return pa.string()
