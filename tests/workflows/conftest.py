"""Start the workflow tests' baseline project as soon as the tests are collected, so that its
pipeline run (one core, about 45 s) overlaps the tests that run before tests/workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        if item.path.parent == HERE and "project" in item.fixturenames:
            item.module.start_baseline()
            return
