"""Nothing lost: whatever fails, in preflight, in any stage, in the gate or the report, or when the run
is stopped, the last good outputs stay byte for byte.

Each case starts from a copy of a finished run, breaks one thing (a stage's code raising, new
data with a stage failing after two that succeeded, new outputs and then the gate or report
raising, a table that breaks its contract with no schema yet) and runs `make run`'s
`python -m mlops.run` for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from pipeline_project import ROWS, Completed, Pending, Project

from mlops.data import example_data
from mlops.errors import EXIT_INTERRUPTED, EXIT_STAGE_FAILED, EXIT_USER_ERROR

pytestmark = pytest.mark.integration

STAGES = ("validate_data", "split", "train", "evaluate", "validate_model")
KEPT_FILES = ("dvc.lock", "data.dvc", "schema.yaml")
KEPT_DIRECTORIES = ("models", "reports", "artifacts")


def kept(project: Project) -> dict[str, bytes | None]:
    """Every file a failed run must leave as it was (None: absent, and must stay so)."""
    files = [project.file(name) for name in KEPT_FILES]
    for directory in KEPT_DIRECTORIES:
        files += [path for path in project.file(directory).rglob("*") if path.is_file()]
    return {
        str(path.relative_to(project.path)): path.read_bytes() if path.exists() else None for path in files
    }


def inject(project: Project, module: str, anchor: str, code: str) -> None:
    """Run ``code`` right after the one line ``anchor`` of ``module`` (a file under src/mlops)."""
    path = project.file(f"src/mlops/{module}")
    source = path.read_text()
    assert source.count(anchor) == 1, f"no injection point in {path}"
    path.write_text(source.replace(anchor, f"{anchor}; {code}"))


def failing(stage: str) -> Callable[[Project], None]:
    """Make a stage raise an unexpected error once it has started (its module is a dependency)."""
    return lambda project: inject(
        project, f"pipeline/{stage}.py", "params = load_params()", 'raise RuntimeError("injected")'
    )


def new_outputs_then(step: str, anchor: str) -> Callable[[Project], None]:
    """Another split, so every stage runs and rewrites its outputs; then the gate or report raises."""

    def apply(project: Project) -> None:
        project.update_params({"split": {"test_size": 0.25}})
        inject(project, f"review/{step}.py", anchor, 'raise RuntimeError("injected")')

    return apply


def new_data_then(stage: str) -> Callable[[Project], None]:
    """New rows (validate_data and split succeed and rewrite dvc.lock and data.dvc), then ``stage`` fails."""

    def apply(project: Project) -> None:
        example_data.write_csv(example_data.generate(rows=ROWS, period=1), project.file("data/churn.csv"))
        failing(stage)(project)

    return apply


def no_schema_and_an_empty_column(project: Project) -> None:
    project.file("schema.yaml").unlink()
    frame = pd.read_csv(project.file("data/churn.csv")).assign(notes=np.nan)
    frame.to_csv(project.file("data/churn.csv"), index=False)


CASES = {
    **{f"{stage} fails": (failing(stage), EXIT_STAGE_FAILED) for stage in STAGES},
    "new data, then train fails": (new_data_then("train"), EXIT_STAGE_FAILED),
    "new outputs, then gate fails": (new_outputs_then("gate", "params = load_params()"), EXIT_STAGE_FAILED),
    "new outputs, then report fails": (
        new_outputs_then("report", "args = parser.parse_args(argv)"),
        EXIT_STAGE_FAILED,
    ),
    "contract broken with no schema yet": (no_schema_and_an_empty_column, EXIT_USER_ERROR),
}


@pytest.fixture(scope="module")
def broken(
    binary_run: Completed, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[Project, dict, bytes, Pending]]]:
    """Each selected case in its own copy of the finished run, all started at once."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    started = {}
    for case in selected:
        project = binary_run.project.copy(tmp_path_factory.mktemp("failure") / "project")
        CASES[case][0](project)  # changes only code, data/ or (by deleting it) schema.yaml
        before = kept(project)
        data = project.file("data/churn.csv").read_bytes()
        started[case] = (project, before, data, project.start())
    yield started
    for *_, pending in started.values():
        pending.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_failure_keeps_the_last_good_outputs_byte_for_byte(broken, case: str):
    project, before, data, pending = broken[case]

    result = pending.result()
    params_changed = "new outputs" in case

    assert result.returncode == CASES[case][1], result.output
    assert "Traceback" not in result.stdout + result.stderr
    after = kept(project)
    assert after.keys() == before.keys(), result.output
    assert [name for name in before if after[name] != before[name]] == []
    assert project.file("data/churn.csv").read_bytes() == data  # the user's data is theirs: untouched
    last = result.stderr.strip().splitlines()[-1]
    if params_changed:
        step = f"mlops.review.{case.split()[-2]}"
        assert f"error: {step} stopped on an unexpected RuntimeError: injected." in result.stderr
        assert last.startswith(f"error: {step} stopped (its error is above).")
        assert "are restored as they were" in last
    elif CASES[case][1] == EXIT_STAGE_FAILED:
        stage = case.split()[-2]
        assert (
            f"error: mlops.pipeline.{stage} stopped on an unexpected RuntimeError: injected." in result.stderr
        )
        assert last.startswith("error: `dvc repro` stopped at a failing stage (its error is above).")
        assert "are restored as they were" in last
    else:
        assert last.startswith("error: data/churn.csv breaks the data contract")
        assert "'notes'" in last


def _running(process: psutil.Process) -> bool:
    """Alive, not merely exited and waiting for its parent to collect its exit code (a zombie)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_sigterm_during_a_stage_stops_it_and_keeps_the_last_good_outputs(
    binary_run: Completed, tmp_path: Path
):
    """`timeout`, `docker stop` or `kill` during train: the stage ends too, and nothing is lost. The run
    is `.venv/bin/python -m mlops.run` with no venv on PATH, as the README lets scripts call it."""
    project = binary_run.project.copy(tmp_path / "project")
    project.update_params({"split": {"test_size": 0.25}})  # split and train rerun
    inject(project, "pipeline/train.py", "params = load_params()", "import time; time.sleep(600)")
    before = kept(project)
    venv = Path(sys.executable).parent
    path = os.pathsep.join(p for p in project.env["PATH"].split(os.pathsep) if Path(p) != venv)
    env = project.env | {"PATH": path, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "output"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops.run"],
            cwd=project.path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        deadline = time.monotonic() + 300
        while "Running stage 'train'" not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        time.sleep(3)  # the stage is sleeping by now
        stages = psutil.Process(process.pid).children(recursive=True)
        assert stages, log.read_text()
        process.send_signal(signal.SIGTERM)  # the run alone, not its process group
        returncode = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    output = log.read_text()
    assert returncode == EXIT_INTERRUPTED, output
    assert output.rstrip().splitlines()[-1] == "error: mlops.run interrupted."
    assert "Traceback" not in output
    assert [stage.cmdline() for stage in stages if _running(stage)] == []  # none writes outputs later
    after = kept(project)
    assert [name for name in before if after.get(name) != before[name]] == []
    assert after.keys() == before.keys()
