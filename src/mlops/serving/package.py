"""Import the DVC-tracked model into the BentoML model store, with its lineage, before `bentoml build`.

The stored model is ``mlops-model:<md5 of the model file>``: the same hash dvc.lock records for
models/model.joblib and the ``model_version`` the service answers with. Labels (strings, filterable
with ``bentoml models list``) hold the commit, the data and the model hash; metadata holds the
metrics. bentofile.yaml pins ``mlops-model:latest`` at build time, so build right after importing.

Usage: python -m mlops.serving.package [--check-lock dvc.lock] models/model.joblib data.dvc \
    reports/metrics.json
(--check-lock: refuse a model file that is not the one the pipeline produced and dvc.lock records.)
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import bentoml
import yaml

from mlops.errors import UserError, cli
from mlops.hashes import file_md5, locked_md5
from mlops.jsonfile import read_json

MODEL_NAME = "mlops-model"
MODEL_FILE = "model.joblib"


def import_model(model_path: Path, labels: dict[str, str], metadata: dict[str, Any]) -> str:
    """Store the model file as MODEL_NAME:<md5>, which becomes MODEL_NAME:latest; return the tag."""
    version = file_md5(model_path)
    tag = f"{MODEL_NAME}:{version}"
    # Imported before (e.g. after a revert)? Replace it, same bytes under the same tag, so that it
    # is the latest again and bentofile.yaml picks it.
    with contextlib.suppress(bentoml.exceptions.NotFound):
        bentoml.models.delete(tag)
    with bentoml.models.create(tag, labels={**labels, "model_md5": version}, metadata=metadata) as model:
        shutil.copyfile(model_path, model.path_of(MODEL_FILE))
    return str(model.tag)


def lineage(data_dvc: Path, metrics: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Labels (commit, data hash) and metadata (metrics) for the model of this checkout."""
    data_md5 = yaml.safe_load(data_dvc.read_text())["outs"][0]["md5"]
    labels = {"commit": git_commit(), "data_md5": data_md5}
    return labels, {"metrics": read_json(metrics)}


def git_commit() -> str:
    """HEAD's commit, suffixed -dirty if files have uncommitted changes; "unknown" outside git."""
    command = ["git", "describe", "--always", "--dirty", "--abbrev=40"]
    with contextlib.suppress(OSError):
        return subprocess.run(command, capture_output=True, text=True).stdout.strip() or "unknown"
    return "unknown"


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("model", type=Path, help="model file (joblib), e.g. models/model.joblib")
    parser.add_argument("data_dvc", type=Path, help="the .dvc file of the training data, e.g. data.dvc")
    parser.add_argument("metrics", type=Path, help="metrics JSON, e.g. reports/metrics.json")
    parser.add_argument(
        "--check-lock", type=Path, metavar="DVC_LOCK", help="fail unless it records this model"
    )
    args = parser.parse_args()
    paths = (args.model, args.data_dvc, args.metrics, *([args.check_lock] if args.check_lock else []))
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise UserError(f"{', '.join(missing)} not found. Run `make run` first, from the project root.")
    if args.check_lock:
        locked, actual = locked_md5(args.check_lock, args.model), file_md5(args.model)
        if locked != actual:
            raise UserError(
                f"{args.model} (md5 {actual}) is not the model {args.check_lock} records "
                f"({locked or 'none at that path'}). Run `make run` so that the model and the lock "
                "file agree, then import it."
            )
    labels, metadata = lineage(args.data_dvc, args.metrics)
    print(import_model(args.model, labels, metadata))


if __name__ == "__main__":
    main()
