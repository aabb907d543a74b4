"""Temporary git+DVC copies of this project, and full pipeline runs in the background.

conftest.py builds its fixtures on these; tests import the types and constants.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROWS = 1500
RUN_TIMEOUT = 900  # seconds; a full run takes one to two minutes on two cores
# Files a failed run must leave exactly as they were.
OUTPUTS = ("models/model.joblib", "reports/metrics.json", "reports/report.md", "dvc.lock")

# The README's settings for the other tasks, with a low minimum for 1,500 rows.
# A change that makes the model much worse on the same data (two stumps), with a minimum it still
# meets: only the drop against main's model can fail it.
WORSE = {"model": {"hyperparameters": {"max_iter": 2, "max_leaf_nodes": 2}}, "gate": {"min": 0.5}}
# A fork's own table: weak features of scikit-learn's breast cancer data, yes/no labels under the
# example's target name, so main's model is found and tried, but lacks its columns.
FORK_FEATURES = ["mean fractal dimension", "texture error", "smoothness error", "symmetry error"]


def commit_as_main(project: Project) -> None:
    """Commit the finished run as `main`, and start a branch for the change."""
    project.git("symbolic-ref", "HEAD", "refs/heads/main")
    project.git("add", "--all")
    project.git("commit", "--quiet", "--message", "first run")
    project.git("checkout", "--quiet", "-b", "change")


def make_worse(project: Project) -> None:
    commit_as_main(project)
    project.update_params(WORSE)


def next_month(project: Project) -> None:
    """New rows (the example's next period), same columns: main's model can score them."""
    from mlops.data import example_data

    commit_as_main(project)
    example_data.write_csv(example_data.generate(rows=ROWS, period=1), project.file("data/churn.csv"))


def resplit(project: Project) -> None:
    """Only the split changes, from main's time split to a random one: most of the new test set was
    main's training set (as after a new split.seed under a random split, the audit's case)."""
    commit_as_main(project)
    project.update_params({"data": {"datetime_column": None}})


def swap_in_a_fork_table(project: Project) -> None:
    """What README "Use your own data" says a fork does: its table, dvc add, no schema, params."""
    from sklearn.datasets import load_breast_cancer

    commit_as_main(project)
    frame = load_breast_cancer(as_frame=True).frame
    table = frame[FORK_FEATURES].assign(churned=frame["target"].map({0: "yes", 1: "no"}))
    project.file("data/churn.csv").unlink()
    table.to_csv(project.file("data/patients.csv"), index=False)
    project.file("schema.yaml").unlink()
    project.dvc("add", "--quiet", "data")
    pinned = yaml.safe_load(project.file("data.dvc").read_text())
    pinned.pop("meta", None)  # no longer the bundled example
    project.file("data.dvc").write_text(yaml.safe_dump(pinned, sort_keys=False))
    project.update_params(
        {
            "data": {"path": "data/patients.csv", "id_column": None, "datetime_column": None},
            "gate": {"min": 0.5},
        }
    )


@dataclass(frozen=True)
class RunSpec:
    """A `make run` in a copy of the prepared project, or of another run's finished project."""

    params: dict[str, Any] = field(default_factory=dict)  # merged into params.yaml first
    after: str | None = None  # start from this run's finished project
    setup: Callable[[Project], None] | None = None


RUNS: dict[str, RunSpec] = {
    "binary": RunSpec(),  # the real params, shrunk: most tests copy this run
    "multiclass": RunSpec(
        {"data": {"task": "multiclass", "target": "plan"}, "gate": {"metric": "f1_macro", "min": 0.5}}
    ),
    "regression": RunSpec(
        {"data": {"task": "regression", "target": "monthly_charges"}, "gate": {"metric": "r2", "min": 0.5}}
    ),
    "worse": RunSpec(after="binary", setup=make_worse),
    "next_month": RunSpec(after="binary", setup=next_month),
    "fork": RunSpec(after="binary", setup=swap_in_a_fork_table),
    "resplit": RunSpec(after="binary", setup=resplit),
}
FIRST = "binary"  # runs at normal priority; the others are niced, and tests waiting for them go last


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"exit code {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def environment(project: Path, scratch: Path) -> dict[str, str]:
    """A user's machine: the venv first on PATH, this project's src importable, telemetry off, no
    user config, and none of the variables a CI runner sets (which change what errors print)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BASELINE_REF", "CI", "PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("GITHUB_")
    }
    config = scratch / "no-config"
    config.mkdir(parents=True, exist_ok=True)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(project / "src"),  # ahead of the venv's editable install of the repository
        DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY="True",
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(config),
        DVC_SYSTEM_CONFIG_DIR=str(config),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_PAGER="cat",
        # Several pipelines share two cores: OpenMP's spinning threads would slow them down tenfold.
        OMP_NUM_THREADS="1",
    )
    return env


@dataclass(frozen=True)
class Project:
    """A temporary copy of this project, with helpers to run commands and change params."""

    path: Path

    @property
    def env(self) -> dict[str, str]:
        return environment(self.path, self.path.parent)

    def run(self, *args: str | Path, check: bool = True) -> Result:
        done = subprocess.run(
            [str(a) for a in args], cwd=self.path, env=self.env, capture_output=True, text=True
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        if check:
            assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.output}"
        return result

    def mlops(self, module: str = "run") -> Result:
        """`python -m mlops.<module>`; for "run", exactly what `make run` runs."""
        return self.run(sys.executable, "-m", f"mlops.{module}", check=False)

    def start(self, module: str = "run", nice: bool = False) -> Pending:
        """`python -m mlops.<module>` in the background; its output goes next to the project."""
        return Pending(
            self, [*(["nice", "-n", "10"] if nice else []), sys.executable, "-m", f"mlops.{module}"]
        )

    def git(self, *args: str) -> Result:
        return self.run("git", *args)

    def dvc(self, *args: str) -> Result:
        return self.run(BIN / "dvc", *args)

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def write_params(self, raw: dict) -> None:
        (self.path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    def update_params(self, changes: dict) -> None:
        """Merge ``changes`` into params.yaml; a callable value maps the old value to the new."""
        self.write_params(_merge(self.params(), changes))

    def copy(self, destination: Path) -> Project:
        shutil.copytree(self.path, destination, symlinks=True)
        return Project(destination)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def snapshot(self, *files: str) -> dict[str, bytes | None]:
        """The bytes of ``files`` (None where missing), to show that a run changed nothing."""
        return {f: self.file(f).read_bytes() if self.file(f).exists() else None for f in files}

    def md5(self, relative: str) -> str:
        return hashlib.md5(self.file(relative).read_bytes()).hexdigest()


def _merge(tree: dict, changes: dict) -> dict:
    tree = copy.deepcopy(tree)
    for key, value in changes.items():
        if isinstance(value, dict):
            tree[key] = _merge(tree.get(key) or {}, value)
        elif callable(value):
            tree[key] = value(tree.get(key))
        else:
            tree[key] = value
    return tree


class Pending:
    """A command running in the background in ``project``; ``result`` waits for it."""

    def __init__(self, project: Project, args: list[str]):
        self._log = project.path.parent
        with open(self._log / "stdout", "w") as stdout, open(self._log / "stderr", "w") as stderr:
            self._process = subprocess.Popen(
                args,
                cwd=project.path,
                env=project.env,
                stdout=stdout,
                stderr=stderr,
                # A process group of its own, so `stop` also ends DVC's stages. Not a session of its
                # own: with the kernel's autogroups, `nice` would then no longer rank it below the tests.
                process_group=0,
            )

    def result(self) -> Result:
        returncode = self._process.wait(timeout=RUN_TIMEOUT)
        return Result(returncode, (self._log / "stdout").read_text(), (self._log / "stderr").read_text())

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()


@dataclass
class Completed:
    """A finished background run: the project as the run left it, and what it printed."""

    project: Project
    result: Result


class Runs:
    """Full pipeline runs in the background; a test waits for the one it needs.

    ``start_ready`` starts every wanted run whose starting point exists: at once for runs of the
    prepared project, and as soon as the run they start from has finished for the others.
    """

    def __init__(self, prepared: Project, directory: Path, wanted: list[str]):
        self._prepared = prepared
        self._directory = directory
        self._wanted = wanted
        self._started: dict[str, tuple[Project, Pending]] = {}
        self._done: dict[str, Completed] = {}

    def start_ready(self) -> None:
        for name in self._wanted:
            after = RUNS[name].after
            if name not in self._started and (after is None or after in self._done):
                self._start(name)

    def _start(self, name: str) -> None:
        spec = RUNS[name]
        base = self._prepared if spec.after is None else self._done[spec.after].project
        project = base.copy(self._directory / name / "project")
        project.update_params(spec.params)
        if spec.setup is not None:
            spec.setup(project)
        self._started[name] = (project, project.start(nice=name != FIRST))

    def wait(self, name: str) -> Completed:
        if name not in self._done:
            after = RUNS[name].after
            if after is not None:
                base = self.wait(after)
                assert base.result.returncode == 0, f"run {after!r} failed:\n{base.result.output}"
            if name not in self._started:
                self._start(name)
            project, pending = self._started[name]
            self._done[name] = Completed(project, pending.result())
            if self._done[name].result.returncode == 0:
                self.start_ready()
        return self._done[name]

    def stop(self) -> None:
        for _, pending in self._started.values():
            pending.stop()
