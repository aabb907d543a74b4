"""dvc.yaml lists every project module a stage imports, so that a change to one reruns the stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
IMPORTED = """
import pathlib, sys
import mlops.pipeline.{stage}
root = pathlib.Path.cwd()
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if module.__name__.startswith("mlops.") and not path.endswith("__init__.py"):
        print(pathlib.Path(path).relative_to(root))
"""


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_imported_module_is_a_dependency(stage: str):
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED.format(stage=stage)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = set(done.stdout.split())

    assert f"src/mlops/pipeline/{stage}.py" in imported
    assert imported - set(STAGES[stage]["deps"]) == set()
