"""The retraining pull request's title, from the gate's verdict in reports/gate.json.

The Retrain workflow opens (or updates) one pull request per batch of new data: this title, the
report (reports/report.md) as its body, and a draft when the gate failed.
`python -m mlops.retraining.proposal` prints the title.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops.errors import UserError, cli
from mlops.jsonfile import read_json

GATE = Path("reports/gate.json")


def title(gate: dict) -> str:
    """E.g. "Retrain on new data: gate PASS, roc_auc 0.8312 (main 0.8256)"."""
    verdict = "PASS" if gate.get("verdict") == "pass" else "FAIL"
    metric, value, baseline = gate.get("metric"), gate.get("value"), gate.get("baseline")
    score = f"{metric} {value:.4f}" if value is not None else f"{metric} undefined"
    versus = f" (main {baseline:.4f})" if baseline is not None else ""
    return f"Retrain on new data: gate {verdict}, {score}{versus}"


@cli
def main() -> None:
    if not GATE.is_file():
        raise UserError(f"{GATE} is missing: run `make run` first; the title comes from the gate's verdict.")
    print(title(read_json(GATE)))


if __name__ == "__main__":
    sys.exit(main())
