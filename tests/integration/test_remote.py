"""Getting the data: from a DVC remote in a fresh clone, by regenerating the example, or a clear error."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from pipeline_project import OUTPUTS, Project

from mlops.errors import EXIT_USER_ERROR

pytestmark = pytest.mark.integration

DATA = "data/churn.csv"


def _commit_and_clone(project: Project, destination: Path) -> Project:
    project.git("add", "--all")
    project.git("commit", "--quiet", "--message", "pipeline run")
    project.git("clone", "--quiet", str(project.path), str(destination))
    clone = Project(destination)
    assert not clone.file(DATA).exists()
    return clone


def test_fresh_clone_pulls_data_and_outputs_from_the_remote(completed: Project, tmp_path: Path):
    completed.dvc("remote", "add", "--default", "storage", str(tmp_path / "remote"))
    completed.dvc("push", "--quiet")
    clone = _commit_and_clone(completed, tmp_path / "clone")

    result = clone.mlops()

    assert result.returncode == 0, result.output
    assert "preflight: data pulled from the DVC remote" in result.stdout
    assert clone.file(DATA).read_bytes() == completed.file(DATA).read_bytes()
    # Same code, params and data as the pushed run: DVC restores its outputs instead of rerunning.
    assert "Running stage" not in result.stdout, result.output
    assert clone.md5("models/model.joblib") == completed.md5("models/model.joblib")
    assert clone.file("reports/report.md").read_text().startswith("## ✅ Model gate: PASS\n")


def test_remote_without_the_data_is_a_clear_error(completed: Project, tmp_path: Path):
    (tmp_path / "empty-remote").mkdir()
    completed.dvc("remote", "add", "--default", "storage", str(tmp_path / "empty-remote"))
    clone = _commit_and_clone(completed, tmp_path / "clone")

    result = clone.mlops()

    assert result.returncode == EXIT_USER_ERROR, result.output
    assert "Traceback" not in result.stderr
    assert "error: `dvc pull data.dvc` could not fetch data/churn.csv" in result.stderr
    assert "dvc remote list" in result.stderr


def test_fresh_clone_without_remote_regenerates_the_example(completed: Project, tmp_path: Path):
    clone = _commit_and_clone(completed, tmp_path / "clone")

    result = clone.mlops("preflight")

    assert result.returncode == 0, result.output
    assert "preflight: bundled example data regenerated" in result.stdout
    assert clone.file(DATA).read_bytes() == completed.file(DATA).read_bytes()
    assert "data.dvc" not in clone.dvc("status", "data.dvc").stdout  # matches what data.dvc pins


def test_no_remote_and_data_that_is_not_the_example_is_a_clear_error(completed: Project):
    completed.update_params({"data": {"path": "data/customers.csv"}})
    before = completed.snapshot(*OUTPUTS)

    result = completed.mlops()

    assert result.returncode == EXIT_USER_ERROR, result.output
    message = result.stderr.strip()
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1
    assert message.startswith("error: The data file data/customers.csv is missing, no DVC remote")
    assert "it is not the bundled example" in message
    assert "dvc remote add" in message
    assert not completed.file("data/customers.csv").exists()
    assert completed.snapshot(*OUTPUTS) == before


def test_mains_model_is_fetched_from_the_remote_for_the_comparison(completed: Project, tmp_path: Path):
    """A CI runner whose DVC cache lacks main's model fetches it, by the md5 main's dvc.lock records."""
    completed.dvc("remote", "add", "--default", "storage", str(tmp_path / "remote"))
    completed.dvc("push", "--quiet")
    completed.git("add", "--all")
    completed.git("commit", "--quiet", "--message", "main's run")
    completed.git("branch", "-M", "main")
    md5 = completed.md5("models/model.joblib")
    cached = completed.file(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}")
    cached.unlink()

    script = f"from mlops.review import champion; print(type(champion.fetch_model('main', '{md5}')).__name__)"
    result = completed.run(sys.executable, "-c", script)

    assert result.stdout.strip() == "Pipeline"
    assert hashlib.md5(cached.read_bytes()).hexdigest() == md5
