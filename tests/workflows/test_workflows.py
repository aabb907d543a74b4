"""The real workflow files, checked statically and run with `act` in host mode.

Only the remote actions (through --local-repository, see stand_ins/) and GitHub's API (a `gh` and
a `cml` that keep pull requests and comments in a directory) are stand-ins; every `run:` step of
the workflows, the pipeline included, runs for real on a small copy of this project.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mlops.hashes import file_md5

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
STAND_INS = Path(__file__).parent / "stand_ins"
BIN = Path(sys.executable).parent
ROWS = 1500
UV_CACHE = subprocess.run(
    [BIN / "uv", "cache", "dir"], capture_output=True, text=True, check=True
).stdout.strip()

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


def test_deploy_gives_keys_only_to_the_steps_that_use_them():
    jobs = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())["jobs"]
    holders = {}
    for name in ("staging", "production"):
        job = jobs[name]
        assert "secrets.BENTO_CLOUD_API_KEY !=" in job["env"]["USE_BENTO_CLOUD"]  # whether, not the key
        assert not [v for k, v in job["env"].items() if k != "USE_BENTO_CLOUD" and "secrets." in str(v)]
        holders[name] = [
            step["name"] for step in job["steps"] if "secrets.BENTO_CLOUD_API_KEY }}" in str(step)
        ]
    assert holders == {
        "staging": ["Deploy to staging on BentoCloud, smoke- and load-test it there"],
        "production": [
            "Deploy to production on BentoCloud and smoke-test it",
            "Put the previous production version back",
        ],
    }
    [push] = [step for step in jobs["production"]["steps"] if "docker login" in step.get("run", "")]
    assert "trap 'docker logout ghcr.io' EXIT" in push["run"]
    # Only the jobs that write to the repository may, and the storage keys that write only in `training`.
    writers = {name for name, job in jobs.items() if job["permissions"].get("contents") == "write"}
    assert writers == {"register", "staging", "production"}
    assert jobs["build"]["permissions"] == {"contents": "read"} and jobs["build"]["environment"] == "training"
    assert (jobs["staging"]["environment"], jobs["production"]["environment"]) == ("staging", "production")


def test_pull_request_runs_never_write_to_storage():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    runs = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert not [run for run in runs if "dvc push" in run]
    retrain = yaml.safe_load((WORKFLOWS / "retrain.yml").read_text())["jobs"]["retrain"]
    assert retrain["environment"] == "training"


def test_zizmor_auditor_persona_finds_nothing_unjustified():
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", "--persona", "auditor", WORKFLOWS],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr
    for path in WORKFLOWS.glob("*.yml"):  # every finding ignored says why
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                assert re.search(r"zizmor: ignore\[[\w-]+\] \S", line), f"{path.name}: {line.strip()}"


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


def _build_baseline(project: Path) -> Path:
    """A small copy of this project whose main branch has run the pipeline (the baseline)."""
    project.mkdir()
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
    remote = project.parent / "dvc-remote"
    subprocess.run(
        [BIN / "dvc", "remote", "add", "--local", "-d", "storage", remote], cwd=project, check=True
    )
    subprocess.run([BIN / "dvc", "push", "-q", "--run-cache"], cwd=project, check=True, env=_env())
    (project / ".dvc" / "config.local").unlink()
    return project


_baseline: Future | None = None


def start_baseline() -> None:
    """Build the baseline in the background (tests/workflows/conftest.py calls this once tests are
    collected): its pipeline run uses one core while the tests before this module run."""
    global _baseline
    root = Path(tempfile.mkdtemp(prefix="workflow-tests-"))
    _baseline = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baseline").submit(
        _build_baseline, root / "project"
    )


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    if _baseline is None:
        start_baseline()
    project = _baseline.result()
    yield project
    shutil.rmtree(project.parent, ignore_errors=True)


@dataclass(frozen=True)
class Sandbox:
    """One scenario's own copy of the project, the directory where the stand-ins keep its GitHub
    (pull requests, comments, dispatches, artifacts; and origin.git when it pushes), and the team's
    DVC remote, which all scenarios share as a real team would."""

    project: Path
    state: Path
    remote: Path

    @property
    def remote_secret(self) -> tuple[str, str]:
        return ("-s", f"DVC_REMOTE_URL={self.remote}")


def _results(run: Callable[[Sandbox], dict], box: Sandbox) -> dict:
    return {**run(box), "box": box}


class Scenarios(dict[str, Callable[[Sandbox], dict]]):
    """The act runs of a test module, each a function of its sandbox, in the order they start (the
    longest first): ``@scenarios.add`` registers one, ``scenarios.fixture()`` is the module's ``ran``."""

    def add(self, function: Callable[[Sandbox], dict]) -> Callable[[Sandbox], dict]:
        self[function.__name__] = function
        return function

    def fixture(self):
        @pytest.fixture(scope="module")
        def ran(
            request: pytest.FixtureRequest, project: Path, tmp_path_factory
        ) -> Iterator[Callable[[str], dict]]:
            """Start the scenarios the selected tests check, two at a time (act runs whole pipelines
            and the machine has two cores), each in its own sandbox; ``ran(name)`` waits for one."""
            wanted = {m.args[0] for item in request.session.items for m in item.iter_markers("scenario")}
            sandboxes = {}
            for name in (name for name in self if name in wanted):
                root = tmp_path_factory.mktemp(name)
                shutil.copytree(project, root / "project", symlinks=True)
                sandboxes[name] = Sandbox(root / "project", root / "github", project.parent / "dvc-remote")
                sandboxes[name].state.mkdir()
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = {name: pool.submit(_results, self[name], box) for name, box in sandboxes.items()}
                yield lambda name: futures[name].result()
                for future in futures.values():
                    future.cancel()

        return ran


SCENARIOS = Scenarios()
scenario = SCENARIOS.add
ran = SCENARIOS.fixture()


def _branch(project: Path, name: str, edit) -> str:
    _git(project, "checkout", "-q", "-B", name, "main")
    _edit_params(project, edit)
    _git(project, "commit", "-q", "-am", name)
    return _git(project, "rev-parse", "HEAD")


def _on_main(project: Path, edit) -> None:
    """Commit a change of params.yaml on main, as a reviewed merge would."""
    _git(project, "checkout", "-q", "main")
    _edit_params(project, edit)
    _git(project, "commit", "-q", "-am", "params on main")


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
        # uv keeps the host's cache, or `make install` would download every package again in each run.
        env=_env(
            FAKE_GITHUB=str(state),
            ACT_ARTIFACTS=str(state / "artifacts"),
            XDG_CACHE_HOME=str(state / "act"),
            UV_CACHE_DIR=UV_CACHE,
        ),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    (state / f"act-{event}.log").write_text(run.stdout + run.stderr)  # for a failing test's reader
    return run


def _pull_request(box: Sandbox, number: int, sha: str, *flags: str):
    (box.state / "pulls").mkdir(parents=True, exist_ok=True)
    (box.state / "pulls" / f"{number}.json").write_text(json.dumps({"headRefOid": sha}))
    payload = {
        "pull_request": {"number": number, "head": {"ref": "feature", "sha": sha}, "base": {"ref": "main"}}
    }
    return _act(box.project, "pull_request", "ci.yml", payload, box.state, "-j", "pipeline", *flags)


def _comment(project: Path, state: Path, sha: str, event: str = "pull_request", conclusion: str = "success"):
    payload = {
        "workflow_run": {
            "id": 1,
            "event": event,
            "conclusion": conclusion,
            "head_sha": sha,
            "head_branch": "feature",
            "head_repository": {"full_name": "fork/project"},
        }
    }
    return _act(project, "workflow_run", "report-comment.yml", payload, state)


@functools.cache
def _job_names() -> frozenset[str]:
    return frozenset(
        job["name"]
        for path in WORKFLOWS.glob("*.yml")
        for job in yaml.safe_load(path.read_text())["jobs"].values()
    )


def _job_log(output: str, job: str) -> str:
    """The lines act printed for one job of the workflow (a job the workflows have: so that an empty
    log means the job did not run, not that it was renamed)."""
    assert job in _job_names(), f"no job named {job!r} in {WORKFLOWS}"
    label = re.compile(rf"/{re.escape(job)} *\]")  # act pads job names to the longest one's width
    return "\n".join(line for line in output.splitlines() if label.search(line))


MARKER = "\n<!-- mlops-template: model report -->\n"  # ends the report comment the workflows keep


def _comments(state: Path) -> list[dict]:
    path = state / "comments.json"
    return json.loads(path.read_text()) if path.exists() else []


def _pulls(state: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((state / "pulls").glob("*.json"))]


def _dispatches(state: Path) -> list[dict]:
    path = state / "dispatches.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _model_md5(project: Path) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return next(out["md5"] for out in lock["stages"]["train"]["outs"])


# --- the scenarios, longest first --------------------------------------------------------------

RETRAIN_BRANCH = "retrain/data"


def _github_origin(box: Sandbox) -> Path:
    """A bare repository at main as origin, which act takes for the repository on GitHub
    (``github.repository`` is origin's URL): what the workflows push (the registry's tags) lands there."""
    origin = box.state / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", box.project, origin], check=True)
    _git(box.project, "remote", "add", "origin", str(origin))
    return origin


def _after_ci(box: Sandbox, conclusion: str = "success", *flags: str):
    """Deploy as GitHub starts it: CI's run for the push of main's head has completed."""
    payload = {
        "workflow_run": {
            "id": 2,
            "event": "push",
            "conclusion": conclusion,
            "head_sha": _git(box.project, "rev-parse", "HEAD"),
            "head_branch": "main",
            "head_repository": {"full_name": _git(box.project, "remote", "get-url", "origin")},
        }
    }
    return _act(
        box.project, "workflow_run", "deploy.yml", payload, box.state, *box.remote_secret, *LOAD, *flags
    )


# The staging load test's p99 target, relaxed: two act runs (whole pipelines) share these two cores.
LOAD = ("--var", "LOAD_TEST_MAX_P99_MS=3000")


def _tags(origin: Path) -> dict[str, str]:
    """The registry as GitHub holds it: each GTO tag and its message."""
    names = _git(origin, "tag", "--list", "model*").split()
    return {name: _git(origin, "tag", "--list", "--format=%(contents)", name) for name in names}


def _register(box: Sandbox, version: str, model_md5: str) -> None:
    """A version as the deploy workflow registers it: an annotated tag with the model's md5."""
    message = f"Model {model_md5}\n\nmodel_md5: {model_md5}\n"
    _git(box.project, "tag", "-a", f"model@{version}", "-m", message)


def _proposal(box: Sandbox, run: subprocess.CompletedProcess) -> dict:
    """What GitHub shows after a Retrain run: pull requests, comments, dispatches and the branch."""
    origin = box.state / "origin.git"
    pushed = bool(_git(origin, "branch", "--list", RETRAIN_BRANCH))
    return {
        "run": run,
        "pulls": _pulls(box.state),
        "comments": _comments(box.state),
        "dispatches": _dispatches(box.state),
        "head": _git(origin, "rev-parse", RETRAIN_BRANCH) if pushed else None,
        "message": _git(origin, "log", "-1", "--format=%B", RETRAIN_BRANCH) if pushed else "",
        "changed": _git(origin, "diff", "--name-only", "main", RETRAIN_BRANCH).split() if pushed else [],
        "data.dvc": yaml.safe_load(_git(origin, "show", f"{RETRAIN_BRANCH}:data.dvc")) if pushed else None,
    }


@scenario
def retrain_twice(box: Sandbox) -> dict:
    """The weekly schedule on the bundled example (its next period is new data), no RETRAIN_TOKEN;
    then, with that pull request open, a run by hand with a token on a newer export from
    refresh.command, while main's gate has become too strict for any model."""
    _github_origin(box)
    first = _proposal(
        box,
        _act(
            box.project, "schedule", "retrain.yml", {"schedule": "17 5 * * 1"}, box.state, *box.remote_secret
        ),
    )
    export = box.state / "export.csv"
    rows = (box.project / "data" / "churn.csv").read_text().splitlines()
    export.write_text("\n".join([*rows, *(f"N{row}" for row in rows[1:201])]) + "\n")  # 200 new customers

    def edit(params: dict) -> None:
        params["refresh"]["command"] = f"cp {export} data/churn.csv"
        params["gate"]["min"] = 0.99

    _on_main(box.project, edit)
    (box.state / "tokens.json").write_text(json.dumps({"a-fine-grained-token": "retrain-bot"}))
    second = _act(
        box.project,
        "workflow_dispatch",
        "retrain.yml",
        {"inputs": {"reason": "new export from the warehouse"}},
        box.state,
        *box.remote_secret,
        "-s",
        "RETRAIN_TOKEN=a-fine-grained-token",
    )
    return {"first": first, "second": _proposal(box, second)}


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@scenario
def feature_pull_request(box: Sandbox) -> dict:
    remote = box.state / "dvc-remote"  # its own copy of the team's remote, to see what it writes
    shutil.copytree(box.remote, remote)
    before = _files(remote)
    sha = _branch(box.project, "feature", lambda p: p["model"]["hyperparameters"].update(max_iter=40))
    run = _pull_request(box, 7, sha, "-s", f"DVC_REMOTE_URL={remote}")
    # A reviewer quoted the report, marker and all: the workflow must leave their comment alone.
    quote = {"id": 1, "pr": 7, "user": "reviewer", "body": f"> looks good{MARKER}", "edits": 0}
    (box.state / "comments.json").write_text(json.dumps([quote]))
    comments = [_comment(box.project, box.state, sha) for _ in range(2)]
    return {"run": run, "comments": comments, "written": _files(remote) - before}


@scenario
def worse_fork_pull_request(box: Sandbox) -> dict:
    def worse(params: dict) -> None:  # one stump: far worse than main, yet above a lowered minimum
        params["model"]["hyperparameters"].update(max_iter=1, max_leaf_nodes=2)
        params["gate"]["min"] = 0.5

    sha = _branch(box.project, "fork-worse", worse)
    run = _pull_request(box, 8, sha)  # no secrets, as for a fork
    return {"run": run, "comment": _comment(box.project, box.state, sha)}


@scenario
def merge(box: Sandbox) -> dict:
    """CI passed on a merge to main: the whole chain, up to what needs Docker (none here)."""
    origin = _github_origin(box)
    run = _after_ci(box)
    return {"run": run, "model_md5": _model_md5(box.project), "tags": _tags(origin)}


@scenario
def rollback(box: Sandbox) -> dict:
    """main has moved on since v0.0.1 shipped; someone deploys v0.0.1 again by hand."""
    origin = _github_origin(box)
    shipped = _model_md5(box.project)
    _register(box, "v0.0.1", shipped)
    _git(box.project, "push", "-q", "origin", "model@v0.0.1")
    _on_main(box.project, lambda p: p["model"]["hyperparameters"].update(max_iter=45))
    _git(box.project, "push", "-q", "origin", "main")
    payload = {"ref": "refs/heads/main", "inputs": {"version": "v0.0.1"}}
    run = _act(box.project, "workflow_dispatch", "deploy.yml", payload, box.state, *box.remote_secret, *LOAD)
    return {"run": run, "model_md5": shipped, "tags": _tags(origin)}


class Planted:
    """A pickle that, when loaded, leaves a file behind: what an attacker's "model" would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@scenario
def planted_model(box: Sandbox) -> dict:
    """A branch put its own "model" on the storage and its md5 into dvc.lock, and it was merged."""
    import joblib

    marker = box.state / "planted-model-was-loaded"
    planted = box.state / "planted.joblib"
    joblib.dump(Planted(marker), planted)
    md5 = file_md5(planted)
    (box.remote / "files" / "md5" / md5[:2]).mkdir(parents=True, exist_ok=True)
    shutil.copy(planted, box.remote / "files" / "md5" / md5[:2] / md5[2:])
    lock = (box.project / "dvc.lock").read_text()
    (box.project / "dvc.lock").write_text(lock.replace(_model_md5(box.project), md5))
    _git(box.project, "commit", "-q", "-am", "a model of my own")
    _github_origin(box)
    run = _after_ci(box, "success", "-j", "build")
    return {"run": run, "planted_md5": md5, "marker": marker}


@scenario
def retrain_unchanged_data(box: Sandbox) -> dict:
    """Another system asks for a retrain, but refresh.command exports the very table main has."""
    _github_origin(box)
    export = box.state / "same.csv"
    shutil.copy(box.project / "data" / "churn.csv", export)
    _on_main(box.project, lambda p: p["refresh"].update(command=f"cp {export} data/churn.csv"))
    payload = {"action": "retrain", "client_payload": {"reason": "drift alert"}}
    run = _act(box.project, "repository_dispatch", "retrain.yml", payload, box.state, *box.remote_secret)
    return _proposal(box, run)


@scenario
def merge_with_failing_gate(box: Sandbox) -> dict:
    _on_main(box.project, lambda p: p["gate"].update(min=0.99))
    _github_origin(box)
    return {"run": _after_ci(box)}


@scenario
def deploy_refusals(box: Sandbox) -> dict:
    """Deploy by hand from a branch, and rollbacks to versions that are not registered on main."""
    _github_origin(box)

    def dispatch(ref: str, version: str):
        payload = {"ref": ref, "inputs": {"version": version}}
        return _act(
            box.project,
            "workflow_dispatch",
            "deploy.yml",
            payload,
            box.state,
            "-j",
            "build",
            *box.remote_secret,
        )

    _branch(box.project, "not-main", lambda p: p["gate"].update(min=0.5))
    _register(box, "v0.0.9", "0" * 32)  # a "version" no merge to main ever made
    from_branch = dispatch("refs/heads/not-main", "")
    _git(box.project, "checkout", "-q", "main")
    _register(box, "v0.0.1", "0" * 32)
    _git(box.project, "tag", "model@v0.0.2")  # lightweight: not made by the registry
    return {
        "from_branch": from_branch,
        "not_on_main": dispatch("refs/heads/main", "v0.0.9"),
        "rev_suffix": dispatch("refs/heads/main", "v0.0.1~1"),
        "not_registered": dispatch("refs/heads/main", "v0.0.2"),
        "other_tag": dispatch("refs/heads/main", "not-a-model"),
    }


@scenario
def retrain_without_remote(box: Sandbox) -> dict:
    return {
        "run": _act(box.project, "workflow_dispatch", "retrain.yml", {"inputs": {"reason": ""}}, box.state)
    }


# --- pull requests -------------------------------------------------------------------------------


@pytest.mark.scenario("feature_pull_request")
def test_pull_request_reports_against_main_and_comments_once(ran):
    results = ran("feature_pull_request")
    run, state = results["run"], results["box"].state
    assert run.returncode == 0, run.stdout[-4000:]
    artifact = state / "artifacts" / "model-report"
    report = (artifact / "report.md").read_text()
    assert report.startswith("## ✅ Model gate: PASS")
    assert re.search(r"\| \*\*roc_auc\*\* \(gate\) \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \|", report)
    assert "| `model.hyperparameters.max_iter` | 30 | 40 |" in report
    assert (artifact / "pr-number").read_text().strip() == "7"
    assert {"data_integrity.html", "model_evaluation.html", "gate.json"} <= {
        p.name for p in artifact.iterdir()
    }
    assert "Success - Main Use the DVC remote" in run.stdout, run.stdout[-4000:]  # storage was in use
    assert results["written"] == set(), "a pull request's run wrote to the storage"

    first, second = results["comments"]
    assert first.returncode == 0, first.stdout[-4000:]
    assert second.returncode == 0, second.stdout[-4000:]
    quote, comment = _comments(state)  # one comment of its own, created then updated in place
    assert quote["user"] == "reviewer" and quote["edits"] == 0
    assert comment["pr"] == 7 and comment["user"] == "github-actions[bot]" and comment["edits"] == 1
    assert comment["body"] == report + MARKER


@pytest.mark.scenario("worse_fork_pull_request")
def test_fork_pull_request_worse_than_main_by_more_than_max_drop_fails_and_gets_its_comment(ran):
    results = ran("worse_fork_pull_request")
    run, state = results["run"], results["box"].state
    assert run.returncode != 0
    assert "Job failed" in run.stdout
    report = (state / "artifacts" / "model-report" / "report.md").read_text()
    assert report.startswith("## ❌ Model gate: FAIL")
    assert re.search(r"✅ test roc_auc 0\.\d{4} ≥ minimum 0\.5", report)
    drop = re.search(r"❌ test roc_auc 0\.\d{4} vs main 0\.\d{4} \(.*?\): change -(0\.\d+) \((.*?)\)", report)
    assert drop and float(drop[1]) > 0.02 and drop[2] == "largest drop allowed 0.02", report
    assert "bundled example data regenerated" in run.stdout

    assert results["comment"].returncode == 0, results["comment"].stdout[-4000:]
    [posted] = _comments(state)
    posted["body"] = posted["body"].removesuffix(MARKER)
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


@pytest.mark.parametrize(("event", "conclusion"), [("pull_request", "cancelled"), ("push", "success")])
def test_comment_workflow_skips_cancelled_and_non_pull_request_runs(project, tmp_path, event, conclusion):
    artifact = tmp_path / "artifacts" / "model-report"
    artifact.mkdir(parents=True)
    (artifact / "report.md").write_text("## ✅ Model gate: PASS\n")
    (artifact / "pr-number").write_text("9\n")

    run = _comment(project, tmp_path, "a" * 40, event=event, conclusion=conclusion)

    assert run.returncode == 0, run.stdout[-4000:]
    assert _job_log(run.stdout, "Post the report") == ""  # the job never started
    assert not (tmp_path / "comments.json").exists()


# --- shipping ------------------------------------------------------------------------------------


def _plain(output: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


@pytest.mark.scenario("merge")
def test_merge_retrains_proves_the_validated_model_registers_and_stages_it(ran):
    results = ran("merge")
    run, model_md5, tags = results["run"], results["model_md5"], results["tags"]
    build = _job_log(run.stdout, "Rebuild, gate and package")
    assert "🏁  Job succeeded" in build, build[-4000:]
    assert "Running stage 'train'" in build  # retrained from the data, nothing restored from storage
    artifact = results["box"].state / "artifacts" / "bento"
    assert (artifact / f"mlops-service-{model_md5}.bento").is_file()
    card = (artifact / "model-card.md").read_text()
    assert card.startswith(f"### Model {model_md5}\n\nReproduced: retrained here from main's code and data")
    assert "## ✅ Model gate: PASS" in card
    # Registered, with its lineage, in the registry on GitHub (tags pushed to origin).
    lineage = tags["model@v0.0.1"]
    assert f"model_md5: {model_md5}" in lineage and "data_md5: " in lineage and '"roc_auc": 0.' in lineage
    # Staging: the Bento served here passed the smoke and load test, then got the stage.
    staging = _plain(_job_log(run.stdout, "Staging"))
    assert re.search(r"load: 400 requests, 16 clients: 0 errors, p50 \d+ ms, p99 \d+ ms", staging), staging[
        -4000:
    ]
    assert re.search(r"smoke test passed: http://127.0.0.1:\d+", staging)
    assert "model#staging#1" in tags
    # Production: reached the image build, which needs Docker (none here), so no stage and no release.
    production = _job_log(run.stdout, "Production")
    assert "✅  Success - Main Import the Bento the build job gated" in production, production[-4000:]
    assert "❌  Failure - Main Containerize and push to ghcr.io" in production
    assert "Assign the stage production" not in production and "Publish the model card" not in production
    assert not [tag for tag in tags if tag.startswith("model#production")]


@pytest.mark.scenario("planted_model")
def test_a_planted_model_in_storage_is_never_loaded_nor_shipped(ran):
    results = ran("planted_model")
    run, planted = results["run"], results["planted_md5"]
    assert run.returncode == 0, run.stdout[-4000:]
    assert not results["marker"].exists(), "the planted pickle was loaded"
    [bento] = (results["box"].state / "artifacts" / "bento").glob("mlops-service-*.bento")
    assert planted not in bento.name
    card = (bento.parent / "model-card.md").read_text()
    assert f"Not the pull request's model: its dvc.lock recorded {planted}; retraining here" in card


def test_deploy_waits_for_ci_to_pass_on_the_merged_commit(project, tmp_path):
    box = Sandbox(tmp_path / "project", tmp_path / "github", project.parent / "dvc-remote")
    shutil.copytree(project, box.project, symlinks=True)
    box.state.mkdir()
    _github_origin(box)
    run = _after_ci(box, "failure")
    assert run.returncode == 0, run.stdout[-4000:]
    assert _job_log(run.stdout, "Rebuild, gate and package") == ""  # no job started
    assert not (box.state / "artifacts").exists()


@pytest.mark.scenario("merge_with_failing_gate")
def test_merge_whose_gate_fails_ships_nothing(ran):
    results = ran("merge_with_failing_gate")
    run = results["run"]
    assert run.returncode != 0
    build = _job_log(run.stdout, "Rebuild, gate and package")
    assert "❌  Failure - Main Retrain and gate from main's code, params and data" in build, build[-4000:]
    assert re.search(r"test roc_auc 0\.\d{4} < minimum 0\.99", build)
    assert "Compare with the validated model" not in build
    assert not (results["box"].state / "artifacts" / "bento").exists()
    assert _job_log(run.stdout, "Register the version") == _job_log(run.stdout, "Staging") == ""
    assert _tags(results["box"].state / "origin.git") == {}


@pytest.mark.scenario("rollback")
def test_rolling_back_after_main_moved_on_rebuilds_that_version_and_stages_it(ran):
    results = ran("rollback")
    run, shipped_md5, tags = results["run"], results["model_md5"], results["tags"]
    build = _job_log(run.stdout, "Rebuild, gate and package")
    assert "🏁  Job succeeded" in build, build[-4000:]
    artifact = results["box"].state / "artifacts" / "bento"
    assert (artifact / f"mlops-service-{shipped_md5}.bento").is_file()  # v0.0.1's model, not main's
    card = (artifact / "model-card.md").read_text()
    assert card.startswith(
        f"### Model {shipped_md5}\n\nRollback: the model of v0.0.1, retrained from its commit"
    )
    assert re.search(r"smoke test passed: http://127.0.0.1:\d+", _plain(_job_log(run.stdout, "Staging")))
    assert "model#staging#1" in tags and set(tags) == {"model@v0.0.1", "model#staging#1"}
    production = _job_log(run.stdout, "Production")
    assert "❌  Failure - Main Containerize and push to ghcr.io" in production, production[-4000:]


@pytest.mark.scenario("deploy_refusals")
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("from_branch", "Deploy runs only on main, not on refs/heads/not-main"),
        ("not_on_main", "'v0.0.9' is not a registered version of model on main"),
        ("rev_suffix", "'v0.0.1~1' is not a registered version of model on main"),
        ("not_registered", "'v0.0.2' is not a registered version of model on main"),
        ("other_tag", "'not-a-model' is not a registered version of model on main"),
    ],
)
def test_deploy_refuses_other_branches_and_anything_but_a_registered_version_on_main(ran, case, message):
    run = ran("deploy_refusals")[case]
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-4000:]
    assert "Running stage" not in run.stdout and "Main Environment" not in run.stdout


# --- continuous training -----------------------------------------------------------------------


@pytest.mark.scenario("retrain_twice")
def test_scheduled_retrain_on_new_data_opens_one_pull_request_carrying_the_report(ran):
    results = ran("retrain_twice")
    first, remote = results["first"], results["box"].remote
    assert first["run"].returncode == 0, first["run"].stdout[-4000:]
    [pull] = first["pulls"]
    assert pull["head"] == RETRAIN_BRANCH and pull["base"] == "main" and not pull["isDraft"]
    assert pull["body"].startswith("## ✅ Model gate: PASS")
    assert pull["title"].startswith("Retrain on new data: gate PASS, roc_auc 0.")
    assert "main's model (`" in pull["body"] and "scored on this change's test set" in pull["body"]
    [comment] = first["comments"]
    assert comment["pr"] == pull["number"] and comment["user"] == "github-actions[bot]"
    assert comment["body"].removesuffix(MARKER).strip() == pull["body"].strip()
    # The proposal is a commit on main with the new data's pin, dvc.lock and metrics, CI not skipped.
    assert first["message"].startswith("Retrain: new data from the bundled example's next period")
    assert "Reason: schedule" in first["message"] and "[skip ci]" not in first["message"]
    assert {"data.dvc", "dvc.lock", "reports/metrics.json"} <= set(first["changed"])
    assert first["data.dvc"]["meta"]["example"]["periods"] == 2
    # The new data is on the DVC remote before the pull request opens, for reviewers and CI.
    md5 = first["data.dvc"]["outs"][0]["md5"]
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    # GITHUB_TOKEN's push starts no workflow: CI is dispatched on the branch instead.
    assert first["dispatches"] == [{"workflow": "ci.yml", "ref": RETRAIN_BRANCH}]


@pytest.mark.scenario("retrain_twice")
def test_newer_data_updates_the_open_pull_request_and_a_failing_gate_makes_it_a_draft(ran):
    results = ran("retrain_twice")
    first, second = results["first"], results["second"]
    assert second["run"].returncode == 0, second["run"].stdout[-4000:]
    [pull] = second["pulls"]  # the same pull request, updated
    assert pull["number"] == first["pulls"][0]["number"]
    assert pull["isDraft"] and pull["edits"] == 1
    assert pull["body"].startswith("## ❌ Model gate: FAIL")
    assert re.search(r"❌ test roc_auc 0\.\d{4} < minimum 0\.99", pull["body"])
    assert pull["title"].startswith("Retrain on new data: gate FAIL")
    # Posted with RETRAIN_TOKEN, another identity: a comment of its own; the bot's is left alone.
    [old], [comment] = first["comments"], second["comments"][1:]
    assert second["comments"][0] == old
    assert comment["user"] == "retrain-bot" and comment["body"].removesuffix(MARKER) == pull["body"]
    assert second["head"] != first["head"]
    assert second["message"].startswith("Retrain: new data from refresh.command")
    assert "Reason: new export from the warehouse" in second["message"]
    assert "Gate failed on the new data" in second["run"].stdout
    assert second["dispatches"] == first["dispatches"]  # with a token, the push itself starts CI


@pytest.mark.scenario("retrain_unchanged_data")
def test_retrain_from_another_system_with_unchanged_data_opens_nothing(ran):
    results = ran("retrain_unchanged_data")
    run = results["run"]
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Retrain: no new data from refresh.command: data.dvc still pins" in run.stdout
    assert "; no pull request." in run.stdout
    assert "Running stage" not in run.stdout
    assert results["pulls"] == [] and results["comments"] == [] and results["head"] is None


@pytest.mark.scenario("retrain_without_remote")
def test_retrain_without_a_dvc_remote_stops_with_one_clear_message(ran):
    run = ran("retrain_without_remote")["run"]
    assert run.returncode != 0
    assert "Retraining needs a DVC remote" in run.stdout and "DVC_REMOTE_URL" in run.stdout
    assert "make refresh" not in run.stdout
