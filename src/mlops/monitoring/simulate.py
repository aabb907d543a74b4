"""Synthetic production traffic in the service's log format, to try `make monitor` without a service.

Rows of the example generator (a later period, optionally drifted) are predicted by the trained
model and written as the service writes them: predictions/<date>/<HHMMSS>-<host>-<pid>-<seq>.jsonl with one
line per request, and feedback/<date>/… with one label per chosen prediction. Used by the tests
and bench/monitor.py too.

Usage: python -m mlops.monitoring.simulate OUT_DIR [--records 5000] [--drift 0.5] [--feedback 0.2]
then:  make monitor LOGS=OUT_DIR
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from mlops.data import example_data
from mlops.data.schema import load_schema, resolve_features
from mlops.errors import cli
from mlops.hashes import file_md5
from mlops.params import Features, load_params
from mlops.pipeline.model import predict

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def request_lines(
    frame: pd.DataFrame, features: Features, model, version: str, size: int, seed: int = 0
) -> list[dict]:
    """One log line per request of ``size`` rows, as the service writes it."""
    labels, proba = predict(model, frame[list(features.all)])
    classes = [str(c) for c in getattr(model, "classes_", [])]
    records = frame[list(features.all)].astype(object).where(frame[list(features.all)].notna(), None)
    records = records.to_dict("records")
    rng = np.random.default_rng(seed)
    lines = []
    for number, start in enumerate(range(0, len(frame), size)):
        stop = min(start + size, len(frame))
        lines.append(
            {
                "time": (START + timedelta(seconds=number)).isoformat(),
                "request_id": rng.bytes(16).hex(),
                "model_version": version,
                "records": records[start:stop],
                "predictions": labels[start:stop].tolist(),
                "probabilities": None
                if proba is None
                else [dict(zip(classes, row, strict=True)) for row in proba[start:stop].tolist()],
                "truncated": [],
            }
        )
    return lines


def feedback_lines(
    lines: list[dict], truth: pd.Series, share: float, flip: bool = False, seed: int = 0
) -> list[dict]:
    """Feedback for a random ``share`` of the logged records: the true label (``flip``: the other
    class of a binary target, as a model gone wrong would see)."""
    rng = np.random.default_rng(seed)
    values = truth.tolist()
    out, row = [], 0
    for line in lines:
        for index in range(len(line["records"])):
            if rng.random() < share:
                label = values[row]
                label = (1 - label if isinstance(label, int) else not label) if flip else label
                out.append(
                    {"time": line["time"], "prediction_id": f"{line['request_id']}-{index}", "label": label}
                )
            row += 1
    return out


def write_lines(
    root: Path, kind: str, lines: list[dict], per_file: int, day: str = "2026-01-05"
) -> list[Path]:
    """The lines in files of ``per_file`` lines each, named as the service names them."""
    folder = root / kind / day
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seq, start in enumerate(range(0, len(lines), per_file)):
        path = folder / f"090000-4242-{seq:04d}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines[start : start + per_file]))
        paths.append(path)
    return paths


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="log root to write, e.g. /tmp/traffic")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--drift", type=float, default=0.0, help="0 (none) to 1 (strong)")
    parser.add_argument("--feedback", type=float, default=0.2, help="share of records given a label")
    parser.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    args = parser.parse_args()
    params = load_params()
    features = resolve_features(load_schema("schema.yaml"), params.data)
    frame = example_data.generate(args.records, period=2, drift=args.drift)
    lines = request_lines(frame, features, joblib.load(args.model), file_md5(args.model), size=100)
    write_lines(args.out, "predictions", lines, per_file=20)
    write_lines(args.out, "feedback", feedback_lines(lines, frame[params.data.target], args.feedback), 1000)
    print(f"wrote {args.records:,} records to {args.out}; now: make monitor LOGS={args.out}")


if __name__ == "__main__":
    main()
