"""Bad input stops `make run` in preflight: exit 2, one paragraph naming the problem, nothing changed.

Each case starts from a copy of a finished run, so the last good model, metrics and report are
there to keep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from pipeline_project import OUTPUTS, Completed, Pending, Project

from mlops.errors import EXIT_USER_ERROR

pytestmark = pytest.mark.integration

DATA = "data/churn.csv"


def _table(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Project], None]:
    def apply(project: Project) -> None:
        change(pd.read_csv(project.file(DATA))).to_csv(project.file(DATA), index=False)

    return apply


def _text_in_age(frame: pd.DataFrame) -> pd.DataFrame:
    frame["age"] = frame["age"].astype(object)
    frame.loc[7, "age"] = "forty"
    return frame


def _one_churner(frame: pd.DataFrame) -> pd.DataFrame:
    frame["churned"] = 0
    frame.loc[3, "churned"] = 1
    return frame


def _params(changes: dict) -> Callable[[Project], None]:
    return lambda project: project.update_params(changes)


def _both(*changes: Callable[[Project], None]) -> Callable[[Project], None]:
    def apply(project: Project) -> None:
        for change in changes:
            change(project)

    return apply


CASES = {
    "empty data file": (lambda p: p.file(DATA).write_text(""), "The data file data/churn.csv is empty"),
    "missing target column": (
        _table(lambda f: f.drop(columns="churned")),
        "column 'churned' (the target in params.yaml) is missing from the data",
    ),
    "missing feature column": (
        _table(lambda f: f.drop(columns="tenure_months")),
        "column 'tenure_months' (a feature in schema.yaml) is missing from the data",
    ),
    "duplicate column names": (
        _table(lambda f: pd.concat([f, f[["age"]]], axis=1)),
        "The data file data/churn.csv has more than one column named 'age'.",
    ),
    "text in a numeric column": (_table(_text_in_age), "column 'age' should be numeric"),
    "single-class target": (
        _table(lambda f: f.assign(churned=0)),
        "the target 'churned' has a single class",
    ),
    "class with a single row": (
        _both(_table(_one_churner), _params({"data": {"datetime_column": None}})),
        "the target 'churned' has 1 class(es) with a single row ('1'), but the random split",
    ),
    "all-empty column": (
        _table(lambda f: f.assign(total_charges=np.nan)),
        "column 'total_charges' has no values at all",
    ),
    "unknown params key": (_params({"data": {"targte": "churned"}}), "data has an unknown key 'targte'"),
    "unknown top-level params key": (_params({"modle": {}}), "has an unknown key 'modle'"),
    "bad params value": (_params({"data": {"task": "ranking"}}), "data.task is 'ranking'"),
    "unknown hyperparameter": (
        _params({"model": {"hyperparameters": {"max_depthh": 3}}}),
        "'max_depthh', which HistGradientBoostingClassifier does not take",
    ),
}


@pytest.fixture(scope="module")
def broken(
    binary_run: Completed, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[Project, dict, Pending]]]:
    """Each selected case in its own copy of the finished run, all started at once (each run only
    imports DVC, pandas and scikit-learn and reads the table, but that takes seconds)."""
    selected = [
        item.callspec.params["case"] for item in request.session.items if item.module is request.module
    ]
    started = {}
    for case in selected:
        project = binary_run.project.copy(tmp_path_factory.mktemp("bad-input") / "project")
        before = project.snapshot(*OUTPUTS)
        CASES[case][0](project)
        started[case] = (project, before, project.start())
    yield started
    for _, _, pending in started.values():
        pending.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_before_the_pipeline_and_keeps_outputs(broken, case: str):
    project, before, pending = broken[case]

    result = pending.result()

    assert result.returncode == EXIT_USER_ERROR, result.output
    message = result.stderr.strip()
    assert "Traceback" not in result.stderr
    assert message.startswith("error: "), result.output
    assert len(message.splitlines()) == 1, f"not one paragraph:\n{message}"
    assert CASES[case][1] in message
    assert "Running stage" not in result.stdout
    assert "dvc add" not in result.stdout  # never "track this data" for data that fails its contract
    assert project.snapshot(*OUTPUTS) == before
