"""A change on a branch is compared with the run committed on main."""

from __future__ import annotations

import json

import pytest
import yaml
from pipeline_project import NEW_LEARNING_RATE, Completed

pytestmark = pytest.mark.integration


def test_branch_report_compares_metrics_and_params_with_main(branch_run: Completed):
    project, result = branch_run.project, branch_run.result
    gate = json.loads(project.file("reports/gate.json").read_text())
    assert result.returncode == (0 if gate["verdict"] == "pass" else 1), result.output
    assert "Traceback" not in result.stderr
    # Only the stages that read model params rerun.
    assert "Running stage 'train'" in result.stdout
    assert "Running stage 'validate_model'" in result.stdout
    assert "Running stage 'validate_data'" not in result.stdout
    assert "Running stage 'split'" not in result.stdout

    main_params = yaml.safe_load(project.git("show", "main:params.yaml").stdout)
    old_rate = main_params["model"]["hyperparameters"]["learning_rate"]
    assert old_rate != NEW_LEARNING_RATE
    main = json.loads(project.git("show", "main:reports/metrics.json").stdout)["test"]["roc_auc"]
    now = json.loads(project.file("reports/metrics.json").read_text())["test"]["roc_auc"]
    assert main != now
    assert gate["baseline"] == main
    assert any(r["text"].startswith(f"test roc_auc {now:.4f} vs main {main:.4f}") for r in gate["reasons"])

    report = project.file("reports/report.md").read_text()
    assert report.startswith("## ✅ Model gate: PASS\n" if gate["verdict"] == "pass" else "## ❌")
    assert "No baseline" not in report
    assert f"| **roc_auc** (gate) | {main:.4f} | {now:.4f} | {now - main:+.4f} |" in report
    assert f"| `model.hyperparameters.learning_rate` | {old_rate} | {NEW_LEARNING_RATE} |" in report
    assert "| `model.hyperparameters.max_iter` |" not in report  # unchanged params are not listed
    assert "The data is the same as on main." in report
    assert "- baseline: `main` @ `" in report
