"""Reading the service's logs: explicit schema, corrupt lines isolated and counted, one row per record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from mlops.errors import UserError
from mlops.monitoring.logs import (
    explode,
    feedback_schema,
    parse_lines,
    prediction_schema,
    read_logs,
    since_date,
)
from mlops.params import Features

FEATURES = Features(numeric=("age", "tickets"), categorical=("plan",))
CLASSES = ["0", "1"]
SCHEMA = prediction_schema(FEATURES, pa.int64(), CLASSES)


def line(request_id: str = "a" * 32, n: int = 2, version: str = "v1", **changes) -> dict:
    body = {
        "time": "2026-01-05T09:00:00+00:00",
        "request_id": request_id,
        "model_version": version,
        "records": [{"age": 30.0 + i, "tickets": None, "plan": "basic" if i else None} for i in range(n)],
        "predictions": [i % 2 for i in range(n)],
        "probabilities": [{"0": 0.75, "1": 0.25} for _ in range(n)],
        "truncated": [],
    }
    return {**body, **changes}


def jsonl(*lines: dict | str) -> bytes:
    return b"".join((json.dumps(x) if isinstance(x, dict) else x).encode() + b"\n" for x in lines)


def test_lines_explode_into_one_row_per_record_with_its_index():
    table, bad = parse_lines(jsonl(line("r1", 3), line("r2", 2)), SCHEMA)
    rows, malformed = explode(table, FEATURES, CLASSES)
    assert (bad, malformed, rows.num_rows) == (0, 0, 5)
    assert rows["request_id"].to_pylist() == ["r1"] * 3 + ["r2"] * 2
    assert rows["index"].to_pylist() == [0, 1, 2, 0, 1]
    assert rows["prediction"].to_pylist() == [0, 1, 0, 0, 1]
    assert rows["proba:1"].to_pylist() == [0.25] * 5
    assert rows["plan"].to_pylist() == [None, "basic", "basic", None, "basic"]


def test_an_all_null_column_keeps_its_type():
    rows, _ = explode(parse_lines(jsonl(line()), SCHEMA)[0], FEATURES, CLASSES)
    assert rows["tickets"].type == pa.float64() and rows["tickets"].null_count == 2


def test_corrupt_lines_wrong_types_and_a_cut_last_line_are_skipped_and_counted():
    wrong_type = line("r3", records=[{"age": "old", "tickets": 1, "plan": "basic"}], predictions=[0])
    data = jsonl(line("r1"), "{not json", line("r2"), wrong_type, "[1, 2]", line("r4")) + b'{"time": "2026'
    table, bad = parse_lines(data, SCHEMA)
    assert bad == 4
    assert table["request_id"].to_pylist() == ["r1", "r2", "r4"]


def test_lines_missing_fields_or_with_lists_of_different_lengths_are_malformed():
    data = jsonl(line("r1"), line("r2", predictions=[1]), {"time": "t"}, line("r3", probabilities=None))
    rows, malformed = explode(parse_lines(data, SCHEMA)[0], FEATURES, CLASSES)
    assert malformed == 3 and rows["request_id"].to_pylist() == ["r1", "r1"]


def test_a_regressor_logs_no_probabilities():
    schema = prediction_schema(FEATURES, pa.float64(), [])
    data = jsonl(line(predictions=[1.5, 2], probabilities=None))
    rows, malformed = explode(parse_lines(data, schema)[0], FEATURES, [])
    assert malformed == 0 and rows["prediction"].to_pylist() == [1.5, 2.0]


def test_read_logs_reads_dated_folders_and_notes_corrupt_files(tmp_path: Path):
    for day, request_id in (("2026-01-01", "old"), ("2026-01-05", "new")):
        folder = tmp_path / "predictions" / day
        folder.mkdir(parents=True)
        (folder / "090000-1-0.jsonl").write_bytes(jsonl(line(request_id), "{cut"))
    (tmp_path / "predictions" / "notes").mkdir()  # not a date: ignored
    feedback = tmp_path / "feedback" / "2026-01-05"
    feedback.mkdir(parents=True)
    (feedback / "091000-1-0.jsonl").write_bytes(jsonl({"time": "t", "prediction_id": "new-0", "label": 1}))
    logs = read_logs(str(tmp_path), FEATURES, pa.int64(), CLASSES)
    assert logs.found and logs.files == {"predictions": 2, "feedback": 1}
    assert logs.predictions["request_id"].to_pylist() == ["old", "old", "new", "new"]
    assert logs.feedback["prediction_id"].to_pylist() == ["new-0"]
    assert len(logs.notes) == 2 and "1 corrupt line(s) skipped in" in logs.notes[0]
    recent = read_logs(str(tmp_path), FEATURES, pa.int64(), CLASSES, since=date(2026, 1, 3))
    assert recent.predictions["request_id"].to_pylist() == ["new", "new"]


def test_read_logs_of_a_missing_root_is_empty_not_an_error(tmp_path: Path):
    logs = read_logs(str(tmp_path / "nowhere"), FEATURES, pa.int64(), CLASSES)
    assert not logs.found and logs.predictions.num_rows == 0 and logs.feedback.num_rows == 0
    assert logs.feedback.schema == feedback_schema(pa.int64())


def test_truncated_features_are_listed_per_request(tmp_path: Path):
    folder = tmp_path / "predictions" / "2026-01-05"
    folder.mkdir(parents=True)
    (folder / "x.jsonl").write_bytes(jsonl(line(truncated=["plan"]), line()))
    logs = read_logs(str(tmp_path), FEATURES, pa.int64(), CLASSES)
    assert logs.truncated.to_pylist() == [{"model_version": "v1", "feature": "plan"}]


def test_since_takes_days_or_a_date():
    today = date(2026, 1, 10)
    assert since_date("7d", today) == date(2026, 1, 3)
    assert since_date("2026-01-01", today) == date(2026, 1, 1)
    with pytest.raises(UserError, match="give a number of days"):
        since_date("a week", today)
