"""Metrics and plot data: values in range and curves with the shapes they must have."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlops.pipeline import metrics


@pytest.fixture
def scored():
    """Labels with informative but imperfect scores (about 30% positives)."""
    rng = np.random.default_rng(0)
    risk = rng.random(2000)
    y_true = (rng.random(2000) < 0.6 * risk).astype(int)
    positive = np.clip(risk + rng.normal(0, 0.25, 2000), 0, 1)
    proba = np.column_stack([1 - positive, positive])
    return y_true, proba


def _column(rows, key):
    return np.array([row[key] for row in rows])


def test_binary_metrics(scored):
    y_true, proba = scored
    y_pred = (proba[:, 1] >= 0.5).astype(int)
    values = metrics.compute_metrics("binary", y_true, y_pred, proba, np.array([0, 1]))
    assert set(values) == {
        "roc_auc",
        "average_precision",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "balanced_accuracy",
        "log_loss",
        "brier",
    }
    assert 0.6 < values["roc_auc"] < 1
    assert all(round(v, 5) == v for v in values.values())


def test_binary_metrics_with_text_labels():
    y_true = np.array(["no", "yes", "no", "yes"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    y_pred = np.array(["no", "yes", "no", "yes"])
    values = metrics.compute_metrics("binary", y_true, y_pred, proba, np.array(["no", "yes"]))
    assert values["roc_auc"] == 1.0
    assert values["f1"] == 1.0


def test_multiclass_and_regression_metrics():
    y_true = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]] * 2)
    values = metrics.compute_metrics("multiclass", y_true, y_true, proba, np.array(["a", "b", "c"]))
    assert values["f1_macro"] == 1.0
    assert values["roc_auc_ovr"] == 1.0
    regression = metrics.compute_metrics("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 3.5], None, None)
    assert set(regression) == {"r2", "rmse", "mae"}
    assert regression["mae"] == pytest.approx(1 / 6, abs=1e-5)


def _assert_sane_curves(plots, positive_rate):
    roc = plots["roc"]
    fpr, tpr = _column(roc, "fpr"), _column(roc, "tpr")
    assert fpr[0] == 0 and fpr[-1] == 1
    assert np.all(np.diff(fpr) > 0)
    assert np.all(np.diff(tpr) >= 0), "ROC must be monotone"
    assert tpr[-1] == 1
    assert np.all(tpr >= fpr - 0.05), "an informative score lies above the diagonal"

    pr = plots["precision_recall"]
    recall, precision = _column(pr, "recall"), _column(pr, "precision")
    assert recall[0] == 0 and recall[-1] == 1
    assert len(set(precision)) > 5, "precision must vary along the curve"
    assert np.all(np.diff(precision) <= 0), "interpolated precision never rises with recall"
    assert np.all((precision >= 0) & (precision <= 1))
    assert precision[-1] == pytest.approx(positive_rate, abs=0.02)  # recall 1: everything predicted
    assert precision[0] > positive_rate + 0.1


def test_binary_curves_are_sane(scored):
    y_true, proba = scored
    plots = metrics.classification_plots(y_true, proba, np.array([0, 1]))
    _assert_sane_curves(plots, y_true.mean())


def test_multiclass_curves_are_sane():
    rng = np.random.default_rng(1)
    classes = np.array(["basic", "standard", "premium"])
    y_true = rng.choice(classes, 1500)
    logits = rng.normal(0, 1, (1500, 3)) + 1.5 * (y_true[:, None] == classes[None, :])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    plots = metrics.classification_plots(y_true, proba, classes)
    _assert_sane_curves(plots, 1 / 3)


def test_calibration_bins_cover_every_row(scored):
    y_true, proba = scored
    rows = metrics.classification_plots(y_true, proba, np.array([0, 1]))["calibration"]
    assert sum(row["count"] for row in rows) == len(y_true)
    for row in rows:
        low, high = (float(x) for x in row["bin"].split("-"))
        assert low <= row["predicted"] <= high
        assert 0 <= row["observed"] <= 1


def test_confusion_counts():
    confusion = metrics.confusion([0, 1, 1, 0], [0, 1, 0, 0], [0, 1])
    assert confusion == {"labels": ["0", "1"], "matrix": [[2, 0], [1, 1]]}


def test_regression_plots():
    rng = np.random.default_rng(2)
    y_pred = rng.normal(50, 10, 500)
    y_true = y_pred + rng.normal(0, 2, 500)
    plots = metrics.regression_plots(y_true, y_pred)
    deciles = plots["predicted_vs_actual"]
    assert len(deciles) == 10
    assert np.all(np.diff(_column(deciles, "predicted")) > 0)
    assert sum(row["count"] for row in plots["residuals"]) == 500


def test_a_metric_undefined_on_the_rows_is_none_with_a_reason():
    """A time split whose test set lacks a rare class: ROC AUC is undefined, never NaN."""
    classes = np.array(["basic", "plus", "rare"])
    y_true = np.array(["basic", "plus", "basic", "plus"])
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
    scores = metrics.compute_metrics("multiclass", y_true, classes[proba.argmax(axis=1)], proba, classes)
    assert scores["roc_auc_ovr"] is None
    assert scores["accuracy"] == 1.0
    assert metrics.why_undefined("multiclass", y_true, classes) == (
        "the set has no rows of class 'rare' (the model knows 3 classes)"
    )


def test_one_class_in_a_binary_test_set_gives_none_not_an_error():
    proba = np.array([[0.8, 0.2], [0.6, 0.4]])
    scores = metrics.compute_metrics(
        "binary", np.array(["no", "no"]), np.array(["no", "no"]), proba, ["no", "yes"]
    )
    assert scores["roc_auc"] is None
    assert scores["accuracy"] == 1.0
    assert metrics.why_undefined("binary", ["no", "no"], ["no", "yes"]).startswith(
        "the set has no rows of class 'yes'"
    )


def _binary_scores(y_true: list[str]):
    """Metrics and reason for a binary 'no'/'yes' model on these labels; one row predicted 'yes'."""
    classes = np.array(["no", "yes"])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.9, 0.1], [0.6, 0.4]])[: len(y_true)]
    y_pred = classes[proba.argmax(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning (or any other) reaches stderr
        scores = metrics.compute_metrics("binary", np.array(y_true), y_pred, proba, classes)
        plots = metrics.classification_plots(np.array(y_true), proba, classes)
    return scores, plots, metrics.why_undefined("binary", y_true, classes)


def test_a_set_without_positives_defines_no_positive_class_metric():
    """Not the 0.0 scikit-learn returns: a gate on f1 must say the class is missing."""
    scores, plots, why = _binary_scores(["no", "no", "no", "no"])
    undefined = {"roc_auc", "average_precision", "f1", "precision", "recall", "balanced_accuracy"}
    assert {name for name, value in scores.items() if value is None} == undefined
    assert scores["accuracy"] == 0.75 and scores["log_loss"] > 0 and scores["brier"] > 0
    assert why == "the set has no rows of class 'yes' (the model knows 2 classes)"
    assert plots["roc"] == plots["precision_recall"] == []
    assert sum(row["count"] for row in plots["calibration"]) == 4


def test_a_set_without_negatives_still_measures_how_many_positives_are_found():
    scores, plots, why = _binary_scores(["yes", "yes", "yes", "yes"])
    # Precision and average precision would be 1 whatever the model did; ROC and balanced accuracy
    # need both classes.
    undefined = {"roc_auc", "average_precision", "precision", "balanced_accuracy"}
    assert {name for name, value in scores.items() if value is None} == undefined
    assert scores["recall"] == 0.25 and scores["f1"] == 0.4
    assert why == "the set has no rows of class 'no' (the model knows 2 classes)"
    assert plots["roc"] == plots["precision_recall"] == []


def test_macro_averages_over_a_class_absent_from_the_set_are_undefined():
    classes = np.array(["a", "b", "c"])
    y_true = np.array(["a", "b", "a", "b"])
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5], [0.3, 0.6, 0.1]])
    scores = metrics.compute_metrics("multiclass", y_true, classes[proba.argmax(axis=1)], proba, classes)
    assert {name for name, value in scores.items() if value is None} == {
        "f1_macro",
        "balanced_accuracy",
        "roc_auc_ovr",
    }
    assert scores["accuracy"] == 0.75 and scores["log_loss"] > 0
    plots = metrics.classification_plots(y_true, proba, classes)
    assert len(plots["roc"]) == len(plots["precision_recall"]) == len(metrics.GRID)  # micro-averaged


def test_a_class_the_model_never_saw_is_named_and_counted():
    classes = np.array(["fog", "rain", "sun"])
    y_true = np.array(["rain", "sun", "snow", "fog", "snow"])
    proba = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.6, 0.2, 0.2], [0.1, 0.2, 0.7]])
    y_pred = classes[proba.argmax(axis=1)]
    scores = metrics.compute_metrics("multiclass", y_true, y_pred, proba, classes)
    assert scores["roc_auc_ovr"] is None and scores["log_loss"] is None
    assert scores["accuracy"] == 0.6
    assert metrics.why_undefined("multiclass", y_true, classes) == (
        "the set has class 'snow', which the training set lacks"
    )
    assert metrics.why_undefined("multiclass", np.delete(y_true, 3), classes) == (
        "the set has no rows of class 'fog' (the model knows 3 classes), and it has class 'snow', "
        "which the training set lacks"
    )
    confusion = metrics.confusion(y_true, y_pred, classes)
    assert confusion["labels"] == ["fog", "rain", "sun", "snow"]
    assert confusion["matrix"][-1] == [0, 1, 1, 0]  # the 'snow' rows, predicted 'rain' and 'sun'
    assert sum(map(sum, confusion["matrix"])) == len(y_true)


def test_evaluate_says_why_metrics_and_curves_are_undefined(params, churn):
    """A test set without churners: null metrics and empty curves, each with the reason."""
    from mlops.data.schema import infer_schema, resolve_features
    from mlops.pipeline.evaluate import evaluate
    from mlops.pipeline.train import train

    features = resolve_features(infer_schema(churn, params.data), params.data)
    model = train(churn.iloc[:500], features, params)
    test = churn.iloc[500:].assign(churned=0)
    result = evaluate(model, churn.iloc[:500], test, params)
    why = "the set has no rows of class '1' (the model knows 2 classes)"
    assert result["metrics"]["test"]["f1"] is None
    assert result["metrics"]["undefined"]["test"]["f1"] == why
    assert result["metrics"]["undefined"]["plots"] == {"roc": why, "precision_recall": why}
    assert result["plots"]["roc"] == result["plots"]["precision_recall"] == []
    assert "train" not in result["metrics"]["undefined"]


def test_committed_json_keeps_non_ascii_names_readable(tmp_path):
    from mlops.jsonfile import write_json

    path = tmp_path / "plots" / "feature_importance.json"
    write_json(path, [{"feature": "年齢", "importance": 0.1}])

    assert '"feature": "年齢"' in path.read_text(encoding="utf-8")
