"""`make refresh`: bring the newest data into data/, track it in data.dvc, say whether it changed.

Where newer data comes from, first match wins:
1. ``refresh.command`` in params.yaml: a shell command that writes the newest table to data.path
   (a SQL export, a script, ``aws s3 cp``); the result is tracked with ``dvc add``.
2. data.dvc imports the data (``dvc import-url`` or ``dvc import``): ``dvc update`` refreshes it.
3. data.dvc pins the bundled example (its ``meta.example``) and data.path is the example's file: the
   generator appends its next period (``--drift`` shifts it). Another data.path is the user's own table,
   even under a ``meta.example`` left over from the example, and gets no generated rows.
On GitHub Actions, ``changed=true|false`` and ``summary=<one line>`` go to the step's outputs. A command
that fails leaves data/ as data.dvc pins it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from dvc.exceptions import DvcException
from dvc.repo import Repo

from mlops.errors import UserError, cli
from mlops.params import Params, load_params
from mlops.preflight import DATA_DVC, EXAMPLE


@dataclass(frozen=True)
class Refreshed:
    source: str  # where the data came from, in words
    before: str | None  # the md5 data.dvc pinned before
    after: str | None  # and after

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def summary(self) -> str:
        if self.changed:
            return f"new data from {self.source}: {DATA_DVC} now pins {self.after} (was {self.before})"
        return f"no new data from {self.source}: {DATA_DVC} still pins {self.after}"


def refresh(params: Params, repo: Repo, drift: float = 0.0) -> Refreshed:
    """Get the newest data from the first source that applies, and track it."""
    tracked = _read_dvc_file()
    before = _pinned(tracked)
    if params.refresh.command:
        _run_command(params.refresh.command, repo, Path(params.data.path), _out_path(tracked))
        repo.add(_out_path(tracked))
        source = "refresh.command"
    elif tracked.get("deps"):
        try:
            repo.update(targets=[DATA_DVC])
        except DvcException as error:
            raise UserError(
                f"`dvc update {DATA_DVC}` failed: {error}. Check the import's source and credentials."
            )
        source = f"`dvc update` of {tracked['deps'][0].get('path', 'the import')}"
    elif (tracked.get("meta") or {}).get("example") and Path(params.data.path) == EXAMPLE:
        _append_example_period(tracked, repo, Path(params.data.path), drift)
        source = "the bundled example's next period"
    else:
        raise UserError(
            f"Nothing to refresh {params.data.path} from: set refresh.command in params.yaml to a command "
            "that writes the newest table there, or track the data with `dvc import-url` "
            "(README: Keep it fresh)."
        )
    return Refreshed(source, before, _pinned(_read_dvc_file()))


def _run_command(command: str, repo: Repo, target: Path, tracked: str) -> None:
    """Run the user's command; if it fails, data/ goes back to what it was (or away on a fresh clone)."""
    root = Path(repo.root_dir)
    present = (root / tracked).exists()
    (root / target).parent.mkdir(parents=True, exist_ok=True)  # e.g. `cp export.csv data/churn.csv`
    done = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        if present:
            repo.checkout(targets=[DATA_DVC], force=True)  # whatever it half-wrote goes
        elif (root / tracked).is_dir():
            shutil.rmtree(root / tracked)
        else:
            (root / tracked).unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(
            f"refresh.command failed with exit code {done.returncode} ({last}); data/ is left as {DATA_DVC} "
            "pins it. Run the command by hand to see its whole output, fix it, and run `make refresh` again."
        )


def _append_example_period(tracked: dict, repo: Repo, csv: Path, drift: float) -> None:
    """The whole history again, one period longer (a fresh clone has no data/ to append to)."""
    from mlops.data import example_data

    spec = dict(tracked["meta"]["example"])
    spec["periods"] = spec.get("periods", 1) + 1
    if drift:
        spec["drift"] = drift
    csv = Path(repo.root_dir) / csv
    csv.parent.mkdir(parents=True, exist_ok=True)
    example_data.write_csv(example_data.history(**spec), csv)
    repo.add(_out_path(tracked))
    updated = _read_dvc_file()
    updated["meta"] = {**(updated.get("meta") or {}), "example": spec}
    Path(DATA_DVC).write_text(yaml.safe_dump(updated, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _read_dvc_file() -> dict:
    if not Path(DATA_DVC).is_file():
        raise UserError(f"{DATA_DVC} is missing. Track your data with `dvc add data` and commit {DATA_DVC}.")
    return yaml.safe_load(Path(DATA_DVC).read_text(encoding="utf-8")) or {}


def _pinned(tracked: dict) -> str | None:
    return ((tracked.get("outs") or [{}])[0]).get("md5")


def _out_path(tracked: dict) -> str:
    return (tracked.get("outs") or [{}])[0].get("path", "data")


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drift", type=float, default=0.0, help="the example only: 0 (none) to 1 (strong)")
    args = parser.parse_args(argv)
    params = load_params()
    with Repo() as repo:
        result = refresh(params, repo, args.drift)
    print(f"refresh: {result.summary()}")
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a") as outputs:
            outputs.write(f"changed={'true' if result.changed else 'false'}\nsummary={result.summary()}\n")


if __name__ == "__main__":
    sys.exit(main())
