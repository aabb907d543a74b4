"""Nothing lost: whatever fails, in preflight or in any stage, the last good outputs stay byte for byte.

Each case starts from a copy of a finished run, breaks one thing (a stage's code raising, new
data with a stage failing after two that succeeded, a table that breaks its contract with no
schema yet) and runs `make run`'s `python -m mlops.run` for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from pipeline_project import ROWS, Completed, Pending, Project

from mlops.data import example_data
from mlops.errors import EXIT_STAGE_FAILED, EXIT_USER_ERROR

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


def failing(stage: str) -> Callable[[Project], None]:
    """Make a stage raise an unexpected error once it has started (its module is a dependency)."""

    def apply(project: Project) -> None:
        module = project.file(f"src/mlops/pipeline/{stage}.py")
        code = module.read_text()
        assert code.count("params = load_params()") == 1, f"no injection point in {module}"
        module.write_text(
            code.replace("params = load_params()", 'params = load_params(); raise RuntimeError("injected")')
        )

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
    "contract broken with no schema yet": (no_schema_and_an_empty_column, EXIT_USER_ERROR),
}


@pytest.fixture(scope="module")
def broken(
    binary_run: Completed, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[Project, dict, bytes, Pending]]]:
    """Each selected case in its own copy of the finished run, all started at once."""
    selected = [
        item.callspec.params["case"] for item in request.session.items if item.module is request.module
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

    assert result.returncode == CASES[case][1], result.output
    assert "Traceback" not in result.stdout + result.stderr
    after = kept(project)
    assert after.keys() == before.keys(), result.output
    assert [name for name in before if after[name] != before[name]] == []
    assert project.file("data/churn.csv").read_bytes() == data  # the user's data is theirs: untouched
    last = result.stderr.strip().splitlines()[-1]
    if CASES[case][1] == EXIT_STAGE_FAILED:
        stage = case.split()[-2]
        assert (
            f"error: mlops.pipeline.{stage} stopped on an unexpected RuntimeError: injected." in result.stderr
        )
        assert last.startswith("error: `dvc repro` stopped at a failing stage (its error is above).")
        assert "are restored as they were" in last
    else:
        assert last.startswith("error: data/churn.csv breaks the data contract")
        assert "'notes'" in last
