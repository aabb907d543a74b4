"""Shared fixtures: the real params.yaml shrunk to test sizes, and a small synthetic churn table."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from mlops.data import example_data
from mlops.params import Params, parse_params

ROOT = Path(__file__).resolve().parents[1]

# Only sizes are overridden; every other value comes from the real params.yaml, so a renamed key
# or a changed default shows up in the tests.
SIZES = {
    ("validation", "n_samples"): 200,
    ("model", "hyperparameters", "max_iter"): 20,
}


def shrink(raw: dict) -> dict:
    """Set the size params to SIZES in place (each key must already exist) and return ``raw``."""
    for path, value in SIZES.items():
        node = raw
        for key in path[:-1]:
            node = node[key]
        assert path[-1] in node, f"params.yaml has no {'.'.join(path)}; update SIZES in tests/conftest.py"
        node[path[-1]] = value
    return raw


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread():
    """scikit-learn's OpenMP threads spin for ages on a busy 2-core machine; one thread is faster."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def small_params_raw() -> dict:
    """The repository's params.yaml, shrunk. Read-only: deep-copy before changing it."""
    return shrink(yaml.safe_load((ROOT / "params.yaml").read_text()))


@pytest.fixture
def raw_params(small_params_raw: dict) -> dict:
    """A private, changeable copy of the shrunk params.yaml mapping."""
    return copy.deepcopy(small_params_raw)


@pytest.fixture
def params(raw_params: dict) -> Params:
    return parse_params(raw_params)


@pytest.fixture(scope="session")
def _churn() -> pd.DataFrame:
    return example_data.generate(rows=600)


@pytest.fixture
def churn(_churn: pd.DataFrame) -> pd.DataFrame:
    """A small synthetic churn table with the example's columns (a private copy)."""
    return _churn.copy()
