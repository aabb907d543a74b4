"""Temporary git+DVC copies of this project, run with the real `python -m mlops.run` (`make run`).

Once per session, ``prepared`` copies the project's files into a new git repository, shrinks
params.yaml (sizes only), writes a small example table and `dvc add`s it. Full pipeline runs are
slow (Deepchecks alone takes ~11 s to import in each of two stages), so each kind of run in
pipeline_project.RUNS happens at most once per session, in the background, several at a time, and
only if a selected test needs it. Tests copy a finished project before changing it, so every test
starts from the same state, and bad input only reaches preflight.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pipeline_project import FIRST, ROOT, ROWS, RUNS, Completed, Project, Runs

from mlops.data import example_data

# The session fixtures that wait for background runs, and the run each one waits for.
FIXTURE_RUNS = {
    "binary_run": "binary",
    "worse_run": "worse",
    "next_month_run": "next_month",
    "fork_run": "fork",
    "resplit_run": "resplit",
}


def _runs_of(item: pytest.Item) -> set[str]:
    """The background runs a test waits for, with the runs those start from."""
    names = {run for fixture, run in FIXTURE_RUNS.items() if fixture in item.fixturenames}
    callspec = getattr(item, "callspec", None)
    if "task_run" in item.fixturenames and callspec is not None:
        names.add(callspec.params["task_run"])
    for name in list(names):
        while RUNS[name].after is not None:
            name = RUNS[name].after
            names.add(name)
    return names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that wait for the lower-priority runs go last, so the others do not wait behind them."""
    waits = [item for item in items if _runs_of(item) - {FIRST}]
    items[:] = [item for item in items if item not in waits] + waits


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory, small_params_raw: dict) -> Project:
    """This project's files in a new git repository on branch `trunk` (so no `main` baseline),
    with shrunk params and a small example table that data.dvc pins."""
    project = Project(tmp_path_factory.mktemp("prepared") / "project")
    _copy_project_files(project.path)
    project.git("init", "--quiet", "--initial-branch", "trunk")
    for remote in project.dvc("remote", "list").stdout.split("\n"):
        if remote.strip():  # a fork's own remote: the tests never touch the network
            project.dvc("remote", "remove", remote.split()[0])
    project.write_params(small_params_raw)
    example_data.write_csv(example_data.generate(rows=ROWS), project.file("data/churn.csv"))
    project.dvc("add", "--quiet", "data")
    _pin_example_rows(project.file("data.dvc"))
    return project


def _copy_project_files(destination: Path) -> None:
    """The files git tracks (as they are in the working tree) and all of src/, without tests."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if name.startswith("tests/") or not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    shutil.copytree(
        ROOT / "src", destination / "src", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )


def _pin_example_rows(data_dvc: Path) -> None:
    """Point data.dvc's record of the example generator's arguments at the small table."""
    doc = yaml.safe_load(data_dvc.read_text())
    example = (doc.get("meta") or {}).get("example")
    if example is not None:
        example["rows"] = ROWS
        data_dvc.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="session")
def runs(
    prepared: Project, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Runs]:
    """Starts every run the selected tests need, as early as it can; stops what is left at the end."""
    wanted = set().union(*(_runs_of(item) for item in request.session.items))
    manager = Runs(prepared, tmp_path_factory.mktemp("runs"), sorted(wanted, key=list(RUNS).index))
    manager.start_ready()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def binary_run(runs: Runs) -> Completed:
    """The real params (shrunk) on the small example: must succeed, since most tests start from it."""
    completed = runs.wait("binary")
    assert completed.result.returncode == 0, completed.result.output
    return completed


@pytest.fixture(scope="session")
def worse_run(runs: Runs) -> Completed:
    """The binary run committed on `main`, then a much worse model on a branch."""
    return runs.wait("worse")


@pytest.fixture(scope="session")
def next_month_run(runs: Runs) -> Completed:
    """The binary run committed on `main`, then next month's rows on a branch."""
    return runs.wait("next_month")


@pytest.fixture(scope="session")
def fork_run(runs: Runs) -> Completed:
    """The binary run committed on `main`, then a fork's own table swapped in."""
    return runs.wait("fork")


@pytest.fixture(scope="session")
def resplit_run(runs: Runs) -> Completed:
    """A run with a random split committed on `main`, then only split.seed changed on a branch."""
    return runs.wait("resplit")


@pytest.fixture(params=["binary", "multiclass", "regression"])
def task_run(request: pytest.FixtureRequest, runs: Runs) -> Completed:
    return runs.wait(request.param)


@pytest.fixture
def completed(binary_run: Completed, tmp_path: Path) -> Project:
    """A private copy of the finished binary run."""
    return binary_run.project.copy(tmp_path / "project")
