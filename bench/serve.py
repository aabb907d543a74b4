"""Benchmark the model service against in-process predict and a plain FastAPI endpoint.

Three ways to run the same ``mlops.pipeline.model.predict`` on the same model:

- in-process: a DataFrame built from JSON-like records, then predict (one thread, as served);
- plain: a minimal FastAPI endpoint around it (uvicorn, one worker, sync handler);
- service: ``bentoml serve mlops.serving.service:Model``.

Both servers run at once in subprocesses on 127.0.0.1. Each load is measured in rounds (default
4) that take turns between in-process predict (where it applies), the plain endpoint and the
service, so a change in the machine's background load hits all of them alike: one-record requests
from 1, 8 and 64 concurrent keep-alive clients, then requests of 1,000 records from one client. For each:
requests/s, rows/s, p50, p99 and errors (non-200 answers or broken connections), then the
ratios the targets are stated in. The load generator is a minimal asyncio HTTP/1.1 client in
this process, so clients and servers share the cores, as on a 2-core CI runner.

Run it from the project root once the pipeline has produced models/model.joblib (about 2 min):

    .venv/bin/python bench/serve.py
    .venv/bin/python bench/serve.py --seconds 5 --levels 1 8 64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
BATCH_ROWS = 1000
BATCH = f"{BATCH_ROWS} records"

# Targets.
MIN_THROUGHPUT_RATIO = 2.0  # service vs plain req/s, at the highest concurrency
MAX_P99_MS = 250.0  # service, at the highest concurrency
MIN_BATCH_SHARE = 0.5  # service vs in-process rows/s, on 1,000-record requests
MAX_EXTRA_P50_MS = 5.0  # service p50 at one client minus in-process one-row p50


@dataclass
class Load:
    seconds: float
    rows: int = 1  # per request
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: float = float("nan")  # CPU seconds the server's processes used meanwhile

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Server CPU time per request: unlike latency, barely affected by other load on the machine."""
        return self.cpu / len(self.latencies) * 1000 if self.latencies else float("nan")

    def ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


def combined(loads: list[Load]) -> Load:
    """The rounds of one measurement as one load."""
    return Load(
        seconds=sum(load.seconds for load in loads),
        rows=loads[0].rows,
        latencies=[latency for load in loads for latency in load.latencies],
        errors=sum(load.errors for load in loads),
        cpu=sum(load.cpu for load in loads),
    )


def records(rows: int) -> list[dict[str, Any]]:
    """Feature rows like reports/sample_request.json's, from the example data generator."""
    from mlops.data.example_data import generate
    from mlops.data.schema import load_schema, resolve_features
    from mlops.params import load_params

    features = resolve_features(load_schema(ROOT / "schema.yaml"), load_params(ROOT / "params.yaml").data)
    frame = generate(rows, seed=11)[list(features.all)]
    return json.loads(frame.to_json(orient="records"))


def in_process(model_path: Path) -> Callable[[list[dict[str, Any]], float], Load]:
    """A timer of in-process predict on records, one OpenMP thread like each service worker."""
    import joblib
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mlops.pipeline.model import predict

    threadpool_limits(1)
    model = joblib.load(model_path)

    def measure(rows: list[dict[str, Any]], seconds: float) -> Load:
        predict(model, pd.DataFrame(rows))
        load, start, cpu = Load(seconds, len(rows)), time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            begin = time.perf_counter()
            predict(model, pd.DataFrame(rows))
            load.latencies.append(time.perf_counter() - begin)
        load.cpu = time.process_time() - cpu
        return load

    return measure


async def _client(port: int, body: bytes, until: float, load: Load) -> None:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                writer.write(head + body)
                status = await _status(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                load.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            load.latencies.append(time.perf_counter() - start)
            load.errors += status != 200
    finally:
        writer.close()


async def _status(reader: asyncio.StreamReader) -> int:
    """Read one response; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1])


def run_load(
    port: int,
    body: bytes,
    clients: int,
    seconds: float,
    rows: int = 1,
    process: subprocess.Popen | None = None,
) -> Load:
    """Closed loop: ``clients`` connections, each sending its next request when answered."""
    load = Load(seconds, rows)

    async def main() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, body, until, load) for _ in range(clients)))

    before = cpu_seconds(process)
    asyncio.run(main())
    load.cpu = cpu_seconds(process) - before
    return load


def cpu_seconds(process: subprocess.Popen | None) -> float:
    """User plus system CPU seconds of a process and its children so far."""
    import psutil

    if process is None:
        return float("nan")
    total = 0.0
    for proc in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


class Server(NamedTuple):
    port: int
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run a server until the block ends."""
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_answering(port: int, body: bytes, process: subprocess.Popen, log: Path) -> None:
    end = time.monotonic() + 180
    while time.monotonic() < end:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}; see {log}")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            load = run_load(port, body, 1, 0.01)
            if load.latencies and not load.errors:
                return
        time.sleep(0.5)
    sys.exit(f"server did not answer on port {port} within 180 s; see {log}")


def plain_app(model_path: Path):
    """The baseline: a minimal FastAPI endpoint around the same model and predict function."""
    import joblib
    import pandas as pd
    from fastapi import FastAPI

    from mlops.pipeline.model import predict

    model = joblib.load(model_path)
    app = FastAPI()

    @app.post("/predict")
    def predict_endpoint(body: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        labels, proba = predict(model, pd.DataFrame(body["records"]))
        return {"predictions": labels.tolist(), "probabilities": None if proba is None else proba.tolist()}

    return app


def serve_plain(model_path: Path, port: int) -> None:
    import uvicorn

    uvicorn.run(plain_app(model_path), host=HOST, port=port, log_level="warning")


def start(stack: contextlib.ExitStack, model: Path, work: Path, body: bytes) -> dict[str, Server]:
    """Start both servers (they load in parallel) and wait until each answers ``body``."""
    env = {"BENTOML_DO_NOT_TRACK": "True", "OMP_NUM_THREADS": "1"}
    ports = {"plain": free_port(), "service": free_port()}
    commands = {
        "plain": [sys.executable, __file__, "--model", str(model), "--plain-server", str(ports["plain"])],
        "service": [str(VENV_BIN / "bentoml"), "serve", "mlops.serving.service:Model", "--host", HOST],
    }
    commands["service"] += ["--port", str(ports["service"])]
    env_service = {"MODEL_PATH": str(model.resolve()), "PREDICTION_LOG_DIR": str(work / "monitoring")}
    servers = {}
    for name, command in commands.items():
        extra = env_service if name == "service" else {}
        process = stack.enter_context(server(command, {**env, **extra}, work / f"{name}.log"))
        servers[name] = Server(ports[name], process)
    for name, (port, process) in servers.items():
        wait_until_answering(port, body, process, work / f"{name}.log")
    return servers


def measure(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Load]]:
    """Every load on in-process predict (where it applies), the plain endpoint and the service."""
    one, many = records(1), records(BATCH_ROWS)
    single, batch = (json.dumps({"records": r}).encode() for r in (one, many))
    timer = in_process(args.model)
    results: dict[str, dict[str, Load]] = {"in-process": {}, "plain": {}, "service": {}}
    with contextlib.ExitStack() as stack:
        servers = start(stack, args.model, work, single)
        for port, _ in servers.values():  # warm up
            run_load(port, single, 8, 1.0)
            run_load(port, batch, 1, 1.0, BATCH_ROWS)
        for clients in args.levels:
            runs: dict[str, tuple[str, Callable[[float], Load]]] = {
                name: (
                    f"{clients} clients",
                    functools.partial(run_load, port, single, clients, rows=1, process=process),
                )
                for name, (port, process) in servers.items()
            }
            if clients == 1:
                runs["in-process"] = ("1 row", functools.partial(timer, one))
            take_turns(runs, args.seconds, args.rounds, results)
        runs = {
            name: (BATCH, functools.partial(run_load, port, batch, 1, rows=BATCH_ROWS, process=process))
            for name, (port, process) in servers.items()
        }
        runs["in-process"] = (BATCH, functools.partial(timer, many))
        take_turns(runs, args.seconds, args.rounds, results)
    return results


def take_turns(
    runs: dict[str, tuple[str, Callable[[float], Load]]],
    seconds: float,
    rounds: int,
    results: dict[str, dict[str, Load]],
) -> None:
    """Run each of ``runs`` for ``seconds`` in all, in ``rounds`` turns; file them under their label."""
    parts: dict[str, list[Load]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (_, run) in runs.items():
            parts[name].append(run(seconds / rounds))
    for name, (label, _) in runs.items():
        results[name][label] = combined(parts[name])


def report(results: dict[str, dict[str, Load]]) -> None:
    print(
        f"\n  {'load':<14}{'server':<12}{'req/s':>9}{'rows/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'CPU ms/req':>12}"
    )
    loads = {label: None for runs in results.values() for label in runs}
    for label in sorted(loads, key=lambda x: (x.endswith("records"), int(x.split()[0]))):
        for name, runs in results.items():
            if (load := runs.get(label)) is not None:
                print(
                    f"  {label:<14}{name:<12}{load.rate:>9.1f}{load.rate * load.rows:>10.0f}"
                    f"{load.ms(50):>9.1f}{load.ms(99):>9.1f}{load.errors:>8}{load.cpu_ms:>12.2f}"
                )


def verdict(results: dict[str, dict[str, Load]], levels: list[int]) -> None:
    service, plain, local = results["service"], results["plain"], results["in-process"]
    print(
        "\nservice / plain req/s: "
        + ", ".join(
            f"{n} clients {service[f'{n} clients'].rate / plain[f'{n} clients'].rate:.2f}x" for n in levels
        )
    )
    busy = service[f"{levels[-1]} clients"]
    ratio = busy.rate / plain[f"{levels[-1]} clients"].rate
    share = service[BATCH].rate / local[BATCH].rate
    checks = [
        (f"{levels[-1]} clients: service / plain req/s", f"{ratio:.2f}x", ratio >= MIN_THROUGHPUT_RATIO),
        (f"{levels[-1]} clients: service errors", str(busy.errors), busy.errors == 0),
        (f"{levels[-1]} clients: service p99", f"{busy.ms(99):.0f} ms", busy.ms(99) < MAX_P99_MS),
        (f"{BATCH}: service / in-process rows/s", f"{share:.2f}", share >= MIN_BATCH_SHARE),
    ]
    if "1 clients" in service:
        extra = service["1 clients"].ms(50) - local["1 row"].ms(50)
        checks.append(
            ("1 client: service p50 - in-process p50", f"{extra:+.1f} ms", extra <= MAX_EXTRA_P50_MS)
        )
    print("targets")
    for name, value, ok in checks:
        print(f"  {'met   ' if ok else 'MISSED'} {name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "model.joblib")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each load (default 8)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 64], help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=4, help="turns each load is split into (default 4)")
    parser.add_argument("--plain-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_server:
        return serve_plain(args.model, args.plain_server)
    if not args.model.is_file():
        sys.exit(f"{args.model} not found; run `make run` first.")
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before", flush=True)
    results = measure(args, work)
    shutil.rmtree(work / "monitoring", ignore_errors=True)  # the prediction log: tens of MB
    print(f"load average {os.getloadavg()[0]:.2f} after; server logs in {work}")
    report(results)
    verdict(results, args.levels)


if __name__ == "__main__":
    main()
