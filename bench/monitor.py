"""Benchmark `make monitor` (python -m mlops.monitoring.check) on a million logged records, and
measure its false alarms and its detections.

1. Scale: 1,000,000 records (2,000 requests of 500, in 20 prediction files) plus feedback for 10% of
   them, in the service's log format, checked by ``python -m mlops.monitoring.check`` in a child
   process: wall time (imports included) and peak memory (its VmHWM, polled). Targets: under 2 minutes
   and under 2 GB on 2 cores.
2. Alarms: 20 samples of traffic per drift strength (0 = healthy, then the example generator's
   0.3, 0.5 and 0.7) and size (500, 2,000 and 5,000 records): how many end ok, warn and alert.
   Target: no alert (nor warning) on healthy traffic; an alert every time at DRIFT=0.5
   (README: `make refresh DRIFT=0.5`) from 5,000 records on.

The reference is made in a temporary project: the example's first 16,000 rows (as the time split
leaves them) and a model trained on them with the real params.yaml. Run from the project root:

    .venv/bin/python bench/monitor.py                # about 3 minutes
    .venv/bin/python bench/monitor.py --records 200000 --samples 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib

ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3
DRIFTS = (0.0, 0.3, 0.5, 0.7)
SIZES = (500, 2000, 5000)


def make_project(path: Path):
    """Reference files as `make run` leaves them; returns (params, reference)."""
    from mlops.data import example_data
    from mlops.data.schema import load_schema, resolve_features
    from mlops.monitoring.reference import Paths, load_reference
    from mlops.params import load_params
    from mlops.pipeline.metrics import compute_metrics
    from mlops.pipeline.model import predict
    from mlops.pipeline.train import train

    params = load_params(ROOT / "params.yaml")
    features = resolve_features(load_schema(ROOT / "schema.yaml"), params.data)
    data = example_data.generate()
    training, test = data.iloc[:16_000], data.iloc[16_000:]
    model = train(training, features, params)
    labels, proba = predict(model, test[list(features.all)])
    metrics = compute_metrics(params.data.task, test[params.data.target], labels, proba, model.classes_)
    for name in ("artifacts", "reports", "models"):
        (path / name).mkdir(parents=True, exist_ok=True)
    training.to_parquet(path / "artifacts/train.parquet")
    (path / "reports/metrics.json").write_text(json.dumps({"test": metrics}))
    for name in ("schema.yaml", "params.yaml"):
        (path / name).write_text((ROOT / name).read_text())
    joblib.dump(model, path / "models/model.joblib")
    paths = Paths(*(path / p for p in ("artifacts/train.parquet", "reports/metrics.json", "schema.yaml")),
                  path / "models/model.joblib", path / "dvc.lock")  # fmt: skip
    return params, load_reference(paths, params), model


def write_traffic(root: Path, reference, model, rows: int, drift: float, seed: int, feedback: float = 0.0):
    from mlops.data import example_data
    from mlops.monitoring import simulate

    frame = example_data.generate(rows, seed, period=2, drift=drift)
    lines = simulate.request_lines(frame, reference.features, model, reference.model_version, size=500)
    simulate.write_lines(root, "predictions", lines, per_file=100)
    if feedback:
        labels = simulate.feedback_lines(lines, frame[reference.target], feedback)
        simulate.write_lines(root, "feedback", labels, per_file=20_000)


def scale(project: Path, reference, model, records: int) -> dict:
    """Wall time and peak memory of the command on ``records`` logged records."""
    logs = project / "traffic"
    start = time.perf_counter()
    write_traffic(logs, reference, model, records, drift=0.0, seed=1, feedback=0.1)
    print(f"wrote {records:,} records in {time.perf_counter() - start:.0f} s; checking them…", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "mlops.monitoring.check", "--logs", str(logs), "--out", "out"]
    start = time.perf_counter()
    run = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    while run.poll() is None:
        peak = max(peak, high_water_mark(run.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    stderr = run.stderr.read()
    verdict = json.loads((project / "out/verdict.json").read_text()) if run.returncode in (0, 1) else {}
    if not verdict:
        print(stderr)
    return {
        "wall": wall,
        "peak": peak,
        "status": verdict.get("status"),
        "records": verdict["volume"]["records"],
    }


def high_water_mark(pid: int) -> int:
    """A process's peak resident memory so far (VmHWM), in bytes; 0 once it is gone.

    Not ru_maxrss of the children: on Linux that counts the parent's memory the child had between
    fork and exec, and this process holds the million records it wrote."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def alarms(project: Path, params, reference, model, samples: int) -> dict[tuple[float, int], dict[str, int]]:
    """Per drift strength and size: how many of ``samples`` checks end ok, warn and alert."""
    from mlops.monitoring.checks import run_checks
    from mlops.monitoring.logs import read_logs
    from mlops.monitoring.reference import target_type

    target = target_type(reference.train[reference.target])
    table = {}
    for drift in DRIFTS:
        for size in SIZES:
            counts = {"ok": 0, "warn": 0, "alert": 0}
            for sample in range(samples):
                root = project / f"alarms-{drift}-{size}-{sample}"
                write_traffic(root, reference, model, size, drift, seed=1000 + sample)
                logs = read_logs(str(root), reference.features, target, reference.class_keys)
                counts[run_checks(reference, logs, params.monitoring)["status"]] += 1
            table[drift, size] = counts
            print(f"drift {drift}: {size:>5,} records: {counts}", flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as folder:
        project = Path(folder)
        params, reference, model = make_project(project)
        figures = scale(project, reference, model, args.records)
        table = alarms(project, params, reference, model, args.samples)
    print(f"\n1. {figures['records']:,} records checked ({figures['status']}): {figures['wall']:.1f} s wall, "
          f"peak memory {figures['peak'] / GB:.2f} GB")  # fmt: skip
    print(f"\n2. Of {args.samples} samples per cell, ok / warn / alert:\n")
    print("| drift | " + " | ".join(f"{size:,} records" for size in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for drift in DRIFTS:
        cells = [table[drift, size] for size in SIZES]
        print(f"| {drift} | " + " | ".join(f"{c['ok']} / {c['warn']} / {c['alert']}" for c in cells) + " |")
    healthy = sum(table[0.0, size]["alert"] + table[0.0, size]["warn"] for size in SIZES)
    checks = [
        ("1M records in under 2 minutes", figures["wall"] < 120),
        ("peak memory under 2 GB", figures["peak"] < 2 * GB),
        ("no alert or warning on healthy traffic", healthy == 0),
        ("DRIFT=0.5 alerts every time at 5,000 records", table[0.5, 5000]["alert"] == args.samples),
    ]
    print("\n| target | met |\n|---|---|")
    for name, met in checks:
        print(f"| {name} | {'yes' if met else 'NO'} |")


if __name__ == "__main__":
    main()
