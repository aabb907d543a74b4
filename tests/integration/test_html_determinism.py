"""The same inputs give a byte-identical Deepchecks HTML report, so dvc.lock stays the same on a rerun."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# The real data-integrity stage on a small table; saves the report and the titles of the checks it ran.
SCRIPT = """
import json, sys
from pathlib import Path
from mlops.data import example_data
from mlops.data.schema import load_schema
from mlops.params import load_params
from mlops.pipeline import suites, validate_data

params = load_params()
frame = example_data.generate(rows=400)
result = validate_data.integrity(frame, params.data, load_schema("schema.yaml"), params.validation)
suites.save_html(result, Path(sys.argv[1]))
Path(sys.argv[2]).write_text(json.dumps(sorted({r.get_header() for r in result.results})))
"""


def _start(html: Path, names: Path, hash_seed: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(html), str(names)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_difference(first: bytes, second: bytes) -> str:
    """Where two byte strings part, with some context (a 5 MB assert diff would be unreadable)."""
    at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    at = min(len(first), len(second)) if at is None else at
    return f"first difference at byte {at}: {first[at - 80 : at + 80]!r} vs {second[at - 80 : at + 80]!r}"


def _undefined_references(html: str) -> set[str]:
    """Ids that links, scripts or styles point to but no element defines."""
    defined = set(re.findall(r'\bid="([^"]+)"', html))
    linked = re.findall(r'href="#([^"]+)"', html)
    scripted = re.findall(r"getElementById\(['\"]([^'\"]+)['\"]\)", html)
    styled = re.findall(r"#(T_\w{5})\b", html)
    return set(linked + scripted + styled) - defined


def test_same_inputs_give_identical_html(tmp_path: Path):
    runs = [(tmp_path / f"{seed}.html", tmp_path / f"{seed}.json", seed) for seed in ("1", "2")]
    processes = [_start(*run) for run in runs]  # at once: each spends ~10 s importing Deepchecks
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
    first, second = (html.read_bytes() for html, _, _ in runs)
    assert first == second, _first_difference(first, second)

    text = first.decode()
    titles = json.loads(runs[0][1].read_text())
    assert len(titles) > 3
    assert [title for title in titles if title not in text] == []
    assert 'class="plotly-graph-div"' in text
    assert _undefined_references(text) == set()
