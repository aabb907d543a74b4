"""champion: which basis a comparison with main can rest on, and main's model on this change's rows."""

from __future__ import annotations

import copy

import pytest

from mlops.data.schema import infer_schema, resolve_features
from mlops.params import Params, parse_params
from mlops.pipeline.train import train
from mlops.review import champion

TEST_MD5 = "1" * 32


def lock(test_md5: str = TEST_MD5, model_md5: str | None = "2" * 32) -> dict:
    """A dvc.lock with the split's test set and the trained model, as DVC writes it."""
    stages = {"split": {"outs": [{"path": champion.TEST_SET, "md5": test_md5}]}}
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
    assert (basis, reason) == (champion.RESCORED, "main's model scored on this change's test set")


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


@pytest.fixture(scope="module")
def fitted(small_params_raw: dict, _churn):
    """A real model trained on the synthetic churn table, and its params."""
    params = parse_params(copy.deepcopy(small_params_raw))
    features = resolve_features(infer_schema(_churn, params.data), params.data)
    return train(_churn, features, params), params


def test_rescore_gives_the_same_metrics_and_curves_as_evaluate(fitted, churn):
    from mlops.pipeline import metrics
    from mlops.pipeline.model import predict

    model, params = fitted
    scores, curves = champion.rescore(model, churn, params)
    y_pred, proba = predict(model, churn)
    assert scores == {
        "test": metrics.compute_metrics("binary", churn["churned"], y_pred, proba, model.classes_)
    }
    assert set(curves) == {"roc", "precision_recall"}
    assert curves["roc"] == metrics.classification_plots(churn["churned"], proba, model.classes_)["roc"]


def test_rescore_refuses_rows_without_the_models_columns(fitted, churn):
    model, params = fitted
    with pytest.raises(
        champion.Incomparable, match="main's model uses column\\(s\\) this change's data lacks: 'age'"
    ):
        champion.rescore(model, churn.drop(columns="age"), params)


def test_rescore_refuses_labels_the_model_never_saw(fitted, churn):
    model, params = fitted
    relabelled = churn.assign(churned=churn["churned"].map({0: "no", 1: "yes"}))
    with pytest.raises(
        champion.Incomparable, match="this test set has label\\(s\\) main's model never saw: 'no', 'yes'"
    ):
        champion.rescore(model, relabelled, params)


def test_rescore_refuses_a_classifier_for_regression(fitted, churn, raw_params: dict):
    model, _ = fitted
    raw_params["data"].update(task="regression", target="monthly_charges")
    raw_params["gate"].update(metric="r2", min=0.5)
    with pytest.raises(
        champion.Incomparable, match="main's model is a classifier and this change's task is regression"
    ):
        champion.rescore(model, churn, parse_params(raw_params))


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
    import json
    import subprocess

    import joblib
    import pandas as pd
    import yaml
    from dvc.repo import Repo

    from mlops.review.gate import compare_with_main

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    model_md5 = "0123456789abcdef0123456789abcdef"
    git("init", "-q", "-b", "main")
    (tmp_path / "reports").mkdir()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw_params))
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock(model_md5=model_md5)))
    (tmp_path / "reports" / "metrics.json").write_text(json.dumps(main_metrics()))
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main")
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
