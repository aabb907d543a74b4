"""The model service over real HTTP: `bentoml serve` in a subprocess on a free loopback port.

It serves models/model.joblib, or, in a fresh clone where the pipeline has not run, a small model
trained here with the real params.yaml and schema.yaml.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
from mlops.params import load_params
from mlops.pipeline.model import predict
from mlops.pipeline.train import train
from mlops.serving.package import file_md5

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
START_TIMEOUT = 180


@dataclass
class Server:
    url: str
    log: Path  # the prediction log
    output: Path  # what the server printed


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
    log = work / "predictions.jsonl"
    env = environment(MODEL_PATH=str(model_path), PREDICTION_LOG=str(log), BENTOML_HOME=str(bentoml_home))
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


def post(url: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/predict", content=content, headers={"Content-Type": "application/json"})


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
    deadline = time.monotonic() + 10
    while "answered 400" not in server.output.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
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
    response = post(server.url, sample)
    request_id = response.headers["X-BentoML-Request-ID"]
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]
    [logged] = [line for line in lines if line["request_id"] == request_id]
    answer = response.json()
    assert logged["inputs"] == sample["records"]
    assert logged["predictions"] == answer["predictions"]
    assert logged["probabilities"] == answer["probabilities"]
    assert logged["model_version"] == file_md5(model_path)


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
    env = {k: v for k, v in env.items() if k != "MODEL_PATH"} | {"PREDICTION_LOG": str(tmp_path / "p.jsonl")}
    with serving(bento_tag, env, tmp_path / "server.log") as url:
        response = post(url, sample)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == model_tag.split(":")[1]
