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
KEPT = (*OUTPUTS, "schema.yaml", "data.dvc")  # a schema deleted before the run stays deleted


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


def _twin_churner(frame: pd.DataFrame) -> pd.DataFrame:
    """Two rows of class 1 that differ only in the id: the random split counts them once."""
    frame = _one_churner(frame)
    twin = frame.loc[[3]].assign(customer_id="twin")
    return pd.concat([frame, twin], ignore_index=True)


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """European Excel's comma-separated export: every number quoted, with a decimal comma."""
    for column in ["age", "tenure_months", "monthly_charges", "total_charges", "support_tickets"]:
        frame[column] = frame[column].map(lambda v: f"{v:.2f}".replace(".", ","), na_action="ignore")
    return frame


def _params(changes: dict) -> Callable[[Project], None]:
    return lambda project: project.update_params(changes)


def _features(features: object) -> Callable[[Project], None]:
    return _params({"data": {"features": lambda _: features}})  # replaced, not merged into `auto`


def _params_text(old: str, new: str) -> Callable[[Project], None]:
    """Edit params.yaml as text, for what a mapping cannot hold (a repeated key, a syntax error)."""

    def apply(project: Project) -> None:
        path = project.file("params.yaml")
        text = path.read_text()
        assert old in text, f"{old!r} is not in params.yaml"
        path.write_text(text.replace(old, new, 1))

    return apply


def _no_schema(project: Project) -> None:
    project.file("schema.yaml").unlink()


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
    "target listed as a feature": (
        _features({"numeric": ["age", "churned"], "categorical": ["contract"]}),
        "data.features lists 'churned', which is data.target; it cannot be a feature too.",
    ),
    "id listed as a feature": (
        _features({"categorical": ["contract", "customer_id"]}),
        "data.features lists 'customer_id', which is data.id_column;",
    ),
    "a feature in both lists": (
        _features({"numeric": ["age"], "categorical": ["contract", "age"]}),
        "data.features lists 'age' under both numeric and categorical",
    ),
    "date column is the target": (
        _params({"data": {"datetime_column": "churned"}}),
        "data.target and data.datetime_column both name 'churned'",
    ),
    "no features": (_features({}), "data.features lists no columns."),
    "features: all": (
        _features("all"),
        "data.features is 'all'; it must be auto (every column of schema.yaml but the target, id and date) "
        "or a mapping",
    ),
    "a feature list that is a string": (
        _features({"numeric": "age", "categorical": ["contract"]}),
        "data.features.numeric is 'age'; it must be a list of column names, e.g. [age].",
    ),
    "text column listed as numeric": (
        _features({"numeric": ["age", "contract"]}),
        "column 'contract' should be numeric but has 1500 value(s) that are not numbers, e.g. ",
    ),
    "date column of text": (
        _params({"data": {"datetime_column": "contract"}}),
        "column 'contract' (data.datetime_column in params.yaml) should hold dates but has 1500 value(s)",
    ),
    "date column of numbers": (
        _params({"data": {"datetime_column": "age"}}),
        "column 'age' (data.datetime_column in params.yaml) holds numbers, not dates",
    ),
    "id column not in the data": (
        _params({"data": {"id_column": "cust_id"}}),
        "column 'cust_id' (the id column in params.yaml) is missing from the data",
    ),
    "class whose rows differ only in the id": (
        _both(_table(_twin_churner), _params({"data": {"datetime_column": None}})),
        "the target 'churned' has 1 class(es) with a single distinct row ('1'; rows whose features are all "
        "the same count once)",
    ),
    "decimal commas in a comma-separated file": (
        _both(_table(_decimal_commas), _no_schema),
        "(1) 5 columns ('age', 'tenure_months', 'monthly_charges', 'total_charges', 'support_tickets') "
        "should be numeric but hold text: '",
    ),
    "repeated params key": (
        _params_text("  min: 0.75\n", "  min: 0.75\n  min: 0.8\n"),
        "params.yaml has the key gate.min twice (lines",
    ),
    "params YAML syntax error": (
        _params_text("  min: 0.75\n", "  min 0.75\n"),
        "params.yaml is not valid YAML: at line ",
    ),
    "gate.min out of the metric's range": (
        _params({"gate": {"min": 1.5}}),
        "gate.min is 1.5; it must be a number from 0 to 1 (the range of roc_auc)",
    ),
    "negative gate.max_drop": (_params({"gate": {"max_drop": -0.1}}), "gate.max_drop is -0.1;"),
    "a check both blocking and skipped": (
        _params({"validation": {"skip_checks": ["Index Train Test Leakage"]}}),
        "validation lists 'Index Train Test Leakage' in both blocking_checks and skip_checks",
    ),
}
# Runs at a time: each imports DVC (and most pandas and scikit-learn); more only share two cores.
RUNNING = 4


@pytest.fixture(scope="module")
def broken(
    binary_run: Completed, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[Project, dict, Pending]]]:
    """Each selected case in its own copy of the finished run, RUNNING at a time (each run only
    imports DVC, pandas and scikit-learn and reads the table, but that takes seconds)."""
    selected = [
        item.callspec.params["case"] for item in request.session.items if item.module is request.module
    ]
    started: dict[str, tuple[Project, dict, Pending]] = {}
    for case in selected:
        if len(started) >= RUNNING:  # wait for the run started RUNNING runs ago
            list(started.values())[len(started) - RUNNING][2].result()
        project = binary_run.project.copy(tmp_path_factory.mktemp("bad-input") / "project")
        CASES[case][0](project)
        before = project.snapshot(*KEPT)  # after the change: the run itself must change nothing
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
    assert "data differs" not in result.stdout  # never "track this data" for data that fails its contract
    assert project.snapshot(*KEPT) == before
