"""Smoke-test a running model service: ready, the sample answered, a bad body rejected, a short load.

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


def smoke(
    base: str, sample: dict[str, Any], load: int = 200, clients: int = 8, wait: float = 120
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
        statuses = list(pool.map(lambda _: post(f"{base}/predict", body)[0], range(load)))
    errors = sum(code != 200 for code in statuses)
    if errors:
        problems.append(f"{errors} of {load} requests under load ({clients} clients) got no 200")
    return problems


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("url", help="the service's base URL")
    parser.add_argument("sample", type=Path, help="a valid request body, e.g. reports/sample_request.json")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for /readyz")
    args = parser.parse_args()
    problems = smoke(args.url.rstrip("/"), json.loads(args.sample.read_text()), wait=args.wait)
    if problems:
        raise UserError(f"The service at {args.url} failed its smoke test: " + "; ".join(problems) + ".")
    print(f"smoke test passed: {args.url}")


if __name__ == "__main__":
    main()
