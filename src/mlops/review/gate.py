"""The gate: one verdict from metrics, Deepchecks summaries and the main branch's baseline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlops.errors import cli
from mlops.params import GateParams, ValidationParams, load_params
from mlops.review import baseline

FAILING = ("FAIL", "ERROR")


def decide(
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None,
    validation_summaries: list[dict[str, Any]],
    gate: GateParams,
    validation: ValidationParams,
) -> dict[str, Any]:
    """Verdict and every reason behind it; a reason with passed=False fails the gate."""
    value = metrics["test"][gate.metric]
    reasons = [
        _reason(
            value >= gate.min,
            f"test {gate.metric} {value:.4f} {'≥' if value >= gate.min else '<'} minimum {gate.min}",
        )
    ]
    base_value = (baseline or {}).get("test", {}).get(gate.metric)
    if base_value is None:
        reasons.append(_reason(True, "no baseline on main yet: the drop check is skipped"))
    else:
        drop = round(base_value - value, 10)  # metrics have 5 decimals: a drop of exactly max_drop passes
        reasons.append(
            _reason(
                drop <= gate.max_drop,
                f"test {gate.metric} {value:.4f} vs main {base_value:.4f}: change {-drop:+.4f} "
                f"(largest drop allowed {gate.max_drop})",
            )
        )
    for summary in validation_summaries:
        for problem in summary["problems"]:
            if problem["check"] in validation.blocking_checks and problem["status"] in FAILING:
                reasons.append(
                    _reason(
                        False,
                        f"Deepchecks {problem['check']} ({summary['suite']}): "
                        f"{problem['condition']}: {problem['details']}",
                    )
                )
    passed = all(reason["passed"] for reason in reasons)
    return {
        "verdict": "pass" if passed else "fail",
        "metric": gate.metric,
        "value": value,
        "baseline": base_value,
        "reasons": reasons,
    }


def _reason(passed: bool, text: str) -> dict[str, Any]:
    return {"passed": bool(passed), "text": text}


@cli
def main(argv: list[str] | None = None) -> int:
    """Decide, write reports/gate.json, print the verdict; return 1 when the gate fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    params = load_params()
    reports = args.reports
    summaries = [json.loads((reports / "data_validation.json").read_text())["deepchecks"]]
    summaries += json.loads((reports / "model_validation.json").read_text()).values()
    result = decide(
        json.loads((reports / "metrics.json").read_text()),
        baseline.read_json(baseline.resolve_ref(), f"{reports}/metrics.json"),
        summaries,
        params.gate,
        params.validation,
    )
    (reports / "gate.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"Gate: {result['verdict'].upper()}")
    for reason in result["reasons"]:
        print(f"  {'ok  ' if reason['passed'] else 'FAIL'} {reason['text']}")
    return 0 if result["verdict"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
