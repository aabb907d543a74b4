"""`make monitor`: check production's prediction logs and feedback against the training data.

Usage: python -m mlops.monitoring.check [--logs DIR_OR_URL] [--since 7d] [--out reports/monitoring]

Writes report.md (verdict first, for a job summary or an issue), verdict.json (status, retrain,
reasons and figures, for a workflow) and report.html (every feature's bins) to --out.
Exit codes: 0 ok or warn; 1 alert; 2 bad input (params, a missing reference file; nothing
written); 3 an unexpected error. Empty, missing or partly corrupt logs are lines in the report.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from mlops.errors import EXIT_GATE_FAILED, UserError, cli
from mlops.jsonfile import write_json
from mlops.monitoring import render
from mlops.monitoring.checks import run_checks
from mlops.monitoring.logs import Logs, read_logs, since_date
from mlops.monitoring.reference import Paths, Reference, load_reference, target_type
from mlops.params import load_params


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", help="log root: a directory or URL (default: params.yaml monitoring.logs)")
    parser.add_argument("--since", help="only log files dated in the last N days (7d) or from a date on")
    parser.add_argument("--out", type=Path, default=Path("reports/monitoring"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--schema", type=Path, default=Path("schema.yaml"))
    parser.add_argument("--train", type=Path, default=Path("artifacts/train.parquet"))
    parser.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    parser.add_argument("--lock", type=Path, default=Path("dvc.lock"))
    return parser.parse_args(argv)


@cli
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    params = load_params(args.params)
    since = since_date(args.since, datetime.now(UTC).date()) if args.since else None
    paths = Paths(args.train, args.metrics, args.schema, args.model, args.lock)
    reference = load_reference(paths, params)
    logs = read(args.logs or params.monitoring.logs, reference, since)
    result = {
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **run_checks(reference, logs, params.monitoring),
    }
    result["since"] = since.isoformat() if since else None
    write(result, args.out)
    retrain = str(result["retrain"]).lower()
    print(f"monitoring: {result['status']} (retrain: {retrain}); see {args.out / 'report.md'}")
    if result["status"] == "alert":
        sys.exit(EXIT_GATE_FAILED)


def read(root: str, reference: Reference, since) -> Logs:
    """The logs, or a UserError for a URL whose filesystem is not installed or not allowed."""
    target = target_type(reference.train[reference.target])
    try:
        return read_logs(root, reference.features, target, reference.class_keys, since)
    except ImportError as error:
        raise UserError(
            f"Reading the logs at {root} needs a package that is not installed ({error}). For s3:// "
            "install s3fs (`uv add s3fs`, or DVC's extra: `uv add 'dvc[s3]'`); gcsfs for gs://, adlfs for az://."
        )
    except PermissionError as error:
        raise UserError(f"Access to the logs at {root} was refused ({error}): check the credentials.")


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "verdict.json", result)
    (out / "report.md").write_text(render.markdown(result), encoding="utf-8")
    (out / "report.html").write_text(render.html_report(result), encoding="utf-8")


if __name__ == "__main__":
    main()
