"""The gate: one verdict from the test metric, the comparison with main and the blocking checks.

Exit codes of ``python -m mlops.review.gate`` (and of ``make run``'s ``mlops.run``): 0 pass, 1 fail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlops.errors import EXIT_GATE_FAILED, cli
from mlops.hashes import read_lock
from mlops.jsonfile import read_json, write_json
from mlops.params import GateParams, Params, ValidationParams, load_params
from mlops.pipeline import checks
from mlops.review import champion

FAILING = ("FAIL", "ERROR")
NOT_RUN = "NOT RUN"  # the check raised
BASIS_TEXT = {
    champion.SAME_TEST_SET: "main's committed metrics on the same test set",
    champion.RESCORED: "main's model on this test set",  # a baseline.json that does not count rows
}
DROP_REMEDY = (
    "This change's model scores lower than main's on the same rows, by more than gate.max_drop allows. "
    "Improve the model (features, hyperparameters, more training rows); if the drop is expected (e.g. "
    "the new data is harder), raise gate.max_drop in params.yaml for this pull request."
)


def decide(
    metrics: dict[str, Any],
    comparison: dict[str, Any],
    validation_summaries: list[dict[str, Any]],
    gate: GateParams,
    validation: ValidationParams,
) -> dict[str, Any]:
    """Verdict and every reason behind it; a reason with passed=False fails the gate. The drop
    compares the two models on the same rows: this change's test set, or the part of it main never
    trained on when the comparison scored this change's model there too."""
    value = metrics["test"].get(gate.metric)
    base_value = ((comparison.get("metrics") or {}).get("test") or {}).get(gate.metric)
    compared = (comparison.get("challenger_metrics") or metrics)["test"].get(gate.metric)
    reasons = [_minimum(value, gate, metrics), _drop(compared, base_value, comparison, gate)]
    for summary in validation_summaries:
        reasons += _blocking(summary, validation)
    passed = all(reason["passed"] for reason in reasons)
    return {
        "verdict": "pass" if passed else "fail",
        "metric": gate.metric,
        "value": value,
        "baseline": base_value,
        "basis": comparison["basis"],
        "reasons": reasons,
    }


def _minimum(value: float | None, gate: GateParams, metrics: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        why = (metrics.get("undefined") or {}).get("test", {}).get(gate.metric, "it could not be computed")
        fix = (
            "add training rows of that class (with a time split: older ones)"
            if checks.NEW_CLASS in why
            else "change the split so that the test set holds every class"
        )
        return _reason(
            False,
            f"test {gate.metric} is undefined: {why}. Set gate.metric in params.yaml to a metric this "
            f"test set defines, or {fix}.",
        )
    passed = value >= gate.min
    return _reason(passed, f"test {gate.metric} {value:.4f} {'≥' if passed else '<'} minimum {gate.min}")


def _drop(
    value: float | None, base_value: float | None, comparison: dict[str, Any], gate: GateParams
) -> dict[str, Any]:
    if comparison["basis"] == champion.NONE:
        return _reason(True, f"not compared with main: {comparison['reason']}")
    if value is None or base_value is None:
        return _reason(True, f"not compared with main: {gate.metric} is undefined for one of the two models")
    drop = round(base_value - value, 10)  # metrics have 5 decimals: a drop of exactly max_drop passes
    passed = drop <= gate.max_drop
    return _reason(
        passed,
        f"test {gate.metric} {value:.4f} vs main {base_value:.4f} ({_compared_on(comparison)}): "
        f"change {-drop + 0.0:+.4f} (largest drop allowed {gate.max_drop})",
        None if passed else DROP_REMEDY,
    )


def _compared_on(comparison: dict[str, Any]) -> str:
    """What main's number is, for the drop line: with the row count when the comparison has one."""
    if comparison.get("rows") is not None:
        return champion.on_rows(comparison["rows"], comparison.get("excluded") or 0)
    return BASIS_TEXT[comparison["basis"]]


def _blocking(summary: dict[str, Any], validation: ValidationParams) -> list[dict[str, Any]]:
    """A failing reason, with what to do, for each blocking check that failed or could not run."""
    reasons = []
    for problem in summary["problems"]:
        check = problem["check"]
        if check not in validation.blocking_checks:
            continue
        if problem["status"] in FAILING:
            text = f"Deepchecks {check} ({summary['suite']}): {problem['condition']}: {problem['details']}"
            reasons.append(_reason(False, text, checks.remedy(check)))
        elif problem["status"] == NOT_RUN:
            text = f"Deepchecks {check} ({summary['suite']}) could not run: {problem['details']}"
            what = f"What it guards is unchecked: fix the cause if it is in the data. {checks.unblock(check)}"
            reasons.append(_reason(False, text, what))
    return reasons


def _reason(passed: bool, text: str, remedy: str | None = None) -> dict[str, Any]:
    reason = {"passed": bool(passed), "text": text}
    return reason | {"remedy": remedy} if remedy else reason


def compare_with_main(
    params: Params, test_set: Path, trusted: bool = False, model: Path = Path(champion.MODEL)
) -> dict[str, Any]:
    """The comparison with main (champion.compare) for the run in the workspace; ``trusted``: never
    load main's model (a pickle runs code, and storage may hold one nobody reviewed)."""
    import joblib
    import pandas as pd

    lock = read_lock(Path("dvc.lock"))
    load = champion.Loaders(
        main_model=champion.refuse_model if trusted else champion.fetch_model,
        main_train=champion.fetch_train_set,
        test=lambda: pd.read_parquet(test_set),
        model=lambda: joblib.load(model),
    )
    return champion.compare(params, lock, load).as_dict()


@cli
def main(argv: list[str] | None = None) -> int:
    """Compare, decide, write reports/baseline.json and gate.json, print the verdict; 1 on a fail."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--test-set", type=Path, default=Path(champion.TEST_SET))
    parser.add_argument("--model", type=Path, default=Path(champion.MODEL), help="this change's model")
    parser.add_argument("--trusted", action="store_true", help="compare without loading main's model")
    args = parser.parse_args(argv)
    params = load_params()
    reports = args.reports
    summaries = [read_json(reports / "data_validation.json")["deepchecks"]]
    summaries += read_json(reports / "model_validation.json").values()
    comparison = compare_with_main(params, args.test_set, args.trusted, args.model)
    write_json(reports / "baseline.json", comparison)
    result = decide(
        read_json(reports / "metrics.json"),
        comparison,
        summaries,
        params.gate,
        params.validation,
    )
    write_json(reports / "gate.json", result)
    print(f"Gate: {result['verdict'].upper()}")
    for reason in result["reasons"]:
        print(f"  {'ok  ' if reason['passed'] else 'FAIL'} {reason['text']}")
        if "remedy" in reason:
            print(f"       what to do: {reason['remedy']}")
    return 0 if result["verdict"] == "pass" else EXIT_GATE_FAILED


if __name__ == "__main__":
    sys.exit(main())
