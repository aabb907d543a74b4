"""`make run`: preflight, `dvc repro`, gate and report, then the verdict and where to read more.

Everything runs in one process so that a re-run with nothing changed takes seconds: when DVC
reports every stage up to date, the data was already checked and nothing is reproduced. When
preflight or a stage fails, the last good outputs are restored (mlops.last_good). Exit codes are
those of mlops.errors: 0 pass, 1 gate failed, 2 bad input, 3 a stage failed, 130 interrupted.

``--rebuild`` is for the trusted build that decides what ships (deploy.yml): every stage runs again
from the data alone, taking no output or cached run from the DVC cache or remote (anyone who could
write there may have planted them), and the gate loads no model it did not train here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
from dvc.cli import main as dvc
from dvc.repo import Repo

from mlops import last_good, preflight
from mlops.errors import EXIT_INTERRUPTED, Interrupted, StageFailed, cli
from mlops.params import load_params
from mlops.review import gate, report

STAGE_STOP_SECONDS = 10  # after SIGTERM, before SIGKILL

RESTORED = (
    "The last good model, reports, dvc.lock, data.dvc and schema.yaml are restored as they were; "
    "fix the problem and run `make run` again."
)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (`timeout`, `docker stop`, `kill`): stop the running stage, then restore as for Ctrl-C."""
    stages = psutil.Process().children(recursive=True)
    for stage in stages:
        with contextlib.suppress(psutil.NoSuchProcess):
            stage.terminate()
    # Wait (reaping them) before restoring, so that no stage writes an output after the restore.
    _, alive = psutil.wait_procs(stages, timeout=STAGE_STOP_SECONDS)
    for stage in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            stage.kill()
    raise Interrupted


def _step(main: Callable[[list[str]], int | None], argv: list[str]) -> int | None:
    """Run the gate or the report; if it stops (its error already printed), the run failed."""
    try:
        return main(argv)
    except SystemExit as stopped:
        if stopped.code == EXIT_INTERRUPTED:
            raise Interrupted from None
        raise StageFailed(f"{main.__module__} stopped (its error is above). {RESTORED}") from stopped


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="rerun every stage; trust no cached run")
    rebuild = parser.parse_args(argv).rebuild
    signal.signal(signal.SIGTERM, _terminated)
    # The stages run `python`: this one, also when called as .venv/bin/python with no venv activated.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    params = load_params()
    with last_good.kept_on_failure(Path(Repo.find_root())):
        with Repo() as repo:
            data_note = preflight.ensure_data(params, repo)
            if rebuild:
                changed, repro = True, ["repro", "--force", "--no-run-cache"]
            else:
                changed = repo.status()
                # With a remote, stages already run elsewhere (same code, params, data) are restored.
                repro = ["repro", "--pull"] if preflight.has_remote(repo) else ["repro"]
        if changed:
            for note in preflight.check(params):
                print(f"preflight: {note}")
        print(f"preflight: {data_note}")  # after the check: never "track this data" for data that fails it
        if not changed:
            print("Every stage is up to date: nothing to reproduce.")
        elif dvc(repro) != 0:
            raise StageFailed(f"`dvc repro` stopped at a failing stage (its error is above). {RESTORED}")
        verdict = _step(gate.main, ["--trusted"] if rebuild else [])
        _step(report.main, [])
    print("Full Deepchecks reports: reports/*.html. Serve the model: make serve")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
