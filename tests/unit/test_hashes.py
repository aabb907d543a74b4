"""The md5 a dvc.lock records for a file, as the gate, `package --check-lock` and the monitor read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.hashes import file_md5, locked_md5, read_lock

LOCK = """schema: '2.0'
stages:
  train:
    cmd: python -m mlops.pipeline.train
    outs:
    - path: models/model.joblib
      md5: 0123456789abcdef0123456789abcdef
      size: 12
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "dvc.lock").write_text(LOCK)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.joblib").write_bytes(b"model bytes\n")
    return tmp_path


def test_the_md5_is_found_by_the_file_whatever_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
):
    md5 = "0123456789abcdef0123456789abcdef"
    assert locked_md5(project / "dvc.lock", project / "models" / "model.joblib") == md5
    monkeypatch.chdir(project)
    assert locked_md5(Path("dvc.lock"), Path("models/model.joblib")) == md5
    monkeypatch.chdir(project / "models")
    assert locked_md5(Path("../dvc.lock"), Path("model.joblib")) == md5


def test_a_file_the_lock_does_not_record_has_no_md5(project: Path):
    lock = project / "dvc.lock"
    assert locked_md5(lock, project / "models" / "other.joblib") is None
    assert locked_md5(lock, project.parent / "model.joblib") is None  # outside the lock's project


@pytest.mark.parametrize("text", [None, "", "just text", "stages: [unclosed", "- a list"])
def test_a_missing_or_broken_lock_records_nothing(project: Path, text: str | None):
    lock = project / "dvc.lock"
    if text is None:
        lock.unlink()
    else:
        lock.write_text(text)
    assert read_lock(lock) is None
    assert locked_md5(lock, project / "models" / "model.joblib") is None


def test_file_md5_is_dvcs_md5_of_the_bytes(project: Path):
    assert file_md5(project / "models" / "model.joblib") == "eea00da3830d6875a43cdcd6e6cae801"
