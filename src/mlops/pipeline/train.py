"""Stage train: fit the preprocessing-plus-estimator Pipeline on the training set."""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from mlops.data.schema import load_schema, resolve_features
from mlops.errors import cli
from mlops.params import Features, Params, load_params
from mlops.pipeline.model import build_pipeline, make_estimator
from mlops.timings import timed


def train(frame: pd.DataFrame, features: Features, params: Params) -> Pipeline:
    """Fit and return the whole Pipeline."""
    estimator = make_estimator(params.model, params.data.task)
    pipeline = build_pipeline(features, estimator)
    return pipeline.fit(frame[list(features.all)], frame[params.data.target])


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train", type=Path, help="training set (Parquet)")
    parser.add_argument("schema", type=Path)
    parser.add_argument("model", type=Path, help="model file to write (joblib)")
    args = parser.parse_args()
    with timed("train"):
        params = load_params()
        features = resolve_features(load_schema(args.schema), params.data)
        model = train(pd.read_parquet(args.train), features, params)
        args.model.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, args.model)


if __name__ == "__main__":
    main()
