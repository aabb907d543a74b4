"""Stage validate_data: hold the table to the data contract, then run Deepchecks data integrity."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.data.schema import check_frame, load_schema, raise_if_errors, resolve_features
from mlops.data.table import read_table
from mlops.errors import cli
from mlops.jsonfile import write_json
from mlops.params import DataParams, ValidationParams, load_params
from mlops.pipeline import checks, suites
from mlops.timings import timed


def profile(frame: pd.DataFrame, data: DataParams) -> dict[str, Any]:
    """Rows, columns, missing values and the target's distribution, for the report's data section."""
    target = frame[data.target]
    if data.task == "regression":
        distribution = {
            "mean": round(float(target.mean()), 4),
            "std": round(float(target.std()), 4),
        }
    else:
        shares = target.astype(str).value_counts(normalize=True).sort_index()
        distribution = {label: round(float(share), 4) for label, share in shares.items()}
    missing = frame.isna().mean()
    return {
        "rows": len(frame),
        "columns": list(map(str, frame.columns)),
        "missing_share": {c: round(float(v), 4) for c, v in missing[missing > 0].items()},
        "target": distribution,
    }


def integrity(frame: pd.DataFrame, data: DataParams, schema: dict, validation: ValidationParams):
    """Run the Deepchecks data-integrity suite on a bounded sample."""
    tabular = suites.deepchecks_tabular()
    features = resolve_features(schema, data)
    dataset = suites.make_dataset(frame, features, data, "data")
    suite = tabular.suites.data_integrity(n_samples=validation.n_samples, random_state=0)
    return suites.run_suite(suite, checks.skipped(data, validation), train_dataset=dataset)


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("schema", type=Path)
    parser.add_argument("summary", type=Path, help="JSON summary to write")
    parser.add_argument("html", type=Path, help="Deepchecks HTML report to write")
    args = parser.parse_args()
    with timed("validate_data"):
        params = load_params()
        frame = read_table(args.data)
        schema = load_schema(args.schema)
        findings = check_frame(frame, schema, params.data)
        raise_if_errors(findings, str(args.data))
        result = integrity(frame, params.data, schema, params.validation)
        summary = {
            "profile": profile(frame, params.data),
            "schema_warnings": findings.warnings,
            "deepchecks": suites.summarize(result),
        }
        write_json(args.summary, summary)
        suites.save_html(result, args.html)


if __name__ == "__main__":
    main()
