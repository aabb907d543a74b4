"""A change is compared with main like for like: main's model on the same rows, or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from pipeline_project import FORK_FEATURES, Completed, Project
from sklearn.metrics import roc_auc_score

from mlops.errors import EXIT_GATE_FAILED
from mlops.hashes import out_md5

pytestmark = pytest.mark.integration


def _json(project: Project, relative: str):
    return json.loads(project.file(relative).read_text())


def _main(project: Project, relative: str):
    return yaml.safe_load(project.git("show", f"main:{relative}").stdout)


def _mains(project: Project, out: str) -> Path:
    """The DVC cache file of one of main's outputs, by the md5 main's dvc.lock records."""
    md5 = out_md5(_main(project, "dvc.lock"), out)
    return project.file(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}")


def _roc_auc(model, rows: pd.DataFrame) -> float:
    return roc_auc_score(rows["churned"], model.predict_proba(rows)[:, 1])


def test_worse_model_on_the_same_data_fails_on_the_drop_alone(worse_run: Completed):
    project, result = worse_run.project, worse_run.result
    assert result.returncode == EXIT_GATE_FAILED, result.output
    assert "Traceback" not in result.stderr
    # Only the stages that read model params rerun: same data, same split, same test set.
    assert "Running stage 'train'" in result.stdout
    assert "Running stage 'split'" not in result.stdout

    gate, comparison = _json(project, "reports/gate.json"), _json(project, "reports/baseline.json")
    main = _main(project, "reports/metrics.json")["test"]["roc_auc"]
    now = _json(project, "reports/metrics.json")["test"]["roc_auc"]
    assert comparison["basis"] == "same test set"
    assert gate["baseline"] == main and now >= 0.5 and main - now > 0.02
    minimum, drop = gate["reasons"][:2]
    assert minimum == {"passed": True, "text": f"test roc_auc {now:.4f} ≥ minimum 0.5"}
    assert drop["passed"] is False
    assert drop["text"].startswith(
        f"test roc_auc {now:.4f} vs main {main:.4f} (main's committed metrics on the same test set): "
        f"change {now - main:+.4f}"
    )

    report = project.file("reports/report.md").read_text()
    assert report.startswith("## ❌ Model gate: FAIL\n")
    assert f"| **roc_auc** (gate) | {main:.4f} | {now:.4f} | {now - main:+.4f} |" in report
    assert "| `model.hyperparameters.max_iter` | 20 | 2 |" in report
    assert "| `model.hyperparameters.learning_rate` |" not in report  # unchanged params are not listed
    assert "The data is the same as on main." in report
    assert "this change first, main's model second" in report


def test_new_data_is_compared_with_mains_model_on_the_new_test_set(next_month_run: Completed):
    project, result = next_month_run.project, next_month_run.result
    assert result.returncode in (0, EXIT_GATE_FAILED), result.output
    assert "Running stage 'split'" in result.stdout

    comparison = _json(project, "reports/baseline.json")
    assert comparison["basis"] == "rescored"
    md5 = next(out["md5"] for out in _main(project, "dvc.lock")["stages"]["train"]["outs"])
    assert comparison["model_md5"] == md5 != project.md5("models/model.joblib")
    # Main's model, from DVC's cache by the md5 main's dvc.lock records, on this change's test set.
    champion = joblib.load(project.file(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}"))
    test = pd.read_parquet(project.file("artifacts/test.parquet"))
    expected = roc_auc_score(test["churned"], champion.predict_proba(test)[:, 1])
    main = comparison["metrics"]["test"]["roc_auc"]
    assert main == pytest.approx(expected, abs=1e-5)
    assert main != _main(project, "reports/metrics.json")["test"]["roc_auc"]  # not main's old numbers

    # A time split: the new test rows are all later than main's training rows, so none is left out.
    assert (comparison["rows"], comparison["excluded"]) == (len(test), 0)
    assert comparison["challenger_metrics"] is None

    gate = _json(project, "reports/gate.json")
    now = gate["value"]
    assert gate["baseline"] == main
    assert gate["reasons"][1]["text"].startswith(
        f"test roc_auc {now:.4f} vs main {main:.4f} (main's model on this test set's {len(test)} rows, "
        "none of which it trained on)"
    )
    report = project.file("reports/report.md").read_text()
    assert f'The "main" column is main\'s model (`{md5[:12]}`, from `main` @ `' in report
    assert f"| **roc_auc** (gate) | {main:.4f} | {now:.4f} |" in report
    assert report.count("    line [") == 5  # main's ROC and PR curves drawn on the same rows


def test_fork_with_its_own_table_is_not_failed_on_the_examples_numbers(fork_run: Completed):
    project, result = fork_run.project, fork_run.result
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.stderr

    gate = _json(project, "reports/gate.json")
    main = _main(project, "reports/metrics.json")["test"]["roc_auc"]
    assert gate["verdict"] == "pass"
    assert gate["value"] < main - 0.02  # the old comparison would have failed it
    assert gate["baseline"] is None
    drop = gate["reasons"][1]
    assert drop["passed"] is True
    assert drop["text"].startswith(
        "not compared with main: main's model uses column(s) this change's data lacks: "
    )
    assert drop["text"].endswith(", so the comparison is skipped")

    report = project.file("reports/report.md").read_text()
    assert "Not compared with main: main's model uses column(s) this change's data lacks" in report
    assert f"| **roc_auc** (gate) | — | {gate['value']:.4f} | — |" in report
    assert "this change first, main's model second" not in report
    assert report.count("    line [") == 3  # this change's curves only
    schema = yaml.safe_load(project.file("schema.yaml").read_text())["columns"]
    assert set(schema) == {*FORK_FEATURES, "churned"}


def test_a_new_split_is_compared_on_the_test_rows_main_never_trained_on(resplit_run: Completed):
    """Main's run committed, then only the split changes (the audit's case was a new split.seed). Most
    of the new test set was main's training set; both models are compared on the rest only."""
    project, result = resplit_run.project, resplit_run.result
    assert result.returncode == 0, result.output
    assert "Running stage 'split'" in result.stdout

    comparison = _json(project, "reports/baseline.json")
    assert comparison["basis"] == "rescored"
    test = pd.read_parquet(project.file("artifacts/test.parquet"))
    main_train = pd.read_parquet(_mains(project, "artifacts/train.parquet"))
    unseen = test[~test["customer_id"].isin(main_train["customer_id"])]
    rows = comparison["rows"]
    assert rows == len(unseen) >= 30 and comparison["excluded"] == len(test) - rows > 0

    champion = joblib.load(_mains(project, "models/model.joblib"))
    challenger = joblib.load(project.file("models/model.joblib"))
    main, ours = comparison["metrics"]["test"]["roc_auc"], comparison["challenger_metrics"]["test"]["roc_auc"]
    assert main == pytest.approx(_roc_auc(champion, unseen), abs=1e-5)
    assert ours == pytest.approx(_roc_auc(challenger, unseen), abs=1e-5)

    gate = _json(project, "reports/gate.json")
    assert gate["verdict"] == "pass"
    # The old comparison: main's model on the whole test set, much of which it trained on.
    assert gate["value"] < _roc_auc(champion, test) - 0.02
    drop = gate["reasons"][1]
    assert drop["passed"] is True
    assert drop["text"].startswith(
        f"test roc_auc {ours:.4f} vs main {main:.4f} (main's model and this change's on the {rows:,} test "
        "rows main never trained on): change "
    )
