"""The prediction log's limits: settings from the environment, rotation, the cap, truncation, shipping."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mlops.errors import UserError
from mlops.serving.prediction_log import (
    MB,
    LogFile,
    LogSettings,
    PredictionLog,
    beyond_cap,
    enforce_cap,
    is_open,
    log_files,
    relative_path,
    rotation_due,
    settings_from_env,
    truncate,
    writer_name,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def test_settings_default_and_accept_fractions() -> None:
    assert settings_from_env({}) == LogSettings()
    settings = settings_from_env(
        {
            "PREDICTION_LOG_DIR": "/var/log/model",
            "PREDICTION_LOG_MAX_FILE_MB": "0.01",
            "PREDICTION_LOG_ROTATE_MINUTES": "0.5",
            "PREDICTION_LOG_MAX_TOTAL_MB": "2",
            "PREDICTION_LOG_MAX_VALUE_CHARS": "10",
            "PREDICTION_LOG_URL": "s3://bucket/logs",
        }
    )
    assert settings == LogSettings(
        Path("/var/log/model"), int(0.01 * MB), 30.0, 2 * MB, 10, "s3://bucket/logs"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PREDICTION_LOG_MAX_FILE_MB", "abc"),
        ("PREDICTION_LOG_MAX_FILE_MB", "0"),
        ("PREDICTION_LOG_ROTATE_MINUTES", "-5"),
        ("PREDICTION_LOG_ROTATE_MINUTES", "inf"),
        ("PREDICTION_LOG_MAX_TOTAL_MB", "nan"),
        ("PREDICTION_LOG_MAX_VALUE_CHARS", "2.5"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_the_variable_and_the_fix(name: str, value: str) -> None:
    with pytest.raises(UserError) as error:
        settings_from_env({name: value})
    message = str(error.value)
    assert message.startswith(f"{name}={value!r} is not ") and "or unset it." in message


def test_a_total_below_one_file_is_refused() -> None:
    with pytest.raises(UserError, match=r"PREDICTION_LOG_MAX_TOTAL_MB .* is smaller than"):
        settings_from_env({"PREDICTION_LOG_MAX_TOTAL_MB": "1", "PREDICTION_LOG_MAX_FILE_MB": "5"})


def test_relative_path_is_kind_utc_date_then_time_writer_and_sequence() -> None:
    opened = datetime(2026, 3, 1, 7, 5, 9, tzinfo=UTC)
    path = relative_path("feedback", opened, "pod_7-4242", 3)
    assert path == "feedback/2026-03-01/070509-pod_7-4242-3.jsonl"
    assert writer_name("model-7f9c.cluster.local", 12) == "model_7f9c_cluster_local-12"


def test_truncate_cuts_long_text_in_a_copy_and_names_each_column_once() -> None:
    rows = [
        {"a": "x" * 10, "b": None, "n": 1.0},
        {"a": "short", "b": "y" * 11, "n": None},
        {"a": "x" * 12, "b": ""},
    ]
    out, cut = truncate(rows, ["a", "b"], 8)
    assert cut == ["a", "b"]
    assert out == [
        {"a": "x" * 8, "b": None, "n": 1.0},
        {"a": "short", "b": "y" * 8, "n": None},
        {"a": "x" * 8, "b": ""},
    ]
    assert rows[0]["a"] == "x" * 10 and rows[1]["b"] == "y" * 11  # the response keeps the full values


def test_truncate_returns_the_same_rows_when_nothing_is_long() -> None:
    rows = [{"a": "short", "b": None}]
    out, cut = truncate(rows, ["a", "b"], 8)
    assert out is rows and cut == []


def test_rotation_is_due_by_size_or_age_never_for_an_empty_file() -> None:
    settings = LogSettings(max_file_bytes=100, rotate_seconds=60)
    assert not rotation_due(0, 1000, 500, settings)  # a line bigger than a file still gets one
    assert not rotation_due(50, 10, 50, settings)
    assert rotation_due(50, 10, 51, settings)
    assert rotation_due(1, 60, 0, settings)


def test_beyond_cap_deletes_the_oldest_closed_files_of_either_kind() -> None:
    files = [
        ("predictions/2026-03-02/000000-1-0.jsonl", 40, True),
        ("feedback/2026-03-01/120000-1-0.jsonl", 40, True),
        ("predictions/2026-03-01/100000-2-0.jsonl", 40, False),  # oldest, but open
        ("predictions/2026-03-02/100000-1-1.jsonl", 40, False),
    ]
    assert beyond_cap(files, 200) == []
    assert beyond_cap(files, 120) == ["feedback/2026-03-01/120000-1-0.jsonl"]
    assert beyond_cap(files, 50) == [
        "feedback/2026-03-01/120000-1-0.jsonl",
        "predictions/2026-03-02/000000-1-0.jsonl",
    ]


def test_a_file_rotates_by_size_and_by_age(tmp_path: Path) -> None:
    clock = Clock()
    file = LogFile(LogSettings(tmp_path, max_file_bytes=25, rotate_seconds=60), "predictions", clock)
    line = b'{"n": 1234567}\n'  # 15 bytes: one per file
    assert file.write(line) is None
    first = file.path
    clock.now += 3  # past midnight UTC: the next file goes under the new date
    done = file.write(line)
    assert done is not None and done.path == first
    done.release()
    assert file.write(b"{}\n") is None  # 15 + 3 bytes fit
    assert file.rotate_if_old() is None
    clock.now += 60
    second = file.rotate_if_old()
    assert second is not None and file.close() is None
    assert is_open(second.path)  # until released
    second.release()
    names = [path.relative_to(tmp_path).as_posix() for path in log_files(tmp_path)]
    assert names[0] == first.relative_to(tmp_path).as_posix()
    assert names[0].startswith("predictions/2026-03-01/235958-")
    assert names[1].startswith("predictions/2026-03-02/000001-") and names[1].endswith("-1.jsonl")
    assert [path.read_bytes() for path in log_files(tmp_path)] == [line, line + b"{}\n"]


def test_the_file_being_written_is_open_to_other_processes(tmp_path: Path) -> None:
    file = LogFile(LogSettings(tmp_path), "feedback")
    file.write(b"{}\n")
    assert is_open(file.path)
    done = file.close()
    assert done is not None and is_open(done.path)  # taken out of writing, not shipped yet
    done.release()
    assert not is_open(done.path)


def test_cap_deletes_oldest_closed_files_keeps_open_ones_and_old_empty_days(tmp_path: Path) -> None:
    for rel in ("predictions/2026-03-01/100000-1-0.jsonl", "feedback/2026-03-02/100000-1-0.jsonl"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * 100)
    (tmp_path / "predictions" / "2026-02-01").mkdir()  # empty and old
    clock = Clock()
    clock.now = datetime(2026, 3, 3, tzinfo=UTC).timestamp()
    writing = LogFile(LogSettings(tmp_path), "predictions", clock)
    writing.write(b"y" * 100)
    deleted = enforce_cap(tmp_path, 200, today=date(2026, 3, 3))
    assert deleted == [tmp_path / "predictions/2026-03-01/100000-1-0.jsonl"]
    deleted = enforce_cap(tmp_path, 50, today=date(2026, 3, 3))
    assert deleted == [tmp_path / "feedback/2026-03-02/100000-1-0.jsonl"]
    assert log_files(tmp_path) == [writing.path]
    assert sorted(p.name for p in (tmp_path / "predictions").iterdir()) == ["2026-03-03"]
    writing.close().release()  # type: ignore[union-attr]


def test_closed_files_are_shipped_and_failures_retried_at_the_next_rotation(tmp_path: Path) -> None:
    shipped: list[str] = []
    attempts = {"left_to_fail": 1}

    def ship(paths: list[Path]) -> list[Path]:
        if attempts["left_to_fail"]:
            attempts["left_to_fail"] -= 1
            return paths
        shipped.extend(path.name for path in paths)
        return []

    settings = LogSettings(tmp_path, max_file_bytes=10, rotate_seconds=3600)
    log = PredictionLog(settings, ship)
    for n in range(3):  # each line fills a file: two rotations, the first shipping fails
        log.write("predictions", json.dumps({"n": n}).encode() + b"\n")
    log.write("feedback", b'{"label": 1}\n')
    log.close()
    assert not log.thread.is_alive()
    assert sorted(shipped) == sorted(path.name for path in log_files(tmp_path))
    assert len(shipped) == 4


def test_files_are_closed_when_due_by_age_without_new_lines(tmp_path: Path) -> None:
    closed: list[Path] = []
    log = PredictionLog(LogSettings(tmp_path, rotate_seconds=0.2), lambda paths: closed.extend(paths) or [])
    log.write("predictions", b"{}\n")
    path = log.files["predictions"].path
    deadline = datetime.now(UTC).timestamp() + 10
    while not closed and datetime.now(UTC).timestamp() < deadline:
        log.thread.join(0.05)
    log.close()
    assert closed == [path] and not is_open(path)
