"""BentoML service: ``POST /predict`` runs the same ``predict`` as the evaluate stage; ``POST /feedback``
takes the true labels of earlier predictions.

Model: served from a built Bento, the service loads the model the Bento pinned (bentofile.yaml
``models:``, imported into the store by ``python -m mlops.serving.package``). Otherwise, as with
``make serve``, it loads the file MODEL_PATH (default models/model.joblib); MODEL_PATH also wins
inside a Bento when set. ``model_version`` is the md5 of the model file either way: the hash
dvc.lock records and the version of the stored model.

Request schema: built when this module is imported, from schema.yaml and params.yaml in the working
directory (the project root, or a Bento's src/): numeric features are ``float | None``, categorical
ones ``str | None``, and any other column is rejected. BentoML answers invalid bodies with 400 and
pydantic's errors, which name the field.

Monitoring: each answered /predict request is one JSON line (time, request id, model version, its
records, predictions and probabilities in request order, the features whose text was cut) in the
rotated, capped files of ``mlops.serving.prediction_log``, and each feedback label one line beside
them; record i's prediction id is ``<request id>-<i>``. One line per request rather than per record
keeps logging ~4x cheaper on big requests. /metrics adds the series of ``mlops.serving.metrics``.
The log settings (PREDICTION_LOG_* variables) are checked on import, so that a bad value stops
``bentoml serve`` with one line instead of failing every worker.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import bentoml
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_json
from starlette.responses import JSONResponse
from typing_extensions import TypedDict

from mlops.data.schema import load_schema, resolve_features
from mlops.errors import UserError
from mlops.hashes import file_md5
from mlops.params import Features, load_params
from mlops.serving.feedback import Labels, check_labels, label_check
from mlops.serving.metrics import ModelMetrics, contract, value_buckets
from mlops.serving.package import MODEL_FILE
from mlops.serving.prediction_log import LogSettings, PredictionLog, settings_from_env, truncate

DEFAULT_MODEL_PATH = "models/model.joblib"
MAX_RECORDS = 10_000


def record_type(features: Features) -> type[dict]:
    """The type of one input row: the training features, nothing else.

    A TypedDict, so that pydantic validates each record straight into a plain dict (a third
    cheaper than building a model instance per record)."""
    number = Annotated[float | None, Field(strict=True, allow_inf_nan=False)]
    text = Annotated[str | None, Field(strict=True)]
    fields: dict[str, Any] = {name: number for name in features.numeric}
    fields.update({name: text for name in features.categorical})
    record = TypedDict("Record", fields)  # type: ignore[operator]
    record.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return record


def log_settings() -> LogSettings:
    """The PREDICTION_LOG_* settings, or exit with the one sentence saying what to fix."""
    try:
        settings = settings_from_env(os.environ)
    except UserError as error:
        sys.exit(f"error: {error}")
    if settings.url is not None:
        from mlops.serving.ship_logs import filesystem

        try:
            filesystem(settings.url)
        except UserError as error:
            sys.exit(f"error: PREDICTION_LOG_URL={error}")
    return settings


SCHEMA = load_schema("schema.yaml")
DATA = load_params("params.yaml").data
FEATURES = resolve_features(SCHEMA, DATA)
LOG_SETTINGS = log_settings()
Record = record_type(FEATURES)
Records = Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)]  # type: ignore[valid-type]


Output = tuple[Any, dict[str, float] | None]  # a row's prediction and probability per class
Waiting = tuple[list[dict[str, Any]], "asyncio.Future[list[Output]]"]  # a request's rows, its answer


class Prediction(BaseModel):
    predictions: list[int | float | str | bool]
    probabilities: list[dict[str, float]] | None = Field(None, description="per class; classifiers only")
    model_version: str
    prediction_ids: list[str] = Field(description="per record, for POST /feedback")


class Accepted(BaseModel):
    accepted: int


# Tuned for 2 cores: one worker per core (each predicts with one OpenMP thread, see __init__).
@bentoml.service(workers=2, traffic={"timeout": 30})
class Model:
    """The trained sklearn Pipeline behind POST /predict, and POST /feedback for its true labels."""

    def __init__(self) -> None:
        # More OpenMP threads per worker would only fight the other worker for the cores. Set
        # before sklearn loads OpenMP, so that the threads predict runs in get it too:
        # threadpoolctl's limit holds only in the calling thread.
        os.environ["OMP_NUM_THREADS"] = "1"
        import joblib
        from threadpoolctl import threadpool_limits

        from mlops.pipeline.model import predict

        threadpool_limits(1)
        path, self.version = _model_file()
        self.model = joblib.load(path)
        self._predict = predict
        classes = self.model.classes_.tolist() if hasattr(self.model, "classes_") else None
        self.classes = [str(c) for c in classes or []]
        self.check_label = label_check(classes)
        rules = contract(SCHEMA, FEATURES)
        self.metrics = ModelMetrics(FEATURES, rules, classes, value_buckets(SCHEMA, DATA.target))
        self.batcher = Batcher(self.predict_rows)
        self.log = PredictionLog(LOG_SETTINGS, _shipper(LOG_SETTINGS))
        if "PREDICTION_LOG" in os.environ:
            logging.getLogger(__name__).warning(
                "PREDICTION_LOG is no longer read: set PREDICTION_LOG_DIR to a directory instead."
            )
        # Exempt the ~170,000 objects of the libraries and the model from the cyclic GC: its full
        # collections otherwise pause a worker for ~150 ms every few requests of many records.
        gc.freeze()

    @bentoml.api(route="/predict")
    async def predict(self, records: Records) -> Prediction:
        """Predict one or many records; probabilities are given per class for classifiers."""
        outputs = await self.batcher(records)
        labels, probabilities = zip(*outputs, strict=True)
        request_id = uuid.uuid4().hex
        answer = Prediction(
            predictions=list(labels),
            probabilities=None if probabilities[0] is None else list(probabilities),
            model_version=self.version,
            prediction_ids=[f"{request_id}-{i}" for i in range(len(records))],
        )
        self._log(request_id, records, answer)
        return answer

    @bentoml.api(route="/feedback")
    async def feedback(self, labels: Labels) -> Accepted:
        """Take the true labels of earlier predictions, by the prediction ids /predict answered."""
        check_labels(labels, self.check_label)
        now = datetime.now(UTC).isoformat()
        lines = [to_json({"time": now, **item}) + b"\n" for item in labels]
        self.log.write("feedback", b"".join(lines))
        self.metrics.observe_feedback([item["label"] for item in labels])
        return Accepted(accepted=len(labels))

    @bentoml.on_shutdown
    def close_log(self) -> None:
        """Close the log files, and ship them when PREDICTION_LOG_URL is set."""
        self.log.close()

    def predict_rows(self, rows: list[dict[str, Any]]) -> list[Output]:
        """Each row's prediction and, for classifiers, its probability per class."""
        columns = as_columns(rows)
        labels, proba = self._predict(self.model, pd.DataFrame(columns))
        labels = labels.tolist()
        self.metrics.observe(columns, labels)
        if proba is None:
            return [(label, None) for label in labels]
        return [
            (label, dict(zip(self.classes, row, strict=True)))
            for label, row in zip(labels, proba.tolist(), strict=True)
        ]

    def _log(self, request_id: str, rows: list[dict[str, Any]], answer: Prediction) -> None:
        records, truncated = truncate(rows, FEATURES.categorical, LOG_SETTINGS.max_value_chars)
        line = {
            "time": datetime.now(UTC).isoformat(),
            "request_id": request_id,
            "model_version": self.version,
            "records": records,
            "predictions": answer.predictions,
            "probabilities": answer.probabilities,
            "truncated": truncated,
        }
        self.log.write("predictions", to_json(line) + b"\n")


def as_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Validated rows as columns typed like the training data: numbers float (null as NaN)."""
    data: dict[str, Any] = {c: np.array([row[c] for row in rows], dtype=float) for c in FEATURES.numeric}
    data.update({c: [row[c] for row in rows] for c in FEATURES.categorical})
    return data


class Batcher:
    """Run the rows of concurrent requests through one predict call.

    While a batch is being predicted (in a thread, off the event loop), arriving requests wait and
    form the next batch. A lone request never waits for others, and under load one batch costs
    little more than one row. BentoML's adaptive batching (1.4.39, 2 cores) rejected most
    requests with 503 when max_latency_ms was short, and when it was long kept lone requests
    waiting for a batch after a burst.
    """

    def __init__(self, predict_rows: Callable[[list[dict[str, Any]]], list[Output]]) -> None:
        self.predict_rows = predict_rows
        self.waiting: list[Waiting] = []
        self.running: asyncio.Task[None] | None = None

    async def __call__(self, rows: list[dict[str, Any]]) -> list[Output]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, future))
        if self.running is None:
            self.running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                await self._run(batch)
        finally:
            self.running = None

    async def _run(self, batch: list[Waiting]) -> None:
        try:
            outputs = await asyncio.to_thread(self.predict_rows, [row for rows, _ in batch for row in rows])
        except Exception as error:  # hand it to every waiting request (a 500 each), not to this task
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        start = 0
        for rows, future in batch:
            if not future.done():  # the client may have gone
                future.set_result(outputs[start : start + len(rows)])
            start += len(rows)


class JSONOnly:
    """ASGI middleware: answer 415 to a POST whose body is not declared JSON.

    BentoML would parse it as a form instead: a body sent without the header gets a confusing
    "records missing", and multipart/form-data without a boundary a 500.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            content_type = dict(scope["headers"]).get(b"content-type", b"application/json")
            if content_type.split(b";")[0].strip().lower() != b"application/json":
                error = {"error": "send the body as JSON, with the header Content-Type: application/json"}
                return await JSONResponse(error, status_code=415)(scope, receive, send)
        await self.app(scope, receive, send)


Model.add_asgi_middleware(JSONOnly)


class InvalidRequestsAsWarnings(logging.Filter):
    """BentoML logs every invalid request it answers 400 as an ERROR with a traceback: a client's
    mistake, not the server's. Log it as one WARNING line with the error count instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "Invalid request on %s [%s], answered 400 with %d validation error(s)"
            record.args = (*record.args, error.error_count())  # type: ignore[misc]
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("bentoml._internal.server.http_app").addFilter(InvalidRequestsAsWarnings())


def _shipper(settings: LogSettings) -> Callable[[list[Path]], list[Path]] | None:
    """Copy closed log files to PREDICTION_LOG_URL, if set."""
    if settings.url is None:
        return None
    from mlops.serving.ship_logs import copy_files

    return lambda paths: copy_files(paths, settings.directory, settings.url)  # type: ignore[arg-type]


def _model_file() -> tuple[Path, str]:
    """The model to serve and its version: the Bento's pinned model, else MODEL_PATH."""
    if Model.bento is not None and "MODEL_PATH" not in os.environ:
        stored = bentoml.models.get(Model.bento.info.all_models[0].tag)
        return Path(stored.path_of(MODEL_FILE)), str(stored.tag.version)
    path = Path(os.environ.get("MODEL_PATH", DEFAULT_MODEL_PATH))
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}. Run `make run` to train one, or set MODEL_PATH.")
    return path, file_md5(path)
