"""Send example traffic to a running model service: predictions, then feedback with the true labels.

Records come from the example generator (mlops.data.example_data: a later period, optionally
drifted), so this fits the bundled churn example only: a service trained on your own data rejects
them. They go to URL/predict in batches; after --feedback-delay seconds, a --feedback-fraction of
them get their true `churned` label on URL/feedback, by the prediction ids the service answered.

Usage: python -m mlops.monitoring.traffic http://127.0.0.1:3000 [--records 500] [--drift 0.3]
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pandas as pd

from mlops.data.example_data import generate
from mlops.data.schema import load_schema, resolve_features
from mlops.errors import UserError, cli
from mlops.params import load_params

MAX_FEEDBACK = 10_000  # labels per /feedback request


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST JSON; the parsed answer, or a UserError with the service's own error."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:500]
        raise UserError(f"{url} answered {error.code}: {detail}")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise UserError(f"no answer from {url} ({error}): is the service running (make serve)?")


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON records, NaN as null."""
    return json.loads(frame.to_json(orient="records"))


def feedback_sample(ids: list[str], labels: list[Any], fraction: float, seed: int) -> list[dict[str, Any]]:
    """A random ``fraction`` of the predictions with their true labels, in prediction order."""
    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(rng.random(len(ids)) < fraction)
    return [{"prediction_id": ids[i], "label": labels[i]} for i in chosen]


def send(url: str, args: argparse.Namespace) -> str:
    """Send the traffic; the summary line."""
    data = load_params("params.yaml").data
    features = resolve_features(load_schema("schema.yaml"), data)
    table = generate(args.records, seed=args.seed, period=args.period, drift=args.drift)
    records, labels = as_records(table[list(features.all)]), table[data.target].tolist()
    ids, version = [], None
    for start in range(0, len(records), args.batch):
        answer = post(f"{url}/predict", {"records": records[start : start + args.batch]})
        ids += answer["prediction_ids"]
        version = answer["model_version"]
    time.sleep(args.feedback_delay)
    feedback = feedback_sample(ids, labels, args.feedback_fraction, args.seed)
    for start in range(0, len(feedback), MAX_FEEDBACK):
        post(f"{url}/feedback", {"labels": feedback[start : start + MAX_FEEDBACK]})
    return (
        f"sent {len(records)} records and {len(feedback)} feedback labels to {url} (model version {version})"
    )


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:3000")
    parser.add_argument("--records", type=int, default=500, help="records to send (default 500)")
    parser.add_argument("--batch", type=int, default=50, help="records per /predict request (default 50)")
    parser.add_argument("--drift", type=float, default=0.0, help="0 (none) to 1 (strong)")
    parser.add_argument("--period", type=int, default=2, help="example period, six months each (default 2)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--feedback-fraction", type=float, default=0.5, help="share of records labelled")
    parser.add_argument("--feedback-delay", type=float, default=2.0, help="seconds before the feedback")
    args = parser.parse_args()
    if args.records < 1 or not 1 <= args.batch <= 10_000 or not 0 <= args.feedback_fraction <= 1:
        raise UserError("--records must be at least 1, --batch 1 to 10000, --feedback-fraction 0 to 1.")
    print(send(args.url.rstrip("/"), args))


if __name__ == "__main__":
    main()
