"""`make run`: preflight, `dvc repro`, gate and report, then the verdict and where to read more.

Everything runs in one process so that a re-run with nothing changed takes seconds: when DVC
reports every stage up to date, the data was already checked and nothing is reproduced.
"""

from __future__ import annotations

import sys

from dvc.cli import main as dvc
from dvc.repo import Repo

from mlops import preflight
from mlops.errors import cli
from mlops.params import load_params
from mlops.review import gate, report


@cli
def main() -> int:
    params = load_params()
    with Repo() as repo:
        print(f"preflight: {preflight.ensure_data(params, repo)}")
        changed = repo.status()
        # With a remote, stages already run elsewhere (same code, params, data) are restored, not rerun.
        repro = ["repro", "--pull"] if preflight.has_remote(repo) else ["repro"]
    if changed:
        for note in preflight.check(params):
            print(f"preflight: {note}")
        if dvc(repro) != 0:
            print(
                "error: `dvc repro` failed (see above); the last good model and reports are kept.",
                file=sys.stderr,
            )
            return 1
    else:
        print("Every stage is up to date: nothing to reproduce.")
    verdict = gate.main([])
    report.main([])
    print("Full Deepchecks reports: reports/*.html. Serve the model: make serve")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
