"""`make monitor` on logs in the service's exact format: quiet on healthy traffic, loud on drift,
skew and decay, and a clear line (never a traceback) for every kind of bad input.

One small model is trained per module on the example generator's period 0; production traffic is
later periods of the same generator (drifted with ``drift``), predicted by that model and written
by mlops.monitoring.simulate as the service writes its logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
import yaml

from mlops.data import example_data
from mlops.data.schema import load_schema, resolve_features
from mlops.hashes import file_md5
from mlops.monitoring import simulate
from mlops.monitoring.checks import run_checks
from mlops.monitoring.logs import read_logs
from mlops.monitoring.reference import Paths, load_reference, target_type
from mlops.params import parse_params
from mlops.pipeline.metrics import compute_metrics
from mlops.pipeline.model import predict
from mlops.pipeline.train import train

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEALTHY_SAMPLES, HEALTHY_RECORDS = 20, 500
DRIFT, DRIFTED_SAMPLES, DRIFTED_RECORDS = 0.5, 20, 5000  # README: `make refresh DRIFT=0.5`


@pytest.fixture(scope="module")
def project(tmp_path_factory, small_params_raw):
    """A project directory with the reference files `make run` leaves: train.parquet, metrics.json,
    schema.yaml, params.yaml and the model."""
    path = tmp_path_factory.mktemp("monitor")
    params = parse_params(small_params_raw)
    features = resolve_features(load_schema(ROOT / "schema.yaml"), params.data)
    data = example_data.generate(10_000)
    training, test = data.iloc[:8000], data.iloc[8000:]
    model = train(training, features, params)
    labels, proba = predict(model, test[list(features.all)])
    metrics = compute_metrics("binary", test["churned"], labels, proba, model.classes_)
    for name in ("artifacts", "reports", "models"):
        (path / name).mkdir()
    training.to_parquet(path / "artifacts/train.parquet")
    (path / "reports/metrics.json").write_text(json.dumps({"test": metrics}))
    (path / "schema.yaml").write_text((ROOT / "schema.yaml").read_text())
    (path / "params.yaml").write_text(yaml.safe_dump(small_params_raw))
    joblib.dump(model, path / "models/model.joblib")
    return path


@pytest.fixture(scope="module")
def setup(project, small_params_raw):
    params = parse_params(small_params_raw)
    paths = Paths(
        *(project / p for p in ("artifacts/train.parquet", "reports/metrics.json", "schema.yaml")),
        project / "models/model.joblib",
        project / "dvc.lock",
    )
    reference = load_reference(paths, params)
    model = joblib.load(paths.model)
    return reference, model, params


def traffic(root: Path, setup, rows, *, feedback: float = 0.0, flip: bool = False, version=None):
    reference, model, params = setup
    lines = simulate.request_lines(rows, reference.features, model, version or reference.model_version, 100)
    simulate.write_lines(root, "predictions", lines, per_file=5)
    if feedback:
        labels = simulate.feedback_lines(lines, rows[params.data.target], feedback, flip)
        simulate.write_lines(root, "feedback", labels, per_file=500)
    return root


def check(root: Path, setup, monitoring=None) -> dict:
    reference, _, params = setup
    target = target_type(reference.train[reference.target])
    logs = read_logs(str(root), reference.features, target, reference.class_keys)
    return run_checks(reference, logs, monitoring or params.monitoring)


def texts(result: dict, *levels: str) -> list[str]:
    return [r["text"] for r in result["reasons"] if not levels or r["level"] in levels]


def test_healthy_traffic_raises_no_alarm(tmp_path, setup):
    """20 samples of 500 in-distribution records: no alert, no warning."""
    statuses = [
        check(traffic(tmp_path / str(i), setup, example_data.generate(HEALTHY_RECORDS, 100 + i, 1)), setup)
        for i in range(HEALTHY_SAMPLES)
    ]
    assert [s["status"] for s in statuses] == ["ok"] * HEALTHY_SAMPLES, [
        texts(s, "warn", "alert") for s in statuses
    ]
    assert not any(s["retrain"] for s in statuses)
    largest = max(row["drift"]["psi"] for s in statuses for row in s["features"])
    assert largest < 0.1


def test_drifted_traffic_alerts_every_time(tmp_path, setup):
    """The example's DRIFT=0.5: every sample alerts and asks for retraining."""
    results = [
        check(
            traffic(tmp_path / str(i), setup, example_data.generate(DRIFTED_RECORDS, 200 + i, 1, DRIFT)),
            setup,
        )
        for i in range(DRIFTED_SAMPLES)
    ]
    assert [r["status"] for r in results] == ["alert"] * DRIFTED_SAMPLES
    assert all(r["retrain"] for r in results)
    assert all(any(r["check"] == "drift" for r in r["reasons"] if r["level"] == "alert") for r in results)


def test_unseen_categories_and_out_of_range_values_are_found(tmp_path, setup):
    rows = example_data.generate(1000, 300, 1)
    rows.loc[rows.index[:50], "region"] = "atlantis"
    rows.loc[rows.index[:30], "age"] = 150
    result = check(traffic(tmp_path, setup, rows), setup)
    alerts = texts(result, "alert")
    assert result["status"] == "alert" and not result["retrain"]  # skew is not in retrain_on
    assert any("region: 50 value(s) (5.00%)" in t and "'atlantis'" in t for t in alerts), alerts
    assert any("age: 30 value(s) (3.00%) outside schema.yaml's range [18, 90]" in t for t in alerts), alerts


def test_null_rate_increase_is_found(tmp_path, setup):
    rows = example_data.generate(1000, 301, 1)
    rows.loc[rows.index[:300], "tenure_months"] = None
    alerts = texts(check(traffic(tmp_path, setup, rows), setup), "alert")
    assert any(t.startswith("tenure_months: 30.0% of values are null against 0.0%") for t in alerts), alerts


def test_flipped_feedback_is_decay_and_true_feedback_is_quiet(tmp_path, setup):
    rows = example_data.generate(1000, 302, 1)
    good = check(traffic(tmp_path / "good", setup, rows, feedback=0.5), setup)
    bad = check(traffic(tmp_path / "bad", setup, rows, feedback=0.5, flip=True), setup)
    assert good["status"] == "ok", texts(good, "warn", "alert")
    assert good["performance"]["labelled"] > 400 and good["performance"]["live"] > 0.75
    assert bad["status"] == "alert" and bad["retrain"]
    assert any("roc_auc on" in t and "the model got worse" in t for t in texts(bad, "alert"))


def test_few_labels_and_few_records_give_no_verdict(tmp_path, setup):
    result = check(
        traffic(tmp_path, setup, example_data.generate(150, 303, 1), feedback=0.5, flip=True), setup
    )
    assert result["status"] == "ok"
    found = " ".join(texts(result, "info"))
    assert "Too few for a drift or null-rate verdict (monitoring.min_records: 200)" in found
    assert "Not enough feedback for a performance verdict" in found
    assert all("drift" not in row for row in result["features"])


def test_missing_and_empty_log_roots_say_so(tmp_path, setup):
    missing = check(tmp_path / "nowhere", setup)
    (tmp_path / "empty" / "predictions").mkdir(parents=True)
    empty = check(tmp_path / "empty", setup)
    assert missing["status"] == "warn" and texts(missing, "warn")[0].startswith(
        f"No logs at {tmp_path}/nowhere"
    )
    assert empty["status"] == "warn" and texts(empty, "warn")[0].startswith("No prediction records under")


def test_other_model_versions_are_left_out(tmp_path, setup):
    traffic(tmp_path, setup, example_data.generate(300, 304, 1), version="0" * 32)
    only_old = check(tmp_path, setup)
    assert only_old["status"] == "warn"
    assert any(
        "300 records from other model versions are left out: 000000000000 (300)" in t for t in texts(only_old)
    )
    assert any(t.startswith("No records from the current model") for t in texts(only_old, "warn"))


def test_corrupt_lines_and_unknown_feedback_are_counted_not_fatal(tmp_path, setup):
    traffic(tmp_path, setup, example_data.generate(1000, 305, 1), feedback=0.3)
    first, *_, last = sorted((tmp_path / "predictions").rglob("*.jsonl"))
    first.write_text(first.read_text() + "{not json\n")
    last.write_text(
        last.read_text() + '{"time": "2026-01-05T09:10:00+00:00", "request_id": "ab'
    )  # being written
    feedback = next((tmp_path / "feedback").rglob("*.jsonl"))
    feedback.write_text(
        feedback.read_text() + json.dumps({"time": "t", "prediction_id": "f" * 32 + "-0", "label": 1}) + "\n"
    )
    result = check(tmp_path, setup)
    found = texts(result, "info")
    assert result["volume"]["records"] == 1000
    assert f"1 corrupt line(s) skipped in {first}: they are not valid log lines." in found
    assert any(
        t.startswith(f"1 corrupt line(s) skipped in {last}") and "still being written" in t for t in found
    )
    assert any(t.startswith("1 feedback label(s) name predictions not in the logs read") for t in found)


def test_command_writes_reports_and_exits_by_status(tmp_path, project, setup):
    healthy = traffic(tmp_path / "healthy", setup, example_data.generate(500, 306, 1))
    drifted = traffic(tmp_path / "drifted", setup, example_data.generate(2000, 307, 1, 1.0))
    run = _command(project, "--logs", str(healthy), "--out", str(tmp_path / "ok"))
    assert run.returncode == 0, run.stderr
    verdict = json.loads((tmp_path / "ok/verdict.json").read_text())
    assert verdict["status"] == "ok" and verdict["retrain"] is False
    assert (tmp_path / "ok/report.md").read_text().startswith("## ✅ Production monitoring: OK")
    assert "<h2>Features</h2>" in (tmp_path / "ok/report.html").read_text()
    run = _command(project, "--logs", str(drifted), "--out", str(tmp_path / "alert"))
    assert run.returncode == 1 and "monitoring: alert (retrain: true)" in run.stdout


def test_command_names_a_missing_reference_file(tmp_path, project):
    run = _command(project, "--train", str(tmp_path / "train.parquet"), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert f"{tmp_path}/train.parquet is missing" in run.stderr and "dvc pull" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "out").exists()


def test_model_version_falls_back_to_dvc_lock(tmp_path, project, setup):
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("artifacts/train.parquet", "reports/metrics.json", "schema.yaml", "params.yaml"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((project / name).read_bytes())
    version = file_md5(project / "models/model.joblib")
    lock = {"stages": {"train": {"outs": [{"path": "models/model.joblib", "md5": version}]}}}
    (copy / "dvc.lock").write_text(yaml.safe_dump(lock))
    logs = traffic(tmp_path / "logs", setup, example_data.generate(300, 308, 1))
    run = _command(copy, "--logs", str(logs), "--out", "out")
    assert run.returncode == 0, run.stderr
    verdict = json.loads((copy / "out/verdict.json").read_text())
    assert verdict["model_version"] == version and verdict["volume"]["records"] == 300
    assert any("models/model.joblib is missing" in r["text"] for r in verdict["reasons"])


def test_make_monitor_passes_logs_and_since():
    dry = subprocess.run(
        ["make", "-n", "monitor", "LOGS=s3://bucket/logs", "SINCE=7d"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "mlops.monitoring.check --logs 's3://bucket/logs' --since '7d'" in dry.stdout, (
        dry.stdout + dry.stderr
    )


def _command(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mlops.monitoring.check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )


def test_the_loop_over_http_is_ok_on_example_traffic_then_alerts_on_drift(tmp_path, project):
    """The offline demo for real: `bentoml serve` logs what `make traffic` sends (records, then
    their true labels), and the check reads those logs: ok first, alert once drifted traffic came."""
    from test_service import environment, serving  # tests/integration is on sys.path

    logs = tmp_path / "logs"
    env = environment(
        MODEL_PATH=str(project / "models/model.joblib"),
        PREDICTION_LOG_DIR=str(logs),
        BENTOML_HOME=str(tmp_path / "bentoml"),
    )
    with serving("mlops.serving.service:Model", env, tmp_path / "server.log") as url:

        def send(*args: str) -> None:
            command = [sys.executable, "-m", "mlops.monitoring.traffic", url, "--feedback-delay", "0", *args]
            sent = subprocess.run(command, capture_output=True, text=True)
            assert sent.returncode == 0, sent.stderr

        send("--records", "1000", "--seed", "1")  # README: the whole loop on the example
        healthy = _command(project, "--logs", str(logs), "--out", str(tmp_path / "healthy"))
        send("--records", "3000", "--seed", "2", "--drift", "0.7")
        drifted = _command(project, "--logs", str(logs), "--out", str(tmp_path / "drifted"))

    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    verdict = json.loads((tmp_path / "healthy/verdict.json").read_text())
    assert verdict["status"] == "ok" and verdict["volume"]["records"] == 1000
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    verdict = json.loads((tmp_path / "drifted/verdict.json").read_text())
    assert verdict["status"] == "alert" and verdict["retrain"] is True
    assert verdict["volume"]["records"] == 4000
