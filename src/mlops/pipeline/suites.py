"""Running Deepchecks suites and turning their results into small JSON summaries and HTML."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.params import DataParams, Features


def deepchecks_tabular():
    """Import deepchecks.tabular with its telemetry off and its import-time warnings muted."""
    os.environ.setdefault("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import deepchecks.tabular
        import deepchecks.tabular.suites
    return deepchecks.tabular


def make_dataset(frame: pd.DataFrame, features: Features, data: DataParams, name: str):
    """A Deepchecks Dataset of the features and target (regression or classification labels)."""
    tabular = deepchecks_tabular()
    roles = [c for c in (data.id_column, data.datetime_column) if c in frame.columns]
    return tabular.Dataset(
        frame[roles + list(features.all) + [data.target]],
        label=data.target,
        index_name=data.id_column if data.id_column in roles else None,
        datetime_name=data.datetime_column if data.datetime_column in roles else None,
        cat_features=list(features.categorical),
        label_type="regression" if data.task == "regression" else f"{data.task}",
        dataset_name=name,
    )


def run_suite(suite, skip: tuple[str, ...], **inputs: Any):
    """Run a suite without the checks in ``skip``, quietly (Deepchecks warns a lot about pandas)."""
    for index, check in list(suite.checks.items()):
        if check.name() in skip:
            suite.remove(index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Timeout 0: no permutation importance of Deepchecks' own (Multivariate Drift spent ~20 s
        # starting worker processes for it); validate_model passes the importance evaluate computed.
        return suite.run(feature_importance_timeout=0, **inputs)


def summarize(result) -> dict[str, Any]:
    """Every condition that did not pass, and counts, in a form the gate and report read."""
    problems = []
    counts = {"PASS": 0, "WARN": 0, "FAIL": 0, "ERROR": 0, "NOT RUN": 0}
    for check_result in _unique_by_check(result.get_not_ran_checks()):
        problems.append(
            {
                "check": check_result.check.name(),
                "condition": "check did not run",
                "status": "NOT RUN",
                "details": str(check_result.exception).splitlines()[0][:300],
            }
        )
        counts["NOT RUN"] += 1
    for check_result in result.results:
        for condition in getattr(check_result, "conditions_results", []):
            status = condition.category.value
            counts[status] += 1
            if status != "PASS":
                problems.append(
                    {
                        "check": check_result.check.name(),
                        "condition": condition.name,
                        "status": status,
                        "details": condition.details,
                    }
                )
    return {"suite": result.name, "counts": counts, "problems": problems}


def _unique_by_check(results: list) -> list:
    return list({r.check.name(): r for r in results}.values())


def save_html(result, path: Path) -> None:
    """Save the full interactive report, replacing any earlier one at the same path."""
    path.unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = result.save_as_html(str(path), as_widget=False)
    if Path(written) != path:  # Deepchecks never overwrites; keep the path DVC expects.
        Path(written).replace(path)
