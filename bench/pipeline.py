"""Benchmark `make run` (python -m mlops.run) in a throw-away copy of the project.

1. Cold run on the bundled example (20,000 rows): total wall time, seconds per stage
   (reports/timings/*.json) and the share of the wall time spent on model fitting and scoring,
   measured in-process with mlops.pipeline.train.train plus mlops.pipeline.model.predict on train and test.
2. No-op re-run with nothing changed.
3. Optionally (``--rows N``, default 1,000,000; ``--rows 0`` skips it) a cold run on a generated
   N-row table: wall time and peak memory of the process tree.

Each run happens in a fresh temporary directory holding the git-tracked files, a fresh
``git init`` and no dvc.lock or pipeline outputs, so every stage runs cold. Run it with the
project's venv from the project root:

    .venv/bin/python bench/pipeline.py            # about 2 min + the 1M-row run
    .venv/bin/python bench/pipeline.py --rows 0   # skip the large run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
EXAMPLE_ROWS = 20_000
GB = 1024**3

# Targets.
MIN_FIT_SHARE = 0.50
MAX_NOOP_SECONDS = 5.0
MAX_LARGE_SECONDS = 15 * 60
MAX_LARGE_BYTES = 8 * GB

CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
STAGE_ORDER = ("validate_data", "split", "train", "evaluate", "validate_model")


@dataclass
class RunResult:
    wall: float
    returncode: int
    log: Path
    peak_tree_rss: int = 0  # sampled sum of RSS over the whole process tree
    max_process_rss: int = 0  # largest single process (wait4's ru_maxrss covers all descendants)
    cpu: float = 0.0  # user + system seconds of the whole tree
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average before and after
    timings: dict[str, float] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def pipeline_env(workdir: Path) -> dict[str, str]:
    """What `make run` exports, the venv first on PATH, and the copy's own src/ importable."""
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(ROOT / ".venv"),
        DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY="True",
        DVC_NO_ANALYTICS="1",
        BENTOML_DO_NOT_TRACK="True",
        GIT_PAGER="cat",
        # mlops is installed editable from ROOT/src; make the stages import the copy instead.
        PYTHONPATH=str(workdir / "src"),
    )
    env.pop("BASELINE_REF", None)
    return env


def pipeline_outputs(dvc_yaml: Path) -> list[str]:
    """Every out and metric of dvc.yaml (after ${...} paths, which only the data path uses)."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    paths = []
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for item in stage.get(key, []):
                paths.append(next(iter(item)) if isinstance(item, dict) else item)
    return paths


def prepare(workdir: Path, rows: int) -> float:
    """Copy the git-tracked files, drop dvc.lock and outputs, git init, generate the data.

    Returns the seconds the data generation took (not part of the pipeline's time).
    """
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    stale = ["dvc.lock", "reports/timings", "reports/gate.json", "reports/report.md", "data"]
    for name in stale + pipeline_outputs(workdir / "dvc.yaml"):
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    command = [str(PYTHON), "-m", "mlops.data.example_data", "data/churn.csv"]
    if rows != EXAMPLE_ROWS:
        command += ["--rows", str(rows)]  # same as example_data.generate(rows)
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=pipeline_env(workdir), check=True)
    return time.perf_counter() - start


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def run_pipeline(workdir: Path, log: Path, poll: float = 0.2, timeout: float | None = None) -> RunResult:
    """Run `python -m mlops.run` in workdir; wall time, exit code and memory of the process tree."""
    try:
        import psutil  # noqa: F401

        sample = True
    except ImportError:
        sample = False
    load_before = os.getloadavg()[0]
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(PYTHON), "-m", "mlops.run"],
            cwd=workdir,
            env=pipeline_env(workdir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout can end the whole tree
        )
        killer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL)) if timeout else None
        if killer:
            killer.start()
        peak = 0
        stop = threading.Event()

        def sampler() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                stop.wait(poll)

        thread = threading.Thread(target=sampler, daemon=True)
        if sample:
            thread.start()
        # wait4: the child's rusage, whose ru_maxrss includes all its waited-for descendants.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if killer:
            killer.cancel()
        stop.set()
        if sample:
            thread.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    from mlops.timings import read_timings

    return RunResult(
        wall=wall,
        returncode=proc.returncode,
        log=log,
        peak_tree_rss=peak,
        max_process_rss=usage.ru_maxrss * 1024,  # KiB on Linux
        cpu=usage.ru_utime + usage.ru_stime,
        load=(load_before, os.getloadavg()[0]),
        timings=read_timings(workdir / "reports" / "timings"),
    )


def fit_and_score(workdir: Path, repeat: int = 1) -> dict[str, float]:
    """Time, in this process, what the pipeline spends on the model itself: fit, then predict.

    The same params, schema and train/test Parquet files as the run; the fastest of ``repeat``.
    """
    import pandas as pd

    from mlops.data.schema import load_schema, resolve_features
    from mlops.params import load_params
    from mlops.pipeline.model import predict
    from mlops.pipeline.train import train

    params = load_params(workdir / "params.yaml")
    features = resolve_features(load_schema(workdir / "schema.yaml"), params.data)
    train_frame = pd.read_parquet(workdir / "artifacts" / "train.parquet")
    test_frame = pd.read_parquet(workdir / "artifacts" / "test.parquet")
    best: dict[str, float] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        model = train(train_frame, features, params)
        fitted = time.perf_counter()
        predict(model, train_frame)
        predict(model, test_frame)
        scored = time.perf_counter()
        timing = {"fit": fitted - start, "score": scored - fitted, "total": scored - start}
        if not best or timing["total"] < best["total"]:
            best = timing
    return best


def fmt_bytes(value: int) -> str:
    return f"{value / GB:.2f} GB" if value >= GB / 10 else f"{value / 1024**2:.0f} MB"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def check_run(result: RunResult, what: str) -> None:
    if result.returncode != 0:
        print(f"!! {what}: mlops.run exited {result.returncode}; last lines of {result.log}:")
        print("\n".join(result.log_text().splitlines()[-25:]))


def stage_table(result: RunResult, fit: dict[str, float] | None) -> list[str]:
    lines = [f"  {'stage':<38}{'seconds':>9}{'share':>8}"]
    stages = [s for s in STAGE_ORDER if s in result.timings]
    stages += sorted(set(result.timings) - set(STAGE_ORDER))
    for stage in stages:
        seconds = result.timings[stage]
        lines.append(f"  {stage:<38}{seconds:>9.2f}{seconds / result.wall:>8.1%}")
    rest = result.wall - sum(result.timings.values())
    lines.append(f"  {'outside stages (imports, DVC, gate…)':<38}{rest:>9.2f}{rest / result.wall:>8.1%}")
    lines.append(f"  {'total wall (python -m mlops.run)':<38}{result.wall:>9.2f}{1:>8.1%}")
    lines.append(
        f"  {'CPU time of the process tree':<38}{result.cpu:>9.2f}"
        f"   (load average {result.load[0]:.1f} before, {result.load[1]:.1f} after)"
    )
    if max(result.load) > CPUS:
        lines.append(f"  ! load average above {CPUS} CPUs: other work shared the machine; times are inflated")
    if fit is not None:
        lines.append(
            f"  {'fit + score, in-process':<38}{fit['total']:>9.2f}{fit['total'] / result.wall:>8.1%}"
            f"   (fit {fit['fit']:.2f} s, predict train+test {fit['score']:.2f} s)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="rows of the large run (default 1,000,000); 0 skips it",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds after which the large run is killed (default 3600)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project copies and logs")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file

    base = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    print(f"mlops pipeline benchmark: {CPUS} CPU(s), work dir {base}")
    targets: list[tuple[str, str, str, bool]] = []
    try:
        # 1. Cold run on the bundled example.
        cold_dir = base / "example"
        cold_dir.mkdir()
        gen = prepare(cold_dir, EXAMPLE_ROWS)
        sys.path.insert(0, str(cold_dir / "src"))  # this process times the same code snapshot
        print(f"\n[1] cold run, {EXAMPLE_ROWS:,} rows (data generated in {gen:.1f} s, not counted)")
        cold = run_pipeline(cold_dir, base / "example-cold.log")
        check_run(cold, "cold run")
        fit = fit_and_score(cold_dir, repeat=3) if cold.returncode == 0 else None
        print("\n".join(stage_table(cold, fit)))
        print(
            f"  peak memory: process tree {fmt_bytes(cold.peak_tree_rss)}, "
            f"largest process {fmt_bytes(cold.max_process_rss)}"
        )
        if fit is not None:
            share = fit["total"] / cold.wall
            targets.append(("fit+score share of cold wall", f"{share:.1%}", ">= 50%", share >= MIN_FIT_SHARE))

        # 2. No-op re-run.
        noop = run_pipeline(cold_dir, base / "example-noop.log")
        check_run(noop, "no-op re-run")
        state = "every stage up to date" if "nothing to reproduce" in noop.log_text() else "STAGES RAN"
        print(f"\n[2] no-op re-run: {noop.wall:.2f} s ({state}; exit {noop.returncode})")
        targets.append(
            (
                "no-op re-run wall",
                f"{noop.wall:.2f} s",
                "< 5 s",
                noop.returncode == 0 and noop.wall < MAX_NOOP_SECONDS,
            )
        )

        # 3. Large run.
        if args.rows > 0:
            large_dir = base / "large"
            large_dir.mkdir()
            gen = prepare(large_dir, args.rows)
            size = (large_dir / "data" / "churn.csv").stat().st_size
            print(
                f"\n[3] cold run, {args.rows:,} rows ({fmt_bytes(size)} CSV generated in {gen:.1f} s, "
                "not counted)"
            )
            large = run_pipeline(large_dir, base / "large-cold.log", timeout=args.timeout)
            check_run(large, "large run")
            large_fit = fit_and_score(large_dir) if large.returncode == 0 else None
            print("\n".join(stage_table(large, large_fit)))
            print(
                f"  peak memory: process tree {fmt_bytes(large.peak_tree_rss)} (sampled every 0.2 s), "
                f"largest process {fmt_bytes(large.max_process_rss)} (ru_maxrss)"
            )
            peak = max(large.peak_tree_rss, large.max_process_rss)
            label = f"{args.rows:,}-row run"
            done = large.returncode == 0  # a failed or killed run meets no target
            wall_ok = done and large.wall < MAX_LARGE_SECONDS
            targets.append((f"{label} wall", f"{large.wall / 60:.1f} min", "< 15 min", wall_ok))
            targets.append((f"{label} peak RSS", fmt_bytes(peak), "< 8 GB", done and peak < MAX_LARGE_BYTES))
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        print(f"\n(RUSAGE_CHILDREN max RSS of any child, data generation included: {fmt_bytes(children)})")
    finally:
        if args.keep:
            print(f"kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    print(f"\n{'target':<34}{'value':>12}  {'goal':<10}{'status'}")
    for name, value, goal, ok in targets:
        print(f"{name:<34}{value:>12}  {goal:<10}{verdict(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
