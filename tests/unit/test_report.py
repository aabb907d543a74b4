"""report.render: the verdict first, then metrics and params against main, data and Deepchecks."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from mlops.params import Features, Params
from mlops.review import champion
from mlops.review.gate import decide
from mlops.review.report import Provenance, Snapshot, ci_run_url, render


def _summary(suite: str, problems: list[dict], errored=(), skipped=()) -> dict:
    """A summary as mlops.pipeline.suites.summarize writes it."""
    return {
        "suite": suite,
        "counts": {"PASS": 5, "WARN": 1, "FAIL": 1, "ERROR": 0, "NOT RUN": len(errored)},
        "problems": problems,
        "errored": [{"check": check, "details": details} for check, details in errored],
        "skipped": [{"check": check, "reason": reason} for check, reason in skipped],
    }


def _problem(check: str, status: str, details: str = "details") -> dict:
    return {"check": check, "condition": f"{check} condition", "status": status, "details": details}


def snapshot(raw_params: dict, roc_auc: float, data_hash: str = "abc.dir") -> Snapshot:
    """What the report reads from a finished run, in the shapes the stages write."""
    return Snapshot(
        metrics={
            "train": {"roc_auc": roc_auc + 0.04, "f1": 0.5},
            "test": {"roc_auc": roc_auc, "f1": 0.45},
        },
        params=raw_params,
        data_summary={
            "profile": {
                "rows": 1500,
                "columns": ["customer_id", "age", "churned"],
                "missing_share": {},
                "target": {"0": 0.8, "1": 0.2},
            },
            "schema_warnings": ["column 'age' has 2 value(s) outside the schema range [18, 90]."],
            "deepchecks": _summary(
                "Data Integrity Suite", [_problem("Feature Feature Correlation", "FAIL", "a | b")]
            ),
        },
        data_hash=data_hash,
        plots={
            "roc": [{"fpr": x / 4, "tpr": min(1.0, x / 3)} for x in range(5)],
            "precision_recall": [{"recall": x / 4, "precision": 1 - x / 8} for x in range(5)],
            "calibration": [{"bin": "0.0-0.1", "predicted": 0.05, "observed": 0.04, "count": 10}],
            "feature_importance": [{"feature": "age", "importance": 0.1}],
            "confusion_matrix": {"labels": ["0", "1"], "matrix": [[100, 5], [20, 10]]},
        },
    )


MODEL_VALIDATION = {
    "train_test_validation": _summary("Train Test Validation Suite", []),
    "model_evaluation": _summary(
        "Model Evaluation Suite",
        [
            _problem("Simple Model Comparison", "FAIL"),
            _problem("Calibration Score", "NOT RUN", "it broke"),
        ],
        errored=[("Calibration Score", "it broke")],
        skipped=[("Boosting Overfit", "needs the model object")],
    ),
}


def provenance(baseline: bool) -> Provenance:
    return Provenance(
        commit="0123456789abcdef",
        dirty=True,
        baseline_ref="main" if baseline else None,
        baseline_commit="fedcba9876543210" if baseline else None,
        model_hash="d41d8cd98f00b204e9800998ecf8427e",
        timings={"train": 1.23},
    )


def comparison(base: Snapshot | None, basis: str = champion.RESCORED) -> dict:
    """champion.compare's result: main's model on this change's test set, or no comparison."""
    if base is None or base.metrics is None:
        return {
            "basis": champion.NONE,
            "reason": "main has no committed run yet, so there is nothing to compare with",
        }
    return {
        "basis": basis,
        "reason": "…",
        "ref": "main",
        "commit": "fedcba9876543210",
        "model_md5": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "metrics": {"test": base.metrics["test"]},
        "plots": {name: base.plots[name] for name in ("roc", "precision_recall")},
    }


def report(params: Params, current: Snapshot, base: Snapshot | None, **provenance_fields) -> str:
    compared = comparison(base)
    gate = decide(
        current.metrics,
        compared,
        [current.data_summary["deepchecks"], *MODEL_VALIDATION.values()],
        params.gate,
        params.validation,
    )
    prov = dataclasses.replace(provenance(base is not None), **provenance_fields)
    return render(gate, current, base, compared, MODEL_VALIDATION, prov)


def test_verdict_is_the_first_line(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), None)
    lines = text.splitlines()
    assert lines[0] == "## ✅ Model gate: PASS"
    assert lines[2] == "- ✅ test roc_auc 0.8200 ≥ minimum 0.75"


def test_failed_verdict_is_the_first_line_with_the_reason(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.70), None)
    assert text.startswith("## ❌ Model gate: FAIL\n")
    assert "- ❌ test roc_auc 0.7000 < minimum 0.75" in text


def test_without_baseline_the_report_says_so(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), None)
    assert (
        "Not compared with main: main has no committed run yet, so there is nothing to compare with." in text
    )
    assert "No baseline params on main to compare with." in text
    assert "| **roc_auc** (gate) | — | 0.8200 | — |" in text
    assert "- baseline: none" in text


def test_metrics_deltas_against_main(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.80))
    assert "Not compared" not in text
    assert (
        'The "main" column is main\'s model (`0a1b2c3d4e5f`, from `main` @ `fedcba987654`) scored on '
        "this change's test set, none of whose rows it trained on: like for like."
    ) in text
    assert "| metric | main | this change | change |" in text
    assert "| **roc_auc** (gate) | 0.8000 | 0.8200 | +0.0200 |" in text
    assert "| f1 | 0.4500 | 0.4500 | +0.0000 |" in text
    assert "Train-set roc_auc: 0.8600" in text
    assert "- baseline: `main` @ `fedcba987654`" in text


def test_params_diff_table_lists_only_changed_params(params: Params, raw_params: dict):
    base_params = copy.deepcopy(raw_params)
    raw_params["model"]["hyperparameters"]["learning_rate"] = 0.1
    raw_params["gate"]["min"] = 0.7
    text = report(params, snapshot(raw_params, 0.82), snapshot(base_params, 0.80))
    old_rate = base_params["model"]["hyperparameters"]["learning_rate"]
    assert "| param | main | this change |" in text
    assert f"| `model.hyperparameters.learning_rate` | {old_rate} | 0.1 |" in text
    assert "| `gate.min` | 0.75 | 0.7 |" in text
    assert "`split.seed`" not in text


def test_same_params_and_data_as_main(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.82))
    assert "Same params as main." in text
    assert "The data is the same as on main." in text


def test_added_param_shows_a_dash_for_main(params: Params, raw_params: dict):
    base_params = copy.deepcopy(raw_params)
    raw_params["model"]["hyperparameters"]["l2_regularization"] = 1.0
    text = report(params, snapshot(raw_params, 0.82), snapshot(base_params, 0.82))
    assert "| `model.hyperparameters.l2_regularization` | — | 1.0 |" in text


def test_main_with_params_but_no_metrics_yet(params: Params, raw_params: dict):
    base = snapshot(copy.deepcopy(raw_params), 0.8)
    base = Snapshot(params=base.params, data_summary=None, data_hash=None)
    text = report(params, snapshot(raw_params, 0.82), base)
    assert "Not compared with main: main has no committed run yet" in text
    assert "Same params as main." in text


def test_deepchecks_section(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), None)
    assert (
        "15 pass, 3 warn, 3 fail, 0 error conditions; 1 check(s) errored, 1 skipped on purpose; "
        "across Data Integrity Suite"
    ) in text
    # Cells are escaped so a '|' in Deepchecks' details does not break the table.
    row = "| Feature Feature Correlation | FAIL | no | Feature Feature Correlation condition | a \\| b |"
    assert row in text
    assert "| Simple Model Comparison | FAIL | no |" in text
    assert "- ⚠️ Calibration Score (Model Evaluation Suite): it broke" in text
    assert "- Boosting Overfit (Model Evaluation Suite): needs the model object" in text


def test_only_failures_of_blocking_checks_block(params: Params, raw_params: dict):
    """D9: a blocking check's WARN does not block (the gate counts FAIL and ERROR only)."""
    check = "Feature Label Correlation Change"
    assert check in params.validation.blocking_checks
    validation = {
        "train_test_validation": _summary(
            "Train Test Validation Suite",
            [
                _problem(check, "WARN") | {"condition": "Train-Test PPS difference is less than 0.2"},
                _problem(check, "FAIL") | {"condition": "Train features' PPS is less than 0.99"},
                _problem("Feature Drift", "FAIL"),
            ],
        )
    }
    current = snapshot(raw_params, 0.82)
    gate = decide(
        current.metrics, comparison(None), list(validation.values()), params.gate, params.validation
    )
    text = render(gate, current, None, comparison(None), validation, provenance(False))
    assert f"| {check} | WARN | no |" in text
    assert f"| {check} | FAIL | yes |" in text
    assert "| Feature Drift | FAIL | no |" in text


def test_single_dataset_checks_say_train_or_test(params: Params, raw_params: dict):
    """N2: Deepchecks runs a single-dataset check on train, then on test; the rows say which."""
    unused, weak = _problem("Unused Features", "WARN"), _problem("Weak Segments Performance", "WARN")
    problems = [unused | {"dataset": "train"}, _problem("Simple Model Comparison", "FAIL")]
    validation = {
        "model_evaluation": _summary(
            "Model Evaluation Suite", [*problems, unused | {"dataset": "test"}, weak]
        )
    }
    current = snapshot(raw_params, 0.82)
    gate = decide(
        current.metrics, comparison(None), list(validation.values()), params.gate, params.validation
    )
    text = render(gate, current, None, comparison(None), validation, provenance(False))
    assert "| Unused Features (train set) | WARN | no |" in text
    assert "| Unused Features (test set) | WARN | no |" in text
    assert "| Simple Model Comparison | FAIL | no |" in text
    assert "| Weak Segments Performance | WARN | no |" in text  # once: which set is unknown
    recorded = {"model_evaluation": _summary("Model Evaluation Suite", [weak | {"dataset": "test"}])}
    text = render(gate, current, None, comparison(None), recorded, provenance(False))
    assert "| Weak Segments Performance (test set) | WARN | no |" in text


def test_data_section_and_provenance(params: Params, raw_params: dict):
    text = report(params, snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.8, "old.dir"))
    assert "| rows | 1,500 | 1,500 |" in text
    assert "| data hash | `old.dir` | `abc.dir` |" in text
    assert "| target `1` | 0.2000 | 0.2000 |" in text
    assert "- ⚠️ column 'age' has 2 value(s) outside the schema range [18, 90]." in text
    assert "- commit: `0123456789ab` + uncommitted changes" in text
    assert "- model hash (md5 of models/model.joblib): `d41d8cd98f00b204e9800998ecf8427e`" in text
    assert "train 1.2 s" in text


@pytest.mark.parametrize("with_base", [False, True])
def test_charts_are_mermaid(params: Params, raw_params: dict, with_base: bool):
    base = snapshot(copy.deepcopy(raw_params), 0.8) if with_base else None
    text = report(params, snapshot(raw_params, 0.82), base)
    assert text.count("```mermaid") == text.count("xychart-beta") == 4  # ROC, PR, calibration, importance
    assert 'title "ROC (test set)"' in text
    assert "| actual \\ predicted | `0` | `1` |" in text
    overlay = "_ROC and precision-recall: this change first, main's model second, on the same rows._"
    assert (overlay in text) is with_base
    assert text.count("    line [") == (5 if with_base else 3)  # main's ROC and PR on the same rows
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_rows_main_trained_on_are_left_out_of_both_columns_and_curves(params: Params, raw_params: dict):
    current, base = snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.9)
    compared = comparison(base) | {
        "rows": 138,
        "excluded": 58,
        "challenger_metrics": {"test": {"roc_auc": 0.74, "f1": 0.4}},
        "challenger_plots": {
            "roc": [{"fpr": x / 4, "tpr": x / 4} for x in range(5)],
            "precision_recall": [{"recall": x / 4, "precision": 0.5} for x in range(5)],
        },
    }
    gate = decide(current.metrics, compared, [], params.gate, params.validation)
    text = render(gate, current, base, compared, MODEL_VALIDATION, provenance(True))
    assert (
        'The "main" and "this change" columns are main\'s model (`0a1b2c3d4e5f`, from `main` @ '
        "`fedcba987654`) and this change's, both on the 138 rows of this change's test set main never "
        "trained on (58 rows main trained on are left out): like for like."
    ) in text
    assert "| metric | main | this change | change | this change, whole test set |" in text
    assert "| **roc_auc** (gate) | 0.9000 | 0.7400 | -0.1600 | 0.8200 |" in text
    assert 'title "ROC (the 138 test rows main never trained on)"' in text
    assert "    line [0.0, 0.25, 0.5, 0.75, 1.0]" in text  # this change's ROC on those rows
    assert "on the same the 138 test rows" not in text
    assert "main's model second, on the same 138 test rows main never trained on._" in text


def test_same_test_set_basis_is_stated(params: Params, raw_params: dict):
    base = snapshot(copy.deepcopy(raw_params), 0.8)
    compared = comparison(base, champion.SAME_TEST_SET)
    gate = decide(base.metrics, compared, [], params.gate, params.validation)
    text = render(gate, snapshot(raw_params, 0.8), base, compared, MODEL_VALIDATION, provenance(True))
    assert (
        'The "main" column holds the metrics committed on `main` @ `fedcba987654`: same data and split, '
        "so the same test set."
    ) in text
    assert "| **roc_auc** (gate) | 0.8000 | 0.8000 | +0.0000 |" in text


def test_missing_values_are_shown_next_to_mains(params: Params, raw_params: dict):
    current, base = snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.8)
    current.data_summary["profile"]["columns"] += ["plan", "region"]
    current.data_summary["profile"]["missing_share"] = {"age": 0.125, "plan": 0.01, "region": 0.02}
    base.data_summary["profile"]["columns"] += ["plan", "tenure"]
    base.data_summary["profile"]["missing_share"] = {"age": 0.1, "tenure": 0.3}
    text = report(params, current, base)
    assert "| missing values in | main | this change |" in text
    assert "| `age` | 10.0% | 12.5% |" in text
    assert "| `plan` | 0.0% | 1.0% |" in text
    assert "| `region` | — | 2.0% |" in text  # main's data has no such column
    assert "`tenure`" not in text.split("| missing values in")[1]  # a column this table lacks
    assert "No missing values." in report(params, snapshot(raw_params, 0.82), None)


def test_no_missing_values_here_but_some_on_main(params: Params, raw_params: dict):
    current, base = snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.8)
    base.data_summary["profile"]["missing_share"] = {"age": 0.1}
    text = report(params, current, base)
    assert "No missing values; main had some:\n\n| missing values in | main | this change |" in text
    assert "| `age` | 10.0% | 0.0% |" in text


def test_a_fork_s_own_table_is_not_shown_against_the_example_s_numbers(params: Params, raw_params: dict):
    """D8: wine (multiclass 0/1/2, no missing values) on a fork whose main holds the churn example."""
    base = snapshot(copy.deepcopy(raw_params), 0.8)
    base.data_summary["profile"] |= {
        "rows": 20000,
        "columns": ["customer_id", "avg_session_minutes", "churned"],
        "missing_share": {"avg_session_minutes": 0.051},
        "target": {"0": 0.8063, "1": 0.1938},
    }
    raw_params["data"] |= {"task": "multiclass", "target": "target", "id_column": None}
    current = snapshot(raw_params, 0.82)
    current.data_summary["profile"] |= {
        "rows": 178,
        "columns": ["alcohol", "hue", "target"],
        "target": {"0": 0.3315, "1": 0.3989, "2": 0.2697},
    }
    text = report(params, current, base)
    assert "| rows | 20,000 | 178 |" in text
    assert "| target `0` | — | 0.3315 |" in text
    assert "| target `2` | — | 0.2697 |" in text
    assert (
        "Target not compared with main: main's target is `churned` (binary) and this change's `target` "
        "(multiclass)."
    ) in text
    assert "avg_session_minutes` |" not in text
    assert "No missing values." in text


def test_a_class_only_main_has_shows_a_dash(params: Params, raw_params: dict):
    current, base = snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.8)
    base.data_summary["profile"]["target"] = {"0": 0.7, "1": 0.2, "2": 0.1}
    text = report(params, current, base)
    assert "| target `0` | 0.7000 | 0.8000 |" in text
    assert "| target `2` | 0.1000 | — |" in text
    assert "Target not compared" not in text


def test_features_used_and_columns_left_out(params: Params, raw_params: dict):
    """N7: a date that is not data.datetime_column is inferred as text, and the report says it is unused."""
    current = snapshot(raw_params, 0.82)
    columns = ["customer_id", "signup_date", "age", "visits", "plan", "listed_on", "note", "churned"]
    current.data_summary["profile"]["columns"] = columns
    kinds = ["text", "datetime", "numeric", "numeric", "categorical", "text", "text", "numeric"]
    schema = {column: {"kind": kind} for column, kind in zip(columns, kinds, strict=True)}
    current = dataclasses.replace(
        current, schema=schema, features=Features(numeric=("age", "visits"), categorical=("plan",))
    )
    text = report(params, current, None)
    assert (
        "Features used (3): numeric `age`, `visits`; categorical `plan`. Not used: "
        "`customer_id` (id column); "
        "`signup_date` (datetime column, for the split); `listed_on`, `note` (inferred as text)."
    ) in text
    raw_params["data"]["features"] = {"numeric": ["age"], "categorical": []}
    current = dataclasses.replace(current, features=Features(numeric=("age",)))
    text = report(params, current, None)
    assert "Features used (1): numeric `age`; categorical none." in text
    assert "`visits`, `plan`, `listed_on`, `note` (not in data.features)." in text
    assert "Features used" not in report(params, snapshot(raw_params, 0.82), None)  # no schema.yaml


def test_params_are_shown_as_yaml(params: Params, raw_params: dict):
    """N3: null and [age, visits], as params.yaml writes them, not Python's None and ['age', 'visits']."""
    base_params = copy.deepcopy(raw_params)
    raw_params["data"]["id_column"] = None
    raw_params["data"]["features"] = {"numeric": ["age", "visits"], "categorical": []}
    text = report(params, snapshot(raw_params, 0.82), snapshot(base_params, 0.8))
    assert "| `data.id_column` | customer_id | null |" in text
    assert "| `data.features.numeric` | — | [age, visits] |" in text
    assert "| `data.features.categorical` | — | [] |" in text
    assert "| `data.features` | auto | — |" in text


def test_multiclass_curves_say_they_are_micro_averaged(params: Params, raw_params: dict):
    raw_params["data"]["task"] = "multiclass"
    text = report(params, snapshot(raw_params, 0.82), None)
    assert 'title "ROC (test set, micro-averaged over classes)"' in text
    assert 'title "Precision-recall (test set, micro-averaged over classes)"' in text
    assert 'title "Calibration of the top label: how often the most likely class is right' in text


def test_curves_a_test_set_does_not_define_are_one_sentence_not_empty_charts(
    params: Params, raw_params: dict
):
    current, base = snapshot(raw_params, 0.82), snapshot(copy.deepcopy(raw_params), 0.8)
    why = "the set has no rows of class 'yes' (the model knows 2 classes)"
    current.plots.update(roc=[], precision_recall=[])
    current.metrics["undefined"] = {"plots": {"roc": why, "precision_recall": why}}
    text = report(params, current, base)
    assert "ROC (test set)" not in text and "Precision-recall (test set)" not in text
    assert "line []" not in text
    assert f"_No ROC or precision-recall chart: both are undefined on this test set: {why}._" in text
    assert "main's model second" not in text  # no overlay caption without the charts
    assert text.count("xychart-beta") == 2  # calibration and feature importance


def test_undefined_metric_is_a_dash_with_its_reason(params: Params, raw_params: dict):
    current = snapshot(raw_params, 0.82)
    current.metrics["test"]["f1"] = None
    current.metrics["undefined"] = {
        "test": {"f1": "the set has no rows of class '1' (the model knows 2 classes)"}
    }
    text = report(params, current, snapshot(copy.deepcopy(raw_params), 0.8))
    assert "| f1 | 0.4500 | — | — |" in text
    assert "- `f1` is undefined (—): the set has no rows of class '1' (the model knows 2 classes)." in text


def test_links_the_ci_run_that_holds_the_html_reports(params: Params, raw_params: dict):
    url = ci_run_url(
        {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/churn", "GITHUB_RUN_ID": "42"}
    )
    assert url == "https://github.com/acme/churn/actions/runs/42"
    assert ci_run_url({"GITHUB_REPOSITORY": "acme/churn"}) is None
    text = report(params, snapshot(raw_params, 0.82), None, run_url=url)
    assert f"in the `model-report` artifact of [this CI run]({url})." in text
    assert f"- CI run: {url}" in text
    local = report(params, snapshot(raw_params, 0.82), None)
    assert (
        "(`data_integrity.html`, `train_test_validation.html`, `model_evaluation.html`): in `reports/`."
        in local
    )


def test_train_set_gap_is_called_overfitting_only_when_large(params: Params, raw_params: dict):
    close = report(params, snapshot(raw_params, 0.82), None)
    assert "Train-set roc_auc: 0.8600, +0.0400 against the test set." in close
    far = snapshot(raw_params, 0.82)
    far.metrics["train"]["roc_auc"] = 0.99
    text = report(params, far, None)
    assert (
        "Train-set roc_auc: 0.9900, +0.1700 against the test set (a gap this large suggests overfitting)."
        in text
    )
