"""The Monitor workflow (.github/workflows/monitor.yml) run with act in host mode, as
test_workflows.py runs the others (its helpers, stand-ins and baseline project): every `run:` step
is real, on logs that mlops.monitoring.simulate writes in the service's format, dated today.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import pytest
import test_workflows
import yaml
from test_workflows import (
    WORKFLOWS,
    Sandbox,
    Scenarios,
    _act,
    _dispatches,
    _git,
    _job_log,
    _plain,
    start_baseline,
)

from mlops.data import example_data
from mlops.data.schema import load_schema, resolve_features
from mlops.hashes import file_md5
from mlops.monitoring import simulate
from mlops.params import load_params

__all__ = ["start_baseline"]  # tests/workflows/conftest.py starts the baseline through this module too

pytestmark = pytest.mark.integration

LABEL = "monitoring-alert"
CHECK = "Check production's logs"
REPOSITORY = "acme/churn"


@pytest.fixture(scope="session")
def project() -> Iterator[Path]:
    """test_workflows' baseline project, built once in the background. Kept to the end of the
    session: test_workflows' own module-scoped fixture removes it after its tests, which come later."""
    if test_workflows._baseline is None:
        start_baseline()
    path = test_workflows._baseline.result()
    if not path.exists():  # test_workflows ran first (files given in that order) and removed it
        start_baseline()
        path = test_workflows._baseline.result()
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@dataclass(frozen=True)
class Traffic:
    """What production saw: ``drift`` 0 to 1; ``feedback`` the share of records labelled later
    (``flip``: wrongly, as a model that decayed sees them); logged ``days_ago`` (0: today)."""

    records: int
    seed: int
    drift: float = 0.0
    feedback: float = 0.0
    flip: bool = False
    days_ago: int = 0


def _traffic(box: Sandbox, name: str, traffic: Traffic) -> Path:
    """Logs as the service ships them, of the sandbox's model, under ``name`` in its GitHub state
    folder, in the day's folder (the workflow reads the files of the last 7 days)."""
    day = (datetime.now(UTC).date() - timedelta(days=traffic.days_ago)).isoformat()
    params = load_params(box.project / "params.yaml")
    features = resolve_features(load_schema(box.project / "schema.yaml"), params.data)
    model = box.project / "models" / "model.joblib"
    frame = example_data.generate(traffic.records, traffic.seed, period=2, drift=traffic.drift)
    lines = simulate.request_lines(frame, features, joblib.load(model), file_md5(model), size=100)
    root = box.state / name
    simulate.write_lines(root, "predictions", lines, per_file=20, day=day)
    if traffic.feedback:
        labels = simulate.feedback_lines(lines, frame[params.data.target], traffic.feedback, traffic.flip)
        simulate.write_lines(root, "feedback", labels, per_file=1000, day=day)
    return root


def _on_github(box: Sandbox) -> None:
    """A GitHub origin, which act takes for the repository (``github.repository``); nothing here pushes."""
    _git(box.project, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")


def _scheduled(box: Sandbox, *flags: str):
    return _act(box.project, "schedule", "monitor.yml", {"schedule": "41 6 * * *"}, box.state, *flags)


def _github(box: Sandbox) -> dict:
    """What GitHub shows after a run: the issues and the events sent to other workflows."""
    issues = sorted((box.state / "issues").glob("*.json"))
    labels = box.state / "labels.json"
    return {
        "issues": [json.loads(path.read_text()) for path in issues],
        "labels": json.loads(labels.read_text()) if labels.exists() else {},
        "dispatches": _dispatches(box.state),
    }


SCENARIOS = Scenarios()  # this module's act runs, in the order they start
scenario = SCENARIOS.add
ran = SCENARIOS.fixture()  # its `project` is this module's session-scoped one


@scenario
def monitor_drift_twice(box: Sandbox) -> dict:
    """Two daily runs on drifted traffic: yesterday's, then also today's."""
    _on_github(box)
    logs = _traffic(box, "logs", Traffic(2000, 11, drift=1.0, days_ago=1))
    flags = ("--var", f"PREDICTION_LOG_URL={logs}", *box.remote_secret)
    first = {"run": _scheduled(box, *flags), **_github(box)}
    _traffic(box, "logs", Traffic(2000, 12, drift=1.0))
    return {"first": first, "second": {"run": _scheduled(box, *flags), **_github(box)}}


@scenario
def monitor_decay(box: Sandbox) -> dict:
    """By hand, on other logs than the variable names: true outcomes say the model got worse."""
    _on_github(box)
    logs = _traffic(box, "decayed", Traffic(1000, 13, feedback=0.5, flip=True))
    run = _act(
        box.project,
        "workflow_dispatch",
        "monitor.yml",
        {"ref": "refs/heads/main", "inputs": {"logs": str(logs)}},
        box.state,
        "--var",
        f"PREDICTION_LOG_URL={box.state / 'not-these'}",
        *box.remote_secret,
    )
    return {"run": run, **_github(box)}


@scenario
def monitor_healthy(box: Sandbox) -> dict:
    _on_github(box)
    logs = _traffic(box, "logs", Traffic(1000, 14))
    return {"run": _scheduled(box, "--var", f"PREDICTION_LOG_URL={logs}", *box.remote_secret), **_github(box)}


@scenario
def monitor_unconfigured(box: Sandbox) -> dict:
    """A fresh fork: no PREDICTION_LOG_URL and no secrets; a run by hand from another branch; and a
    log window (MONITOR_SINCE) that is neither a number of days nor a date."""
    _on_github(box)
    logs = _traffic(box, "logs", Traffic(300, 15))
    return {
        "run": _scheduled(box),
        "bad_window": _scheduled(
            box, "--var", f"PREDICTION_LOG_URL={logs}", "--var", "MONITOR_SINCE=a week", *box.remote_secret
        ),
        "off_main": _act(
            box.project,
            "workflow_dispatch",
            "monitor.yml",
            {"ref": "refs/heads/feature", "inputs": {"logs": "/tmp"}},
            box.state,
        ),
        **_github(box),
    }


@pytest.mark.scenario("monitor_healthy")
def test_healthy_traffic_is_reported_and_bothers_no_one(ran):
    results = ran("monitor_healthy")
    run = results["run"]
    assert run.returncode == 0, run.stdout[-4000:]
    check = _plain(_job_log(run.stdout, CHECK))
    assert "Summary - ## ✅ Production monitoring: OK (no retraining needed)" in check, check[-4000:]
    assert "1,000 records checked, files dated" in run.stdout
    report = results["box"].state / "artifacts" / "monitoring-report"
    assert json.loads((report / "verdict.json").read_text())["status"] == "ok"
    assert (report / "report.html").is_file()
    assert _job_log(run.stdout, "Open or update the monitoring issue") == ""
    assert _job_log(run.stdout, "Ask the Retrain workflow to retrain") == ""
    assert results["issues"] == [] and results["dispatches"] == []


@pytest.mark.scenario("monitor_drift_twice")
def test_drift_opens_one_issue_carrying_the_report(ran):
    first = ran("monitor_drift_twice")["first"]
    run = first["run"]
    assert run.returncode == 0, run.stdout[-4000:]
    check = _plain(_job_log(run.stdout, CHECK))
    assert "Summary - ## 🔴 Production monitoring: ALERT (retraining recommended)" in check, check[-4000:]
    assert "::warning title=Production monitoring alert::drift" in check  # the annotation, drift first
    [issue] = first["issues"]
    assert issue["title"] == "Production monitoring alert" and issue["labels"] == [LABEL]
    assert issue["state"] == "OPEN" and issue["comments"] == []
    assert list(first["labels"]) == [LABEL]  # created for the first alert
    assert issue["body"].startswith("## 🔴 Production monitoring: ALERT (retraining recommended)")
    assert "drifted: PSI" in issue["body"] and "2,000 records checked" in issue["body"]
    assert "From [this run of the Monitor workflow](" in issue["body"]
    number = issue["number"]
    assert (
        f"Summary - Opened the monitoring issue https://github.com/{REPOSITORY}/issues/{number}."
        in run.stdout
    )
    assert [(d["repo"], d["event_type"]) for d in first["dispatches"]] == [(REPOSITORY, "retrain")]


@pytest.mark.scenario("monitor_drift_twice")
def test_a_later_alert_updates_the_open_issue_instead_of_opening_another(ran):
    results = ran("monitor_drift_twice")
    first, second = results["first"], results["second"]
    assert second["run"].returncode == 0, second["run"].stdout[-4000:]
    [issue] = second["issues"]
    assert issue["number"] == first["issues"][0]["number"] and issue["edits"] == 1
    assert "4,000 records checked" in issue["body"]  # the newest report: both days' files
    [comment] = issue["comments"]
    assert comment.startswith("Still alerting: [run ") and "The description now holds its report." in comment
    assert f"Summary - Updated the open monitoring issue #{issue['number']}." in second["run"].stdout
    assert len(second["dispatches"]) == 2  # each alert that recommends retraining asks again


@pytest.mark.scenario("monitor_decay")
def test_decayed_performance_asks_the_retrain_workflow_to_retrain(ran):
    results = ran("monitor_decay")
    run = results["run"]
    assert run.returncode == 0, run.stdout[-4000:]
    [dispatch] = results["dispatches"]
    retrain = yaml.safe_load((WORKFLOWS / "retrain.yml").read_text())
    assert dispatch["event_type"] in retrain[True]["repository_dispatch"]["types"]  # YAML reads `on:` as True
    assert dispatch["event_type"] == "retrain"
    reason = dispatch["client_payload"]["reason"]
    assert reason.startswith("performance alert: roc_auc on ") and "the model got worse" in reason
    assert "(Monitor run " in reason
    assert f"logs `{results['box'].state / 'decayed'}`" in run.stdout  # the input, not the variable
    assert "Summary - Retraining recommended: sent the retrain event to the Retrain workflow" in run.stdout
    [issue] = results["issues"]
    assert "the model got worse" in issue["body"]


@pytest.mark.scenario("monitor_unconfigured")
def test_without_a_log_location_the_run_stops_with_one_clear_message(ran):
    results = ran("monitor_unconfigured")
    run = results["run"]
    assert run.returncode != 0
    assert "Set the repository variable PREDICTION_LOG_URL" in run.stdout, run.stdout[-4000:]
    assert "Main Environment" not in run.stdout and "make install" not in run.stdout
    assert results["issues"] == [] and results["dispatches"] == []


@pytest.mark.scenario("monitor_unconfigured")
def test_only_mains_code_monitors(ran):
    run = ran("monitor_unconfigured")["off_main"]
    assert run.returncode == 0, run.stdout[-4000:]
    assert _job_log(run.stdout, CHECK) == ""  # no job started


@pytest.mark.scenario("monitor_unconfigured")
def test_a_check_that_cannot_run_fails_the_run_and_says_why(ran):
    results = ran("monitor_unconfigured")
    run = results["bad_window"]
    assert run.returncode != 0
    check = _plain(_job_log(run.stdout, CHECK))
    assert "Summary - ## ❌ Production monitoring: the check could not run" in check, check[-4000:]
    assert "--since is 'a week'; give a number of days (7d) or a date" in check
    assert _job_log(run.stdout, "Open or update the monitoring issue") == ""
    assert results["issues"] == [] and results["dispatches"] == []
