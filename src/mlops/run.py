"""`make run`: preflight, `dvc repro`, gate and report, then the verdict and where to read more.

Everything runs in one process so that a re-run with nothing changed takes seconds: when DVC
reports every stage up to date, the data was already checked and nothing is reproduced. When
preflight or a stage fails, the last good outputs are restored (mlops.last_good). Exit codes are
those of mlops.errors: 0 pass, 1 gate failed, 2 bad input, 3 a stage failed.

``--rebuild`` is for the trusted build that decides what ships (deploy.yml): every stage runs again
from the data alone, taking no output or cached run from the DVC cache or remote (anyone who could
write there may have planted them), and the gate loads no model it did not train here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvc.cli import main as dvc
from dvc.repo import Repo

from mlops import last_good, preflight
from mlops.errors import StageFailed, cli
from mlops.params import load_params
from mlops.review import gate, report


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="rerun every stage; trust no cached run")
    rebuild = parser.parse_args(argv).rebuild
    params = load_params()
    with last_good.kept_on_failure(Path(Repo.find_root())):
        with Repo() as repo:
            data_note = preflight.ensure_data(params, repo)
            changed = repo.status()
            # With a remote, stages already run elsewhere (same code, params, data) are restored, not rerun.
            repro = ["repro", "--pull"] if preflight.has_remote(repo) else ["repro"]
            if rebuild:
                changed, repro = True, ["repro", "--force", "--no-run-cache"]
        if changed:
            for note in preflight.check(params):
                print(f"preflight: {note}")
        print(f"preflight: {data_note}")  # after the check: never "track this data" for data that fails it
        if not changed:
            print("Every stage is up to date: nothing to reproduce.")
        elif dvc(repro) != 0:
            raise StageFailed(
                "`dvc repro` stopped at a failing stage (its error is above). The last good model, "
                "reports, dvc.lock, data.dvc and schema.yaml are restored as they were; fix the "
                "problem and run `make run` again."
            )
    verdict = gate.main(["--trusted"] if rebuild else [])
    report.main([])
    print("Full Deepchecks reports: reports/*.html. Serve the model: make serve")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
