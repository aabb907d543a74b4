"""The model service over real HTTP: `bentoml serve` in a subprocess on a free loopback port.

It serves models/model.joblib, or, in a fresh clone where the pipeline has not run, a small model
trained here with the real params.yaml and schema.yaml. Most tests share one server; the log's
limits (rotation, truncation, the cap, shipping) get a second one with tiny limits.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest
import yaml

from mlops.data.example_data import generate
from mlops.data.schema import load_schema, resolve_features
from mlops.hashes import file_md5
from mlops.params import load_params
from mlops.pipeline.model import predict
from mlops.pipeline.train import train
from mlops.serving.prediction_log import is_open, log_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_TIMEOUT = 180


@dataclass
class Server:
    url: str
    log: Path  # the prediction log directory (PREDICTION_LOG_DIR)
    output: Path  # what the server printed


def log_lines(directory: Path, kind: str = "predictions") -> list[dict[str, Any]]:
    """Every line of one kind of log file, parsed."""
    files = [path for path in log_files(directory) if path.parts[-3] == kind]
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = ROOT / "models" / "model.joblib"
    if path.is_file():
        return path
    params = load_params(ROOT / "params.yaml")
    features = resolve_features(load_schema(ROOT / "schema.yaml"), params.data)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    joblib.dump(train(generate(2000), features, params), path)
    return path


@pytest.fixture(scope="module")
def sample(model_path: Path) -> dict[str, list[dict[str, Any]]]:
    path = ROOT / "reports" / "sample_request.json"
    if path.is_file():
        return json.loads(path.read_text())
    columns = list(joblib.load(model_path).feature_names_in_)
    return {"records": json.loads(generate(3, seed=1)[columns].to_json(orient="records"))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "BENTOML_DO_NOT_TRACK": "True", **extra}


@pytest.fixture(scope="module")
def bentoml_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bentoml")


@pytest.fixture(scope="module")
def server(
    model_path: Path, bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("serve")
    log = work / "monitoring"
    env = environment(MODEL_PATH=str(model_path), PREDICTION_LOG_DIR=str(log), BENTOML_HOME=str(bentoml_home))
    with serving("mlops.serving.service:Model", env, work / "server.log") as url:
        yield Server(url, log, work / "server.log")


@contextlib.contextmanager
def serving(target: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """`bentoml serve TARGET` from the project root until the block ends; yields the base URL."""
    port = free_port()
    command = [str(BIN / "bentoml"), "serve", target, "--host", HOST, "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        yield wait_until_ready(f"http://{HOST}:{port}", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def eventually(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until ``condition()`` holds (background work on a busy machine), at most ``seconds``;
    the caller then asserts what it needs, so a timeout fails there with the details."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


def wait_until_ready(url: str, process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"bentoml serve exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url
        time.sleep(0.5)
    pytest.fail(f"bentoml serve was not ready within {START_TIMEOUT} s:\n{log.read_text()}")


def post(url: str, body: Any, route: str = "/predict") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{url}{route}", content=content, headers={"Content-Type": "application/json"}, timeout=60
    )


def test_sample_request_matches_in_process_predict(server: Server, model_path: Path, sample: dict) -> None:
    response = post(server.url, sample)
    assert response.status_code == 200, response.text
    model = joblib.load(model_path)
    labels, proba = predict(model, pd.DataFrame(sample["records"]))
    answer = response.json()
    assert answer["predictions"] == labels.tolist()
    expected = [dict(zip(map(str, model.classes_), row, strict=True)) for row in proba.tolist()]
    assert len(answer["probabilities"]) == len(expected)
    for got, want in zip(answer["probabilities"], expected, strict=True):
        assert got == pytest.approx(want)
    assert answer["model_version"] == file_md5(model_path)
    request_id = answer["prediction_ids"][0].rsplit("-", 1)[0]
    assert re.fullmatch("[0-9a-f]{32}", request_id)
    assert answer["prediction_ids"] == [f"{request_id}-{i}" for i in range(len(sample["records"]))]


def test_many_records_are_answered_in_order(server: Server, model_path: Path) -> None:
    columns = list(joblib.load(model_path).feature_names_in_)
    records = json.loads(generate(300, seed=3)[columns].to_json(orient="records"))
    response = post(server.url, {"records": records})
    assert response.status_code == 200, response.text
    labels, _ = predict(joblib.load(model_path), pd.DataFrame(records))
    assert response.json()["predictions"] == labels.tolist()


def broken_bodies(record: dict[str, Any]) -> list[tuple[str, Any, str, str]]:
    """(case, body, field the error must name, problem it must name)."""
    numeric, categorical = first_column(record, float), first_column(record, str)
    missing = {k: v for k, v in record.items() if k != numeric}
    return [
        ("malformed JSON", b'{"records": [', "", "json_invalid"),
        ("empty list", {"records": []}, "records", "too_short"),
        ("no records key", {"rows": [record]}, "records", "missing"),
        ("missing column", {"records": [missing]}, numeric, "missing"),
        ("extra column", {"records": [{**record, "customer_id": "C1"}]}, "customer_id", "extra_forbidden"),
        ("text for a number", {"records": [{**record, numeric: "many"}]}, numeric, "float_type"),
        ("number for a category", {"records": [{**record, categorical: 3}]}, categorical, "string_type"),
        ("not finite", {"records": [{**record, numeric: float("nan")}]}, numeric, "finite_number"),
    ]


def first_column(record: dict[str, Any], kind: type) -> str:
    return next(k for k, v in record.items() if isinstance(v, kind) and not isinstance(v, bool))


def test_broken_bodies_are_4xx_naming_field_and_problem(server: Server, sample: dict) -> None:
    record = {k: (float(v) if isinstance(v, int) else v) for k, v in sample["records"][0].items()}
    for case, body, field, problem in broken_bodies(record):
        response = post(server.url, body)
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        errors = response.json()["detail"]
        assert any(e["type"] == problem and (not field or field in e["loc"]) for e in errors), (case, errors)


def test_an_invalid_request_is_one_warning_line_in_the_server_log(server: Server) -> None:
    assert post(server.url, {"records": [{"unknown": 1}]}).status_code == 400
    eventually(lambda: "answered 400" in server.output.read_text(), seconds=10)
    output = server.output.read_text()
    assert "[WARNING]" in output and "Invalid request on /predict [POST], answered 400 with" in output
    assert "Traceback" not in output and "[ERROR]" not in output


def test_body_not_declared_json_is_415(server: Server, sample: dict) -> None:
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
        response = httpx.post(
            f"{server.url}/predict", content=json.dumps(sample), headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["error"]


def test_probes_and_metrics(server: Server, sample: dict) -> None:
    assert httpx.get(f"{server.url}/livez").status_code == 200
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    post(server.url, sample)
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    assert 'bentoml_service_request_total{endpoint="/predict",http_response_code="200"' in metrics.text


def test_each_request_is_logged_with_its_id_inputs_and_outputs(
    server: Server, model_path: Path, sample: dict
) -> None:
    answer = post(server.url, sample).json()
    request_id = answer["prediction_ids"][0].rsplit("-", 1)[0]
    [logged] = [line for line in log_lines(server.log) if line["request_id"] == request_id]
    assert logged["records"] == sample["records"]
    assert logged["predictions"] == answer["predictions"]
    assert logged["probabilities"] == answer["probabilities"]
    assert logged["model_version"] == file_md5(model_path)
    assert logged["truncated"] == []
    assert set(logged) == {
        "time",
        "request_id",
        "model_version",
        "records",
        "predictions",
        "probabilities",
        "truncated",
    }


def predict_ids(server: Server, sample: dict) -> list[str]:
    response = post(server.url, sample)
    assert response.status_code == 200, response.text
    return response.json()["prediction_ids"]


def test_feedback_is_accepted_and_stored_one_line_per_label(server: Server, sample: dict) -> None:
    ids = predict_ids(server, sample)
    unknown = "f" * 32 + "-0"  # well formed, never answered: stored for the checker to report
    labels = [{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": 0}]
    labels.append({"prediction_id": unknown, "label": 0})
    response = post(server.url, {"labels": labels}, "/feedback")
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3}
    stored = [line for line in log_lines(server.log, "feedback") if line["prediction_id"] in {*ids, unknown}]
    assert [{k: v for k, v in line.items() if k != "time"} for line in stored] == labels
    assert all(line["time"].endswith("+00:00") for line in stored)


def test_bad_feedback_is_4xx_naming_the_item_and_field(server: Server, sample: dict) -> None:
    [good, *_] = predict_ids(server, sample)
    cases = [
        ("text for a class", {"prediction_id": good, "label": "1"}, "label"),
        ("boolean for a class", {"prediction_id": good, "label": True}, "label"),
        ("unknown class", {"prediction_id": good, "label": 2}, "label"),
        ("float for an integer class", {"prediction_id": good, "label": 1.5}, "label"),
        ("missing id", {"label": 1}, "prediction_id"),
        ("malformed id", {"prediction_id": "abc-1", "label": 1}, "prediction_id"),
        ("extra field", {"prediction_id": good, "label": 1, "note": "x"}, "note"),
    ]
    for case, item, field in cases:
        body = {"labels": [{"prediction_id": good, "label": 0}, item]}
        response = post(server.url, body, "/feedback")
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        errors = response.json()["detail"]
        assert [e["loc"] for e in errors] == [["labels", 1, field]], (case, errors)
    response = post(server.url, {"labels": [{"prediction_id": good, "label": "maybe"}]}, "/feedback")
    assert response.json()["detail"][0]["msg"] == 'labels[0].label: "maybe" is not one of the classes [0, 1]'
    for body in ({"labels": []}, {"labels": {}}, {"label": 1}, b"[", {"labels": [{}] * 10_001}):
        response = post(server.url, body, "/feedback")
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)


def metric_values(url: str) -> dict[str, float]:
    """Every sample on /metrics whose name starts with mlops_: its name with labels, and value."""
    text = httpx.get(f"{url}/metrics").text
    return {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mlops_"))
    }


def test_metrics_count_predictions_feature_issues_and_feedback(server: Server, sample: dict) -> None:
    record = dict(sample["records"][0])
    odd = record | {"age": 200.0, "total_charges": None, "region": "atlantis"}  # outside, null, unseen
    before = metric_values(server.url)
    answer = post(server.url, {"records": [record, odd, odd]}).json()
    ids = answer["prediction_ids"]
    labels = [{"prediction_id": i, "label": label} for i, label in zip(ids, [1, 1, 0], strict=True)]
    assert post(server.url, {"labels": labels}, "/feedback").status_code == 200
    after = metric_values(server.url)
    change = {name: after[name] - before.get(name, 0.0) for name in after}
    expected = {
        'mlops_feature_out_of_range_total{feature="age"}': 2,
        'mlops_feature_null_total{feature="total_charges"}': 2 + (record["total_charges"] is None),
        'mlops_feature_unseen_category_total{feature="region"}': 2,
        'mlops_feedback_labels_total{label="1"}': 2,
        'mlops_feedback_labels_total{label="0"}': 1,
    }
    for label in ("0", "1"):
        name = f'mlops_predictions_total{{label="{label}"}}'
        expected[name] = answer["predictions"].count(int(label))
    assert {name: change[name] for name in expected} == expected
    assert 'mlops_feature_unseen_category_total{feature="contract"}' in after  # every series, from 0
    assert 'mlops_feature_out_of_range_total{feature="tenure_months"}' in after


def test_traffic_demo_sends_records_then_feedback(server: Server) -> None:
    command = [sys.executable, "-m", "mlops.monitoring.traffic", server.url, "--records", "30"]
    command += ["--batch", "10", "--feedback-delay", "0", "--feedback-fraction", "0.5", "--drift", "0.5"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.fullmatch(
        rf"sent 30 records and (\d+) feedback labels to {server.url} \(model version [0-9a-f]{{32}}\)\n",
        result.stdout,
    )
    assert match, result.stdout
    assert 5 <= int(match.group(1)) <= 25


def test_logs_rotate_truncate_cap_and_ship_under_concurrent_load(
    model_path: Path, bentoml_home: Path, sample: dict, tmp_path: Path
) -> None:
    log, shipped = tmp_path / "monitoring", tmp_path / "shipped"
    limits = {"MAX_FILE_MB": "0.01", "ROTATE_MINUTES": "0.02", "MAX_TOTAL_MB": "0.05"}  # 10 KB, 1.2 s, 50 KB
    env = environment(
        MODEL_PATH=str(model_path),
        BENTOML_HOME=str(bentoml_home),
        PREDICTION_LOG_DIR=str(log),
        PREDICTION_LOG_URL=f"file://{shipped}",
        **{f"PREDICTION_LOG_{name}": value for name, value in limits.items()},
    )
    huge = {**sample["records"][0], "region": "x" * 1_000_000}
    bodies = [sample] * 75 + [{"records": [huge]}] + [sample] * 75
    with serving("mlops.serving.service:Model", env, tmp_path / "server.log") as url:
        with ThreadPoolExecutor(16) as pool:
            statuses = [response.status_code for response in pool.map(lambda body: post(url, body), bodies)]
        assert statuses == [200] * len(bodies)

        # Past ROTATE_MINUTES with no new line, every file is closed, shipped and capped.
        def settled() -> bool:
            local = log_files(log)
            capped = sum(path.stat().st_size for path in local) <= 0.05 * 1024 * 1024
            return bool(local) and not any(is_open(path) for path in local) and capped

        eventually(settled, seconds=30)
        local = log_files(log)
        assert local and not any(is_open(path) for path in local)
        assert sum(path.stat().st_size for path in local) <= 0.05 * 1024 * 1024
    copies = log_files(shipped)
    assert len(copies) > len(local) >= 3
    assert all((shipped / p.relative_to(log)).read_bytes() == p.read_bytes() for p in local)
    lines = log_lines(shipped)  # every line parses, none is lost
    assert len(lines) == len(bodies)
    [cut] = [line for line in lines if line["truncated"]]
    assert cut["truncated"] == ["region"] and cut["records"][0]["region"] == "x" * 256


def test_a_bad_log_setting_stops_the_service_with_one_clear_line(tmp_path: Path) -> None:
    command = [str(BIN / "bentoml"), "serve", "mlops.serving.service:Model", "--port", str(free_port())]
    env = environment(PREDICTION_LOG_MAX_FILE_MB="ten", BENTOML_HOME=str(tmp_path))
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "error: PREDICTION_LOG_MAX_FILE_MB='ten' is not a positive number of megabytes: "
        "set it to one, such as 64 (the default), or unset it."
    )


def test_smoke_test_passes_the_service(server: Server, tmp_path: Path, sample: dict) -> None:
    (tmp_path / "sample.json").write_text(json.dumps(sample))
    command = [sys.executable, "-m", "mlops.serving.smoke", server.url, str(tmp_path / "sample.json")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"smoke test passed: {server.url}" in result.stdout


def test_fuzzed_requests_never_get_a_server_error(server: Server, tmp_path: Path) -> None:
    # Response-schema conformance is left out: BentoML documents its 400 `detail` as a string
    # but sends pydantic's list of errors.
    command = [
        str(BIN / "st"),
        "run",
        f"{server.url}/docs.json",
        "--checks=not_a_server_error,negative_data_rejection",
        "--max-examples=50",
        "--seed=1",
        "--request-timeout=30",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-5000:]


@pytest.fixture(scope="module")
def bento(model_path: Path, bentoml_home: Path) -> tuple[str, str, dict[str, str]]:
    """Import the model into a fresh BentoML store, build the Bento; its tag, the model's, the env."""
    env = environment(BENTOML_HOME=str(bentoml_home))
    package = [
        sys.executable,
        "-m",
        "mlops.serving.package",
        str(model_path),
        "data.dvc",
        "reports/metrics.json",
    ]
    build = [str(BIN / "bentoml"), "build", "--output", "tag"]
    model_tag, bento_tag = (run(command, env).splitlines()[-1] for command in (package, build))
    return bento_tag.removeprefix("__tag__:"), model_tag, env


def run(command: list[str], env: dict[str, str]) -> str:
    """Run a command from the project root; its standard output, or a failure showing both outputs."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


def test_bento_references_the_imported_model(
    bento: tuple[str, str, dict[str, str]], bentoml_home: Path
) -> None:
    bento_tag, model_tag, _ = bento
    name, build_version = bento_tag.split(":")
    info = yaml.safe_load((bentoml_home / "bentos" / name / build_version / "bento.yaml").read_text())
    assert [model["tag"] for model in info["models"]] == [model_tag]
    model_info = yaml.safe_load(
        (bentoml_home / "models" / Path(*model_tag.split(":")) / "model.yaml").read_text()
    )
    assert {"commit", "data_md5", "model_md5"} <= set(model_info["labels"])
    assert "metrics" in model_info["metadata"]
    src = bentoml_home / "bentos" / name / build_version / "src"
    assert {"params.yaml", "schema.yaml", "src/mlops/serving/service.py"} <= {
        str(p.relative_to(src)) for p in src.rglob("*")
    }


def test_import_refuses_a_model_dvc_lock_does_not_record(model_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "model.joblib"
    other.write_bytes(model_path.read_bytes() + b"\0")
    package = [sys.executable, "-m", "mlops.serving.package", "--check-lock", "dvc.lock", str(other)]
    env = environment(BENTOML_HOME=str(tmp_path / "bentoml"))
    result = subprocess.run(
        [*package, "data.dvc", "reports/metrics.json"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not the model dvc.lock records" in result.stderr


def test_bento_pins_the_installed_versions() -> None:
    pins = [
        p.split("==") for p in yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    ]
    assert {name: version(name) for name, _ in pins} == dict(pins)


def test_built_bento_serves_its_stored_model(
    bento: tuple[str, str, dict[str, str]], sample: dict, tmp_path: Path
) -> None:
    bento_tag, model_tag, env = bento
    env = {k: v for k, v in env.items() if k != "MODEL_PATH"} | {"PREDICTION_LOG_DIR": str(tmp_path / "logs")}
    with serving(bento_tag, env, tmp_path / "server.log") as url:
        response = post(url, sample)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == model_tag.split(":")[1]
