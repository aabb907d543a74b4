"""Smoke- and load-test a running model service before it takes traffic.

Ready, the sample answered with one prediction per record, a bad body rejected with a 4xx, then a
short load: ``--requests`` sample requests from ``--clients`` concurrent clients, which must all get
200 with a 99th-percentile latency under ``--max-p99-ms`` (the service's target, bench/README.md).

Usage: python -m mlops.serving.smoke http://127.0.0.1:3000 reports/sample_request.json
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlops.errors import UserError, cli
from mlops.jsonfile import read_json


def post(url: str, body: bytes) -> tuple[int, Any]:
    """Status code and parsed JSON (or None) of a POST; status 0 when no answer came."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return 0, None


def wait_ready(base: str, seconds: float) -> bool:
    """Poll /readyz until it answers 200 or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    return False


def timed_post(url: str, body: bytes) -> tuple[int, float]:
    """Status code and latency in milliseconds of a POST."""
    start = time.perf_counter()
    status, _ = post(url, body)
    return status, (time.perf_counter() - start) * 1000


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def smoke(
    base: str,
    sample: dict[str, Any],
    load: int = 200,
    clients: int = 8,
    wait: float = 120,
    max_p99_ms: float | None = None,
) -> list[str]:
    """Every problem found; an empty list means the service is fit to take traffic."""
    if not wait_ready(base, wait):
        return [f"{base}/readyz did not answer 200 within {wait:.0f} s"]
    problems = []
    body = json.dumps(sample).encode()
    status, answer = post(f"{base}/predict", body)
    if status != 200 or len((answer or {}).get("predictions", [])) != len(sample["records"]):
        problems.append(f"the sample request got {status} and {answer!r}, not one prediction per record")
    status, _ = post(f"{base}/predict", b'{"records": [{"no_such_column": 1}]}')
    if not 400 <= status < 500:
        problems.append(f"a body with an unknown column got {status}, not a 4xx")
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(lambda _: timed_post(f"{base}/predict", body), range(load)))
    errors = sum(code != 200 for code, _ in answers)
    latencies = [ms for _, ms in answers]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"load: {load} requests, {clients} clients: {errors} errors, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    if errors:
        problems.append(f"{errors} of {load} requests under load ({clients} clients) got no 200")
    if max_p99_ms is not None and p99 > max_p99_ms:
        problems.append(
            f"under load ({clients} clients) the p99 latency was {p99:.0f} ms, over {max_p99_ms:g} ms"
        )
    return problems


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("url", help="the service's base URL")
    parser.add_argument("sample", type=Path, help="a valid request body, e.g. reports/sample_request.json")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for /readyz")
    parser.add_argument("--requests", type=int, default=200, help="requests in the load test")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the load test")
    parser.add_argument("--max-p99-ms", type=float, help="fail when the p99 latency under load is higher")
    args = parser.parse_args()
    sample = read_json(args.sample)
    problems = smoke(args.url.rstrip("/"), sample, args.requests, args.clients, args.wait, args.max_p99_ms)
    if problems:
        raise UserError(f"The service at {args.url} failed its smoke test: " + "; ".join(problems) + ".")
    print(f"smoke test passed: {args.url}")


if __name__ == "__main__":
    main()
