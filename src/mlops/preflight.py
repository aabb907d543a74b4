"""Before the pipeline runs: params valid, data present, data within its contract.

Failing here changes nothing on disk, so the last good model, metrics and reports stay as they
are. Getting data: present -> nothing to do; a DVC remote configured -> ``dvc pull``; data.dvc
pins the bundled example (``meta.example`` holds the generator's arguments) -> regenerate it and
check the hash; otherwise say how to add a remote.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dvc.exceptions import DvcException
from dvc.repo import Repo

from mlops.errors import UserError, cli
from mlops.params import Params, load_params

# pandas and scikit-learn are imported inside the functions that need them: they take seconds
# to import, and a re-run with nothing changed needs neither.

SCHEMA = Path("schema.yaml")
EXAMPLE = Path("data/churn.csv")
DATA_DVC = "data.dvc"


def ensure_data(params: Params, repo: Repo) -> str:
    """Make data.path present and matching data.dvc; return what was done."""
    path = Path(params.data.path)
    if path.exists():
        if _modified(repo):
            # `dvc repro` tracks it: data.dvc is a stage of the pipeline.
            return "data differs from data.dvc: this run tracks it there; commit data.dvc with dvc.lock"
        return "data present and matching data.dvc"
    if has_remote(repo):
        try:
            repo.pull(targets=[DATA_DVC])
        except DvcException as error:
            raise UserError(
                f"`dvc pull {DATA_DVC}` could not fetch {path}: {error}. Check the remote's URL and "
                "credentials (`dvc remote list`; README: Use your own data)."
            )
        return "data pulled from the DVC remote"
    example = _example_spec() if path == EXAMPLE else None  # the generator writes only the example file
    if example is not None:
        from mlops.data import example_data

        example_data.write_csv(example_data.history(**example), path)
        if _modified(repo):
            path.unlink()  # never leave a file that is not the pinned data
            raise UserError(_no_remote(path, "and data.dvc no longer pins the bundled example."))
        repo.commit(DATA_DVC, force=True)  # same hash as data.dvc: only fills the DVC cache
        return "bundled example data regenerated"
    raise UserError(_no_remote(path, "and it is not the bundled example."))


def has_remote(repo: Repo) -> bool:
    """Whether a DVC remote is configured (then data and cached runs come from it)."""
    return bool(repo.config["core"].get("remote") or repo.config["remote"])


def _example_spec() -> dict | None:
    """The generator's arguments when data.dvc pins the bundled example (its ``meta.example``)."""
    if not Path(DATA_DVC).is_file():
        raise UserError(f"{DATA_DVC} is missing. Track your data with `dvc add data` and commit {DATA_DVC}.")
    meta = yaml.safe_load(Path(DATA_DVC).read_text()).get("meta") or {}
    return meta.get("example")


def _modified(repo: Repo) -> bool:
    """Whether data/ differs from what data.dvc pins ("not in cache" alone is no difference)."""
    changes = repo.status(targets=[DATA_DVC]).get(DATA_DVC, [])
    return any(
        state != "not in cache" for change in changes for state in change.get("changed outs", {}).values()
    )


def _no_remote(path: Path, why: str) -> str:
    return (
        f"The data file {path} is missing, no DVC remote is configured, {why} Add the remote that "
        "holds your data (`dvc remote add -d storage s3://bucket/path`, or a local directory) and run "
        "`make run` again, or put the file at that path."
    )


def check(params: Params, schema_path: Path = SCHEMA) -> list[str]:
    """Validate model params and the data contract (inferring the schema the first time, and
    writing it only once the data passed it)."""
    from mlops.data.schema import check_frame, infer_schema, load_schema, raise_if_errors, save_schema
    from mlops.data.table import read_table
    from mlops.pipeline.model import make_estimator

    make_estimator(params.model, params.data.task)
    frame = read_table(params.data.path)
    inferred = not schema_path.exists()
    schema = infer_schema(frame, params.data) if inferred else load_schema(schema_path)
    findings = check_frame(frame, schema, params.data)
    raise_if_errors(findings, params.data.path)
    if inferred:
        save_schema(schema, schema_path)
        return [f"inferred {schema_path} from the data: review and commit it", *findings.warnings]
    return findings.warnings


@cli
def main() -> None:
    params = load_params()
    with Repo() as repo:
        data_note = ensure_data(params, repo)
    for note in [*check(params), data_note]:
        print(f"preflight: {note}")


if __name__ == "__main__":
    main()
