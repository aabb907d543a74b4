"""The real workflow files, checked statically and run with `act` in host mode.

Only the remote actions (through --local-repository, see stand_ins/) and GitHub's API (a `gh` and
a `cml` that keep pull requests and comments in a directory) are stand-ins; every `run:` step of
the workflows, the pipeline included, runs for real on a small copy of this project.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
STAND_INS = Path(__file__).parent / "stand_ins"
BIN = Path(sys.executable).parent
ROWS = 1500

pytestmark = pytest.mark.integration


def test_zizmor_finds_nothing():
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", WORKFLOWS], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_workflows_match_githubs_schema():
    files = sorted(WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_trusted_workflow_runs_no_pull_request_code():
    text = (WORKFLOWS / "report-comment.yml").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["comment"]["steps"]
    assert not any("checkout" in step.get("uses", "") for step in steps)
    assert "secrets." not in text
    assert "pull_request_target" not in (WORKFLOWS / "ci.yml").read_text() + text


def test_third_party_actions_are_pinned_by_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for ref in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref}"


# --- running the workflows -------------------------------------------------------------------


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


def _env(**extra: str) -> dict[str, str]:
    path = f"{STAND_INS / 'github-api'}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"
    return {
        **os.environ,
        "PATH": path,
        "DVC_NO_ANALYTICS": "1",
        "GIT_PAGER": "cat",
        "DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY": "True",
        **extra,
    }


def _edit_params(project: Path, edit) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    edit(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _shrink(params: dict) -> None:
    params["validation"]["n_samples"] = 300
    params["model"]["hyperparameters"]["max_iter"] = 30


def _stand_in_flags() -> list[str]:
    """--local-repository for every remote action the workflows use but checkout."""
    refs = {ref for path in WORKFLOWS.glob("*.yml") for ref in re.findall(r"uses:\s*(\S+)", path.read_text())}
    flags = []
    for ref in sorted(refs):
        name = ref.split("@")[0].split("/")[1]
        if name != "checkout":  # act copies the working tree itself for a checkout of this repository
            flags += ["--local-repository", f"{ref}={STAND_INS / name}"]
    return flags


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A small copy of this project whose main branch has run the pipeline (the baseline)."""
    project = tmp_path_factory.mktemp("project")
    files = _git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    _git(project, "init", "-q", "-b", "main")
    _git(project, "config", "user.email", "test@example.com")
    _git(project, "config", "user.name", "test")
    _edit_params(project, _shrink)
    subprocess.run(
        [BIN / "python", "-m", "mlops.data.example_data", "data/churn.csv", "--rows", str(ROWS)],
        cwd=project,
        check=True,
        env=_env(),
    )
    subprocess.run([BIN / "dvc", "add", "-q", "data"], cwd=project, check=True, env=_env())
    pinned = yaml.safe_load((project / "data.dvc").read_text())
    pinned["meta"] = {"example": {"rows": ROWS, "seed": 7}}
    (project / "data.dvc").write_text(yaml.safe_dump(pinned, sort_keys=False))
    subprocess.run(
        [BIN / "python", "-m", "mlops.run"], cwd=project, check=True, env=_env(), capture_output=True
    )
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "baseline")
    # The team's DVC remote holds the data and main's runs; workflows get it from a secret.
    remote = _remote(project)
    subprocess.run(
        [BIN / "dvc", "remote", "add", "--local", "-d", "storage", remote], cwd=project, check=True
    )
    subprocess.run([BIN / "dvc", "push", "-q", "--run-cache"], cwd=project, check=True, env=_env())
    (project / ".dvc" / "config.local").unlink()
    return project


def _remote(project: Path) -> Path:
    return project.parent / "dvc-remote"


def _branch(project: Path, name: str, edit) -> str:
    _git(project, "checkout", "-q", "-B", name, "main")
    _edit_params(project, edit)
    _git(project, "commit", "-q", "-am", name)
    return _git(project, "rev-parse", "HEAD")


def _act(project: Path, event: str, workflow: str, payload: dict, state: Path, *flags: str):
    event_file = state / f"{event}.json"
    event_file.write_text(json.dumps(payload))
    run = subprocess.run(
        [
            BIN / "act",
            event,
            "-W",
            f".github/workflows/{workflow}",
            "-e",
            event_file,
            "-P",
            "ubuntu-latest=-self-hosted",
            *_stand_in_flags(),
            "--env",
            f"ACT_ARTIFACTS={state / 'artifacts'}",
            "--env",
            f"FAKE_GITHUB={state}",
            *flags,
        ],
        cwd=project,
        # act's workspace goes under $XDG_CACHE_HOME: not ~/.cache, whose dot BentoML refuses in paths.
        env=_env(
            FAKE_GITHUB=str(state), ACT_ARTIFACTS=str(state / "artifacts"), XDG_CACHE_HOME=str(state / "act")
        ),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    (state / f"act-{event}.log").write_text(run.stdout + run.stderr)  # for a failing test's reader
    return run


def _pull_request(project: Path, state: Path, number: int, sha: str, *flags: str):
    (state / "pulls").mkdir(parents=True, exist_ok=True)
    (state / "pulls" / f"{number}.json").write_text(json.dumps({"headRefOid": sha}))
    payload = {
        "pull_request": {"number": number, "head": {"ref": "feature", "sha": sha}, "base": {"ref": "main"}}
    }
    return _act(project, "pull_request", "ci.yml", payload, state, "-j", "pipeline", *flags)


def _comment(project: Path, state: Path, sha: str):
    payload = {
        "workflow_run": {
            "id": 1,
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": sha,
            "head_branch": "feature",
            "head_repository": {"full_name": "fork/project"},
        }
    }
    return _act(project, "workflow_run", "report-comment.yml", payload, state)


def _job_log(output: str, job: str) -> str:
    """The lines act printed for one job of the workflow."""
    return "\n".join(line for line in output.splitlines() if f"/{job}]" in line)


def _comments(state: Path) -> list[dict]:
    return json.loads((state / "comments.json").read_text())


def test_pull_request_reports_against_main_and_comments_once(project, tmp_path):
    remote = _remote(project)
    sha = _branch(project, "feature", lambda p: p["model"]["hyperparameters"].update(max_iter=40))

    run = _pull_request(project, tmp_path, 7, sha, "-s", f"DVC_REMOTE_URL={remote}")
    assert run.returncode == 0, run.stdout[-4000:]
    artifact = tmp_path / "artifacts" / "model-report"
    report = (artifact / "report.md").read_text()
    assert report.startswith("## ✅ Model gate: PASS")
    assert re.search(r"\| \*\*roc_auc\*\* \(gate\) \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \|", report)
    assert "| `model.hyperparameters.max_iter` | 30 | 40 |" in report
    assert (artifact / "pr-number").read_text().strip() == "7"
    assert {"data_integrity.html", "model_evaluation.html", "gate.json"} <= {
        p.name for p in artifact.iterdir()
    }
    runs = {path.name for path in (remote / "runs").rglob("*") if path.is_file()}
    assert len(runs) > 5, "this run's run-cache was not pushed next to main's"

    first, second = _comment(project, tmp_path, sha), _comment(project, tmp_path, sha)
    assert first.returncode == 0, first.stdout[-4000:]
    assert second.returncode == 0, second.stdout[-4000:]
    [comment] = _comments(tmp_path)
    assert comment["pr"] == 7 and comment["edits"] == 1 and comment["watermark"] == "Model report"
    assert comment["body"] == report


def test_worse_fork_pull_request_fails_the_gate_and_still_gets_its_comment(project, tmp_path):
    sha = _branch(project, "fork-worse", lambda p: p["gate"].update(min=0.99))

    run = _pull_request(project, tmp_path, 8, sha)  # no secrets, as for a fork
    assert run.returncode != 0
    assert "Job failed" in run.stdout
    report = (tmp_path / "artifacts" / "model-report" / "report.md").read_text()
    assert report.startswith("## ❌ Model gate: FAIL")
    assert re.search(r"❌ test roc_auc 0\.\d{4} < minimum 0\.99", report)
    assert "bundled example data regenerated" in run.stdout

    comment = _comment(project, tmp_path, sha)
    assert comment.returncode == 0, comment.stdout[-4000:]
    [posted] = _comments(tmp_path)
    assert posted["pr"] == 8 and posted["body"] == report


def test_comment_refuses_a_pull_request_number_that_does_not_match_the_commit(project, tmp_path):
    artifact = tmp_path / "artifacts" / "model-report"
    artifact.mkdir(parents=True)
    (artifact / "report.md").write_text("## ✅ Model gate: PASS\n")
    (artifact / "pr-number").write_text("9\n")
    (tmp_path / "pulls").mkdir()
    (tmp_path / "pulls" / "9.json").write_text(json.dumps({"headRefOid": "a" * 40}))

    run = _comment(project, tmp_path, "b" * 40)
    assert run.returncode != 0
    assert "not at the commit this report is for" in run.stdout
    assert not (tmp_path / "comments.json").exists()


def test_merge_ships_the_model_the_gate_passed_reusing_the_runs_of_main(project, tmp_path):
    _git(project, "checkout", "-q", "main")
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    model_md5 = next(out["md5"] for out in lock["stages"]["train"]["outs"])

    # Both jobs: the release job runs until containerizing, which needs a Docker daemon (none here).
    run = _act(
        project,
        "push",
        "deploy.yml",
        {"ref": "refs/heads/main"},
        tmp_path,
        "-s",
        f"DVC_REMOTE_URL={_remote(project)}",
    )
    assert "🏁  Job succeeded" in _job_log(run.stdout, "Gate and build the Bento"), run.stdout[-4000:]
    assert "Running stage 'train'" not in run.stdout  # restored from the remote, not retrained
    release = _job_log(run.stdout, "Containerize, push, deploy and smoke-test")
    assert "✅  Success - Main Import the Bento the build job gated" in release, release[-4000:]
    assert f'Bento(tag="mlops-service:{model_md5}") imported.' in re.sub(r"\x1b\[[0-9;]*m", "", release)
    assert "❌  Failure - Main Containerize and push to ghcr.io" in release
    assert "Tag the model version" not in release  # no version for a model that was not shipped
    artifact = tmp_path / "artifacts" / "bento"
    assert (artifact / f"mlops-service-{model_md5}.bento").is_file()
    card = (artifact / "model-card.md").read_text()
    assert card.startswith(f"### Model {model_md5}")
    assert "Reused the model trained earlier with the same code, params and data" in card
    assert "## ✅ Model gate: PASS" in card


def test_merge_whose_gate_fails_ships_nothing(project, tmp_path):
    _branch(project, "main-failing-gate", lambda p: p["gate"].update(min=0.99))
    try:
        # With the remote, main's runs are restored rather than rerun: only the gate's params changed.
        remote = f"DVC_REMOTE_URL={_remote(project)}"
        run = _act(project, "push", "deploy.yml", {"ref": "refs/heads/main"}, tmp_path, "-s", remote)
    finally:
        _git(project, "checkout", "-q", "main")
    assert run.returncode != 0
    build = _job_log(run.stdout, "Gate and build the Bento")
    assert "❌  Failure - Main Gate the merged code, params and data" in build, build[-4000:]
    assert re.search(r"test roc_auc 0\.\d{4} < minimum 0\.99", build)
    assert "Import the gated model" not in build
    assert not (tmp_path / "artifacts" / "bento").exists()
    assert "Containerize, push, deploy and smoke-test]" not in run.stdout


def test_running_deploy_by_hand_with_an_earlier_version_rebuilds_that_model(project, tmp_path):
    _git(project, "checkout", "-q", "main")
    _git(project, "tag", "-f", "model-v1")
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    shipped_md5 = next(out["md5"] for out in lock["stages"]["train"]["outs"])
    # main has moved on since model-v1 shipped: a later merge changed the model.
    _branch(project, "later-main", lambda p: p["model"]["hyperparameters"].update(max_iter=45))
    try:
        run = _act(
            project,
            "workflow_dispatch",
            "deploy.yml",
            {"ref": "refs/heads/main", "inputs": {"version": "model-v1"}},
            tmp_path,
            "-j",
            "build",
            "-s",
            f"DVC_REMOTE_URL={_remote(project)}",
        )
    finally:
        _git(project, "checkout", "-q", "main")
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Running stage 'train'" not in run.stdout  # model-v1's run, restored from the remote
    artifact = tmp_path / "artifacts" / "bento"
    assert (artifact / f"mlops-service-{shipped_md5}.bento").is_file()
    card = (artifact / "model-card.md").read_text()
    assert card.startswith(f"### Model {shipped_md5}")
    assert "Rollback: the model of model-v1, deployed again by hand." in card


# --- continuous training ---------------------------------------------------------------------

RETRAIN_BRANCH = "retrain/data"


@pytest.fixture(scope="module")
def github(project: Path, tmp_path_factory) -> Path:
    """GitHub's side of retraining: a bare repository as the project's origin, at main, and the
    directory where the stand-ins keep pull requests, comments and dispatched workflows."""
    state = tmp_path_factory.mktemp("github")
    _git(project, "checkout", "-q", "main")
    subprocess.run(["git", "clone", "-q", "--bare", project, state / "origin.git"], check=True)
    _git(project, "remote", "add", "origin", str(state / "origin.git"))
    return state


def _retrain(project: Path, state: Path, event: str, payload: dict, *flags: str):
    _git(project, "checkout", "-q", "main")
    return _act(project, event, "retrain.yml", payload, state, *flags)


def _on_main(project: Path, edit) -> str:
    """Commit a change of params.yaml on main, as a reviewed merge would; returns the commit before."""
    before = _git(project, "rev-parse", "main")
    _git(project, "checkout", "-q", "main")
    _edit_params(project, edit)
    _git(project, "commit", "-q", "-am", "params on main")
    return before


def _pulls(state: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((state / "pulls").glob("*.json"))]


def _dispatches(state: Path) -> list[dict]:
    path = state / "dispatches.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _origin(state: Path, *args: str) -> str:
    return _git(state / "origin.git", *args)


@pytest.fixture(scope="module")
def first_proposal(project: Path, github: Path):
    """The weekly schedule on the bundled example: its next period is new data. No RETRAIN_TOKEN."""
    remote = f"DVC_REMOTE_URL={_remote(project)}"
    return _retrain(project, github, "schedule", {"schedule": "17 5 * * 1"}, "-s", remote)


def test_scheduled_retrain_on_new_data_opens_one_pull_request_carrying_the_report(
    project, github, first_proposal
):
    run = first_proposal
    assert run.returncode == 0, run.stdout[-4000:]
    [pull] = _pulls(github)
    assert pull["head"] == RETRAIN_BRANCH and pull["base"] == "main" and not pull["isDraft"]
    assert pull["body"].startswith("## ✅ Model gate: PASS")
    assert pull["title"].startswith("Retrain on new data: gate PASS, roc_auc 0.")
    assert "main's model (`" in pull["body"] and "scored on this change's test set" in pull["body"]
    [comment] = _comments(github)
    assert comment["pr"] == pull["number"] and comment["body"].strip() == pull["body"].strip()
    # The proposal is a commit on main with the new data's pin, dvc.lock and metrics, CI not skipped.
    message = _origin(github, "log", "-1", "--format=%B", RETRAIN_BRANCH)
    assert message.startswith("Retrain: new data from the bundled example's next period")
    assert "Reason: schedule" in message and "[skip ci]" not in message
    changed = _origin(github, "diff", "--name-only", "main", RETRAIN_BRANCH).splitlines()
    assert {"data.dvc", "dvc.lock", "reports/metrics.json"} <= set(changed)
    pinned = yaml.safe_load(_origin(github, "show", f"{RETRAIN_BRANCH}:data.dvc"))
    assert pinned["meta"]["example"]["periods"] == 2
    # The new data is on the DVC remote before the pull request opens, for reviewers and CI.
    md5 = pinned["outs"][0]["md5"]
    assert (_remote(project) / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    # GITHUB_TOKEN's push starts no workflow: CI is dispatched on the branch instead.
    assert _dispatches(github) == [{"workflow": "ci.yml", "ref": RETRAIN_BRANCH}]


def test_newer_data_updates_the_open_pull_request_and_a_failing_gate_makes_it_a_draft(
    project, github, first_proposal
):
    export = github / "export.csv"
    shutil.copy(project / "data" / "churn.csv", export)
    with export.open("a") as table:  # a later export: the same customers and 200 new ones
        rows = (project / "data" / "churn.csv").read_text().splitlines()[1:201]
        table.writelines(f"N{row}\n" for row in rows)
    head_before = _origin(github, "rev-parse", RETRAIN_BRANCH)

    def edit(params: dict) -> None:
        params["refresh"]["command"] = f"cp {export} data/churn.csv"
        params["gate"]["min"] = 0.99

    baseline = _on_main(project, edit)
    try:
        run = _retrain(
            project,
            github,
            "workflow_dispatch",
            {"inputs": {"reason": "new export from the warehouse"}},
            "-s",
            f"DVC_REMOTE_URL={_remote(project)}",
            "-s",
            "RETRAIN_TOKEN=a-fine-grained-token",
        )
    finally:
        _git(project, "reset", "-q", "--hard", baseline)
    assert run.returncode == 0, run.stdout[-4000:]
    [pull] = _pulls(github)  # the same pull request, updated
    assert pull["isDraft"] and pull["edits"] == 1
    assert pull["body"].startswith("## ❌ Model gate: FAIL")
    assert re.search(r"❌ test roc_auc 0\.\d{4} < minimum 0\.99", pull["body"])
    assert pull["title"].startswith("Retrain on new data: gate FAIL")
    [comment] = _comments(github)
    assert comment["edits"] == 1 and comment["body"].strip() == pull["body"].strip()
    assert _origin(github, "rev-parse", RETRAIN_BRANCH) != head_before
    message = _origin(github, "log", "-1", "--format=%B", RETRAIN_BRANCH)
    assert message.startswith("Retrain: new data from refresh.command")
    assert "Reason: new export from the warehouse" in message
    assert len(_dispatches(github)) == 1  # with a token, the push itself starts CI: nothing dispatched


def test_retrain_from_another_system_with_unchanged_data_opens_nothing(project, github, first_proposal):
    export = github / "same.csv"
    shutil.copy(project / "data" / "churn.csv", export)
    pulls_before = _pulls(github)
    baseline = _on_main(project, lambda p: p["refresh"].update(command=f"cp {export} data/churn.csv"))
    try:
        run = _retrain(
            project,
            github,
            "repository_dispatch",
            {"action": "retrain", "client_payload": {"reason": "drift alert"}},
            "-s",
            f"DVC_REMOTE_URL={_remote(project)}",
        )
    finally:
        _git(project, "reset", "-q", "--hard", baseline)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Retrain: no new data from refresh.command: data.dvc still pins" in run.stdout
    assert "; no pull request." in run.stdout
    assert "Running stage" not in run.stdout
    assert _pulls(github) == pulls_before


def test_retrain_without_a_dvc_remote_stops_with_one_clear_message(project, tmp_path):
    run = _retrain(project, tmp_path, "workflow_dispatch", {"inputs": {"reason": ""}})
    assert run.returncode != 0
    assert "Retraining needs a DVC remote" in run.stdout and "DVC_REMOTE_URL" in run.stdout
    assert "make refresh" not in run.stdout
