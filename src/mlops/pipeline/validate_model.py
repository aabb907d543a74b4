"""Stage validate_model: Deepchecks train-test validation and model evaluation on bounded samples."""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from mlops.data.schema import load_schema, resolve_features
from mlops.errors import cli
from mlops.jsonfile import read_json, write_json
from mlops.params import Features, Params, load_params
from mlops.pipeline import checks, metrics, suites
from mlops.pipeline.model import predict
from mlops.timings import timed


def validate(
    model: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    importance: pd.Series,
    features: Features,
    params: Params,
) -> dict:
    """Run both suites with the model's own predictions; return {suite name: result}."""
    n, seed, task = params.validation.n_samples, params.model.seed, params.data.task
    target = params.data.target
    # Disjoint indexes, or Deepchecks renames them and warns (it aligns predictions by index). The test
    # set's index starts at 0: on a test set of one class, Simple Model Comparison looks its first
    # label up as label 0 (a KeyError otherwise).
    test = test.sample(min(n, len(test)), random_state=seed).reset_index(drop=True)
    # Samples Mix compares the test rows with every training row (up to SAMPLES_MIX_ROWS): copies hide
    # in a sample. It needs no predictions, so the other checks keep their sample of n rows.
    every = train.sample(min(max(n, checks.SAMPLES_MIX_ROWS), len(train)), random_state=seed)
    every = every.set_axis(range(len(test), len(test) + len(every)))
    train = every.iloc[:n]
    (y_pred_train, y_proba_train), (y_pred_test, y_proba_test) = (
        predict(model, train),
        predict(model, test),
    )
    inputs = {
        "train_dataset": suites.make_dataset(train, features, params.data, "train"),
        "test_dataset": suites.make_dataset(test, features, params.data, "test"),
        "feature_importance": importance,
        "y_pred_train": y_pred_train,
        "y_pred_test": y_pred_test,
    }
    skip = checks.skipped(params.data, params.validation)
    if y_proba_train is not None:
        inputs.update(
            y_proba_train=y_proba_train,
            y_proba_test=y_proba_test,
            model_classes=list(model.classes_),
        )
        skip |= checks.skipped_for_new_classes(metrics.unseen_classes(test[target], model.classes_))
    mix = checks.samples_mix_allowed(every, [*features.all, target], len(test))
    mix_inputs = {
        "train_dataset": suites.make_dataset(every, features, params.data, "train"),
        "test_dataset": inputs["test_dataset"],
    }
    return {
        "train_test_validation": suites.run_suite(
            suites.train_test_validation(task, n, seed, mix),
            skip,
            {"Train Test Samples Mix": mix_inputs},
            **inputs,
        ),
        "model_evaluation": suites.run_suite(suites.model_evaluation(task, n, seed), skip, **inputs),
    }


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("model", "train", "test", "schema", "importance", "summary", "html_dir"):
        parser.add_argument(name, type=Path)
    args = parser.parse_args()
    with timed("validate_model"):
        params = load_params()
        features = resolve_features(load_schema(args.schema), params.data)
        importance = pd.DataFrame(read_json(args.importance)).set_index("feature")["importance"].clip(lower=0)
        results = validate(
            joblib.load(args.model),
            pd.read_parquet(args.train),
            pd.read_parquet(args.test),
            importance,
            features,
            params,
        )
        summaries = {name: suites.summarize(r) for name, r in results.items()}
        write_json(args.summary, summaries)
        for name, result in results.items():
            suites.save_html(result, args.html_dir / f"{name}.html")


if __name__ == "__main__":
    main()
