"""Shipping log files: closed files copied under the same relative path, open ones and copies left alone."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.errors import UserError
from mlops.serving.prediction_log import LogFile, LogSettings
from mlops.serving.ship_logs import copy_files, filesystem, missing_files


def closed_file(directory: Path, rel: str, data: bytes) -> Path:
    path = directory / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_only_closed_files_the_url_lacks_are_shipped(tmp_path: Path) -> None:
    local, remote = tmp_path / "monitoring", tmp_path / "remote"
    old = closed_file(local, "predictions/2026-03-01/100000-1-0.jsonl", b"{}\n")
    fed = closed_file(local, "feedback/2026-03-01/110000-1-0.jsonl", b'{"label": 1}\n')
    writing = LogFile(LogSettings(local), "predictions")
    writing.write(b"{}\n")
    closed_file(remote, "predictions/2026-03-01/100000-1-0.jsonl", b"{}\n")  # already there
    url = f"file://{remote}"
    assert missing_files(local, url) == [fed]
    assert copy_files([fed], local, url) == []
    assert (remote / "feedback/2026-03-01/110000-1-0.jsonl").read_bytes() == fed.read_bytes()
    old.write_bytes(b"{}\n{}\n")  # a copy of another size is shipped again
    assert missing_files(local, url) == [old]
    writing.close().release()  # type: ignore[union-attr]


def test_a_failed_copy_is_one_warning_and_is_returned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = closed_file(tmp_path / "monitoring", "predictions/2026-03-01/100000-1-0.jsonl", b"{}\n")
    (tmp_path / "blocked").write_text("a file where the URL needs a directory")
    with caplog.at_level(logging.WARNING):
        failed = copy_files([path, path], tmp_path / "monitoring", str(tmp_path / "blocked"))
    assert failed == [path, path]
    [record] = caplog.records
    assert "could not ship 2 log file(s)" in record.getMessage()


def test_an_unusable_protocol_is_a_user_error() -> None:
    with pytest.raises(UserError, match="'nosuch://bucket' is not a URL fsspec knows"):
        filesystem("nosuch://bucket")


def test_the_command_ships_and_says_how_many(tmp_path: Path) -> None:
    closed_file(tmp_path / "monitoring", "feedback/2026-03-01/110000-1-0.jsonl", b"{}\n")
    command = [sys.executable, "-m", "mlops.serving.ship_logs", "--dir", "monitoring", str(tmp_path / "out")]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"shipped 1 file(s) from monitoring to {tmp_path / 'out'}"
    assert (tmp_path / "out/feedback/2026-03-01/110000-1-0.jsonl").is_file()
