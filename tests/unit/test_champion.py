"""champion: which basis a comparison with main can rest on, which test rows main's model trained
on, and both models scored on the rest."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlops.data.schema import infer_schema, resolve_features
from mlops.params import Params, parse_params
from mlops.pipeline import metrics
from mlops.pipeline.model import predict
from mlops.pipeline.split import split
from mlops.pipeline.train import train
from mlops.review import champion

TEST_MD5 = "1" * 32


def lock(
    test_md5: str = TEST_MD5, model_md5: str | None = "2" * 32, train_md5: str | None = "4" * 32
) -> dict:
    """A dvc.lock with the split's train and test sets and the trained model, as DVC writes it."""
    outs = [{"path": champion.TEST_SET, "md5": test_md5}]
    outs += [{"path": champion.TRAIN_SET, "md5": train_md5}] if train_md5 else []
    stages = {"split": {"outs": outs}}
    if model_md5:
        stages["train"] = {"outs": [{"path": champion.MODEL, "md5": model_md5}]}
    return {"schema": "2.0", "stages": stages}


def main_metrics(value: float = 0.8) -> dict:
    return {"train": {"roc_auc": 0.9}, "test": {"roc_auc": value}}


def test_same_test_set_uses_mains_committed_metrics(params: Params, raw_params: dict):
    basis, reason = champion.choose_basis(params, lock(), raw_params, lock(), main_metrics())
    assert basis == champion.SAME_TEST_SET
    assert reason == "same test set as main (same data and split): main's committed test metrics"


def test_a_new_test_set_rescores_mains_model(params: Params, raw_params: dict):
    basis, reason = champion.choose_basis(params, lock("3" * 32), raw_params, lock(), main_metrics())
    assert (basis, reason) == (
        champion.RESCORED,
        "main's model and this change's on the test rows main never trained on",
    )


def test_main_without_a_run_is_no_comparison(params: Params, raw_params: dict):
    basis, reason = champion.choose_basis(params, lock(), raw_params, None, None)
    assert basis == champion.NONE
    assert reason == "main has no committed run yet, so there is nothing to compare with"


def test_another_target_or_task_cannot_be_compared(params: Params, raw_params: dict):
    theirs = copy.deepcopy(raw_params)
    theirs["data"].update(task="multiclass", target="plan")
    basis, reason = champion.choose_basis(params, lock(), theirs, lock(), main_metrics())
    assert basis == champion.NONE
    assert reason == (
        "main's model predicts 'plan' (multiclass) and this change's predicts 'churned' (binary), "
        "so their scores cannot be compared"
    )


def test_same_test_set_without_the_gate_metric_rescores(params: Params, raw_params: dict):
    basis, _ = champion.choose_basis(params, lock(), raw_params, lock(), {"test": {"f1": 0.5}})
    assert basis == champion.RESCORED


def test_main_lock_without_a_model_is_no_comparison(params: Params, raw_params: dict):
    basis, reason = champion.choose_basis(params, lock("3" * 32), raw_params, lock(model_md5=None), {})
    assert (basis, reason) == (champion.NONE, "main's dvc.lock records no models/model.joblib")


def test_main_lock_without_a_training_set_is_no_comparison(params: Params, raw_params: dict):
    basis, reason = champion.choose_basis(params, lock("3" * 32), raw_params, lock(train_md5=None), {})
    assert basis == champion.NONE
    assert reason == "main's dvc.lock records no artifacts/train.parquet, the rows its model trained on"


@pytest.fixture(scope="module")
def fitted(small_params_raw: dict, _churn):
    """A real model trained on the synthetic churn table, and its params."""
    params = parse_params(copy.deepcopy(small_params_raw))
    features = resolve_features(infer_schema(_churn, params.data), params.data)
    return train(_churn, features, params), params


def test_score_gives_the_same_metrics_and_curves_as_evaluate(fitted, churn):
    model, params = fitted
    scores, curves = champion.score(model, churn, params)
    y_pred, proba = predict(model, churn)
    assert scores == {
        "test": metrics.compute_metrics("binary", churn["churned"], y_pred, proba, model.classes_)
    }
    assert set(curves) == {"roc", "precision_recall"}
    assert curves["roc"] == metrics.classification_plots(churn["churned"], proba, model.classes_)["roc"]


def test_rows_without_the_models_columns_are_incomparable(fitted, churn):
    model, params = fitted
    with pytest.raises(
        champion.Incomparable, match="main's model uses column\\(s\\) this change's data lacks: 'age'"
    ):
        champion.check_compatible(model, churn.drop(columns="age"), params)


def test_labels_the_model_never_saw_are_incomparable(fitted, churn):
    model, params = fitted
    relabelled = churn.assign(churned=churn["churned"].map({0: "no", 1: "yes"}))
    with pytest.raises(
        champion.Incomparable, match="this test set has label\\(s\\) main's model never saw: 'no', 'yes'"
    ):
        champion.check_compatible(model, relabelled, params)


def test_a_classifier_for_regression_is_incomparable(fitted, churn, raw_params: dict):
    model, _ = fitted
    raw_params["data"].update(task="regression", target="monthly_charges")
    raw_params["gate"].update(metric="r2", min=0.5)
    with pytest.raises(
        champion.Incomparable, match="main's model is a classifier and this change's task is regression"
    ):
        champion.check_compatible(model, churn, parse_params(raw_params))


def random_split(frame: pd.DataFrame, params: Params, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The split stage's random split (data.datetime_column: null) with this split.seed."""
    data = dataclasses.replace(params.data, datetime_column=None)
    return split(frame, data, dataclasses.replace(params.split, seed=seed))


@pytest.fixture(scope="module")
def reseeded(fitted) -> dict:
    """main's run and a change's on the same table, split at random: the change set split.seed 7.
    2,000 rows, so that the test rows main never trained on are enough to compare (about 80)."""
    from mlops.data import example_data

    _, params = fitted
    params = dataclasses.replace(params, data=dataclasses.replace(params.data, datetime_column=None))
    table = example_data.generate(rows=2000)
    features = resolve_features(infer_schema(table, params.data), params.data)
    main_train, _ = random_split(table, params, params.split.seed)
    train_set, test = random_split(table, params, 7)
    return {
        "params": params,
        "main_model": train(main_train, features, params),
        "main_train": main_train,
        "model": train(train_set, features, params),
        "test": test,
    }


def test_rows_main_trained_on_are_found_by_id(reseeded):
    test, main_train, params = reseeded["test"], reseeded["main_train"], reseeded["params"]
    columns = champion.identity_columns(reseeded["main_model"], test, main_train, params.data)
    assert columns == ["customer_id"]
    seen = champion.seen_rows(test, main_train, columns)
    assert (seen == test["customer_id"].isin(main_train["customer_id"])).all()
    assert 0 < seen.sum() < len(test)  # another seed: most of this test set was main's training set


def test_without_ids_rows_are_the_same_when_features_and_target_are(reseeded, tmp_path):
    """No id column: the values of main's model's features and the target, whatever dtypes the two
    Parquet files gave them (ints as floats, text as categories, NaN as None)."""
    test, main_train, params = reseeded["test"], reseeded["main_train"], reseeded["params"]
    no_ids = dataclasses.replace(params.data, id_column=None)
    main_train.to_parquet(tmp_path / "train.parquet", index=False)
    stored = pd.read_parquet(tmp_path / "train.parquet").astype({"age": "float64", "region": "category"})
    stored["payment_method"] = stored["payment_method"].astype(object).where(stored["payment_method"].notna())
    columns = champion.identity_columns(reseeded["main_model"], test, stored, no_ids)
    assert columns == [*reseeded["main_model"].feature_names_in_, "churned"]
    seen = champion.seen_rows(test, stored, columns)
    assert (seen == test["customer_id"].isin(main_train["customer_id"])).all()


def test_missing_values_are_the_same_as_missing_values_only():
    test = pd.DataFrame(
        {
            "x": [1.0, np.nan, np.nan, 2.0, -0.0],
            "code": ["3", None, "4", np.nan, "1"],
            "y": [0, 1, 0, 1, 0],
        }
    )
    train = pd.DataFrame(
        {
            "x": pd.array([1, pd.NA, 5, 2, 0], dtype="Int64"),
            "code": [3.0, np.nan, 4.0, 0.0, 1.0],
            "y": [0, 1, 0, 1, 0],
        }
    )
    seen = champion.seen_rows(test, train, ["x", "code", "y"])
    assert seen.tolist() == [True, True, False, False, True]


def test_a_time_split_leaves_nothing_out_and_keeps_the_rescoring(fitted, churn):
    """The new test rows are all later than main's training rows: nothing is left out, main's model
    is scored on the whole test set as before, and this change's model is not even loaded."""
    from mlops.data import example_data

    model, params = fitted
    main_train, _ = split(churn, params.data, params.split)
    _, test = split(pd.concat([churn, example_data.generate(rows=600, period=1)]), params.data, params.split)
    for data in (params.data, dataclasses.replace(params.data, id_column=None)):
        columns = champion.identity_columns(model, test, main_train, data)
        assert columns[-1] == ("customer_id" if data.id_column else "signup_date")
        assert not champion.seen_rows(test, main_train, columns).any()

    def never() -> None:
        raise AssertionError("this change's model was loaded")

    compared = champion.score_unseen(model, test, np.zeros(len(test), bool), never, params)
    scores, curves = champion.score(model, test, params)
    assert compared["metrics"] == scores and compared["plots"] == curves
    assert (compared["rows"], compared["excluded"], compared["challenger_metrics"]) == (len(test), 0, None)
    assert (
        compared["reason"] == f"main's model on this test set's {len(test)} rows, none of which it trained on"
    )


def test_both_models_are_scored_on_the_rows_main_never_trained_on(reseeded):
    main_model, model, test, params = (reseeded[k] for k in ("main_model", "model", "test", "params"))
    seen = champion.seen_rows(test, reseeded["main_train"], ["customer_id"])
    compared = champion.score_unseen(main_model, test, seen, lambda: model, params)
    unseen = test[~seen]
    assert (compared["rows"], compared["excluded"]) == (len(unseen), seen.sum())
    assert compared["reason"] == (
        f"main's model and this change's on the {len(unseen)} test rows main never trained on"
    )
    for key, scored in (("metrics", main_model), ("challenger_metrics", model)):
        y_pred, proba = predict(scored, unseen)
        expected = metrics.compute_metrics("binary", unseen["churned"], y_pred, proba, scored.classes_)
        assert compared[key] == {"test": expected}
    assert set(compared["plots"]) == set(compared["challenger_plots"]) == {"roc", "precision_recall"}
    # What the audit found: on the whole test set, main's model is scored partly on its training rows.
    inflated = champion.score(main_model, test, params)[0]["test"]["roc_auc"]
    assert inflated > compared["metrics"]["test"]["roc_auc"] + 0.02


def test_too_few_rows_left_skip_the_comparison_with_the_reason(fitted, churn):
    model, params = fitted
    with pytest.raises(champion.Incomparable) as few:
        champion.score_unseen(model, churn.head(100), np.arange(100) >= 10, lambda: model, params)
    assert str(few.value) == (
        "only 10 of this change's 100 test rows were not in main's training set, fewer than the 30 "
        "a meaningful comparison needs"
    )
    with pytest.raises(champion.Incomparable) as small:
        champion.score_unseen(model, churn.head(20), np.zeros(20, bool), lambda: model, params)
    assert (
        str(small.value)
        == "this change's test set has only 20 rows, fewer than the 30 a meaningful comparison needs"
    )


def test_a_class_missing_from_the_rows_left_skips_the_comparison(fitted, churn):
    model, params = fitted
    seen = (churn["churned"] == 1).to_numpy()
    with pytest.raises(champion.Incomparable) as missing:
        champion.score_unseen(model, churn, seen, lambda: model, params)
    assert (
        str(missing.value) == f"the {(~seen).sum()} test rows main never trained on have no rows of class '1'"
    )


def test_a_model_this_code_cannot_load_is_no_comparison(tmp_path, monkeypatch):
    """A real DVC repository whose cache holds main's model file, but not one this code can unpickle."""
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    md5 = "0123456789abcdef0123456789abcdef"
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a pickle of this code's classes")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(champion.Incomparable, match="main's model could not be loaded by this change's code"):
        champion.fetch_model("main", md5)


def test_a_model_in_no_cache_and_no_remote_is_no_comparison(tmp_path, monkeypatch):
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        champion.Incomparable, match="is not in the DVC cache and no DVC remote is configured"
    ):
        champion.fetch_model("main", "f" * 32)


def commit_main(path, raw_params: dict, main_lock: dict) -> None:
    """A git repository at ``path`` whose branch main holds a run: params, dvc.lock and metrics."""
    import json
    import subprocess

    import yaml

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (path / "reports").mkdir()
    (path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    (path / "dvc.lock").write_text(yaml.safe_dump(main_lock))
    (path / "reports" / "metrics.json").write_text(json.dumps(main_metrics()))
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main")


def test_compare_scores_both_models_on_the_rows_main_never_trained_on(
    tmp_path, monkeypatch, raw_params: dict, reseeded
):
    """The wiring: main's model and training set by the md5s main's dvc.lock records, this
    change's test set and model, and the numbers the gate compares."""
    from mlops.review.gate import decide

    commit_main(tmp_path, raw_params, lock(model_md5="5" * 32, train_md5="6" * 32))
    monkeypatch.chdir(tmp_path)
    asked = []
    load = champion.Loaders(
        main_model=lambda ref, md5: asked.append(("model", ref, md5)) or reseeded["main_model"],
        main_train=lambda ref, md5: asked.append(("train", ref, md5)) or reseeded["main_train"],
        test=lambda: reseeded["test"],
        model=lambda: reseeded["model"],
    )
    params = reseeded["params"]
    comparison = champion.compare(params, lock("3" * 32), load).as_dict()
    assert asked == [("model", "main", "5" * 32), ("train", "main", "6" * 32)]
    rows = comparison["rows"]
    assert comparison["basis"] == champion.RESCORED and rows + comparison["excluded"] == len(reseeded["test"])
    assert (
        comparison["reason"]
        == f"main's model and this change's on the {rows} test rows main never trained on"
    )

    whole_test_set = {"test": {"roc_auc": 0.99}}  # this change's metrics.json: not the rows compared
    result = decide(whole_test_set, comparison, [], params.gate, params.validation)
    ours, main = comparison["challenger_metrics"]["test"]["roc_auc"], comparison["metrics"]["test"]["roc_auc"]
    assert (result["value"], result["baseline"]) == (0.99, main)
    assert result["reasons"][1]["text"].startswith(
        f"test roc_auc {ours:.4f} vs main {main:.4f} (main's model and this change's on the {rows} test "
        "rows main never trained on): change"
    )


class Planted:
    """A pickle that leaves a file behind when loaded: what a planted "model" would run."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (self.marker,))


def test_the_trusted_build_never_loads_mains_model(tmp_path, monkeypatch, raw_params: dict):
    """main's dvc.lock names a model the DVC cache holds (planted there, say) and the test set
    changed: a pull request's run loads it to rescore, the trusted build (deploy.yml) does not."""
    import joblib
    import yaml
    from dvc.repo import Repo

    from mlops.review.gate import compare_with_main

    model_md5 = "0123456789abcdef0123456789abcdef"
    commit_main(tmp_path, raw_params, lock(model_md5=model_md5))
    Repo.init(str(tmp_path)).close()
    marker = tmp_path / "planted-model-ran"
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / model_md5[:2] / model_md5[2:]
    cached.parent.mkdir(parents=True)
    joblib.dump(Planted(marker), cached)
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock("3" * 32)))  # this change's new test set
    pd.DataFrame({"churned": [0, 1]}).to_parquet(tmp_path / "test.parquet")
    monkeypatch.chdir(tmp_path)
    params = parse_params(raw_params)

    trusted = compare_with_main(params, tmp_path / "test.parquet", trusted=True)
    assert trusted["basis"] == champion.NONE and not marker.exists()
    assert trusted["reason"].startswith("the trusted build loads no model it did not train")
    compare_with_main(params, tmp_path / "test.parquet")
    assert marker.exists()  # what the trusted build avoided: loading it runs its code
