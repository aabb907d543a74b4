"""The deploy smoke test must fail a service that is not fit for traffic, with a clear message."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops.serving.smoke import smoke

SAMPLE = {"records": [{"age": 30.0}, {"age": 40.0}]}


class AcceptsAnything(BaseHTTPRequestHandler):
    """A broken service: ready, and answers every POST with 200 and two predictions."""

    def do_GET(self) -> None:
        self._answer(200, {})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(200, {"predictions": [0, 1]})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def accepts_anything() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AcceptsAnything)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_service_that_accepts_a_bad_body_fails(accepts_anything: str):
    problems = smoke(accepts_anything, SAMPLE, load=10, clients=2, wait=5)
    assert problems == ["a body with an unknown column got 200, not a 4xx"]


def test_a_service_that_never_gets_ready_fails_without_a_traceback(accepts_anything: str):
    nothing_there = accepts_anything.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens
    assert smoke(nothing_there, SAMPLE, load=10, clients=2, wait=2) == [
        f"{nothing_there}/readyz did not answer 200 within 2 s"
    ]


def test_a_service_slower_than_the_latency_target_fails(accepts_anything: str, capsys):
    problems = smoke(
        accepts_anything,
        {"records": [{"age": 1.0}, {"age": 2.0}]},
        load=20,
        clients=2,
        wait=5,
        max_p99_ms=0.001,
    )
    assert problems[-1].startswith("under load (2 clients) the p99 latency was ")
    assert problems[-1].endswith(" ms, over 0.001 ms")
    assert "load: 20 requests, 2 clients: 0 errors, p50 " in capsys.readouterr().out


def test_percentile_is_the_nearest_rank():
    from mlops.serving.smoke import percentile

    assert percentile(list(range(1, 101)), 0.99) == 99
    assert percentile([5.0], 0.99) == 5.0
