"""`make run` end to end: every task, a re-run with nothing changed, determinism, a failing gate."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from pipeline_project import Completed, Project

from mlops.data.schema import load_schema, resolve_features
from mlops.params import parse_params

pytestmark = pytest.mark.integration

STAGES = ("validate_data", "split", "train", "evaluate", "validate_model")
MADE_FROM_SCRATCH = (
    "models/model.joblib",
    "artifacts/train.parquet",
    "artifacts/test.parquet",
    "reports/metrics.json",
    "reports/sample_request.json",
    "reports/plots/feature_importance.json",
    "reports/plots/roc.json",
)
HTML = ("data_integrity", "train_test_validation", "model_evaluation")


def _json(project: Project, relative: str):
    return json.loads(project.file(relative).read_text())


def test_end_to_end(task_run: Completed):
    project, result = task_run.project, task_run.result
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.stderr
    for stage in STAGES:
        assert f"Running stage '{stage}'" in result.stdout
    assert "Gate: PASS" in result.stdout
    assert "Report: reports/report.md" in result.stdout

    params = parse_params(project.params())
    gate = _json(project, "reports/gate.json")
    metrics = _json(project, "reports/metrics.json")
    assert gate["verdict"] == "pass"
    assert gate["metric"] == params.gate.metric
    assert gate["value"] == metrics["test"][params.gate.metric] >= params.gate.min
    assert set(metrics) == {"train", "test"}

    report = project.file("reports/report.md").read_text()
    assert report.splitlines()[0] == "## ✅ Model gate: PASS"
    assert f"| **{params.gate.metric}** (gate) | — |" in report
    assert (
        "Not compared with main: there is no main branch here, so there is nothing to compare with." in report
    )
    # Every default Deepchecks check ran, or was skipped on purpose with its reason.
    summaries = [_json(project, "reports/data_validation.json")["deepchecks"]]
    summaries += _json(project, "reports/model_validation.json").values()
    assert [e for s in summaries for e in s["errored"]] == []
    assert all(skipped["reason"] for s in summaries for skipped in s["skipped"])

    features = resolve_features(load_schema(project.file("schema.yaml")), params.data)
    request = _json(project, "reports/sample_request.json")
    assert list(request) == ["records"]
    assert request["records"]
    for record in request["records"]:
        assert list(record) == list(features.all)
    assert params.data.target not in request["records"][0]
    assert params.data.id_column not in request["records"][0]

    for name in HTML:
        assert project.file(f"reports/{name}.html").stat().st_size > 10_000
    assert project.file("models/model.joblib").is_file()


def test_rerun_with_nothing_changed_reproduces_nothing(completed: Project):
    kept = ("models/model.joblib", "reports/metrics.json", "dvc.lock", "reports/timings/train.json")
    before = completed.snapshot(*kept)
    result = completed.mlops()
    assert result.returncode == 0, result.output
    assert "Every stage is up to date: nothing to reproduce." in result.stdout
    assert "Running stage" not in result.stdout
    assert "Gate: PASS" in result.stdout
    assert completed.snapshot(*kept) == before


def test_second_run_from_scratch_gives_the_same_outputs_and_lock(completed: Project):
    """`make run` after deleting what split and every later stage made, in another directory: byte
    for byte the same outputs, Deepchecks' HTML reports included, so dvc.lock does not change.
    (validate_data's report is checked across processes in test_html_determinism.)"""
    first = completed.snapshot(*MADE_FROM_SCRATCH, *(f"reports/{name}.html" for name in HTML))
    lock_text = completed.file("dvc.lock").read_text()
    lock = yaml.safe_load(lock_text)["stages"]
    rerun = STAGES[1:]
    for stage in rerun:
        for out in lock[stage]["outs"]:
            path = completed.file(out["path"])
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            if out["path"].endswith((".parquet", ".joblib", ".html")):
                # Nor in DVC's cache, so DVC runs the stage instead of restoring its outputs.
                md5 = out["md5"]
                completed.file(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}").unlink()
    shutil.rmtree(completed.file(".dvc/cache/runs"))

    result = completed.mlops()

    assert result.returncode == 0, result.output
    for stage in rerun:
        assert f"Running stage '{stage}'" in result.stdout
    assert completed.snapshot(*first) == first
    assert completed.file("dvc.lock").read_text() == lock_text


def test_model_below_the_minimum_fails_the_gate(completed: Project):
    value = _json(completed, "reports/gate.json")["value"]
    completed.update_params({"gate": {"min": 0.99}})
    assert value < 0.99
    model = completed.snapshot("models/model.joblib")

    result = completed.mlops()
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.stderr
    assert "Gate: FAIL" in result.stdout
    assert "Every stage is up to date" in result.stdout  # the gate's params are no stage's params
    gate = _json(completed, "reports/gate.json")
    assert gate["verdict"] == "fail"
    report = completed.file("reports/report.md").read_text()
    assert report.splitlines()[0] == "## ❌ Model gate: FAIL"
    assert f"- ❌ test roc_auc {value:.4f} < minimum 0.99" in report
    assert completed.snapshot("models/model.joblib") == model
