"""Running Deepchecks suites and turning their results into small JSON summaries and HTML."""

from __future__ import annotations

import functools
import io
import os
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.params import DataParams, Features
from mlops.pipeline import checks
from mlops.pipeline.model import category_text

SKIPPED = "Not run on purpose: "  # starts the lines run_suite adds to a result's extra_info


def deepchecks_tabular():
    """Import deepchecks.tabular with its telemetry off and its import-time warnings muted."""
    os.environ.setdefault("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import deepchecks.tabular
        import deepchecks.tabular.checks
        import deepchecks.tabular.suites
        from deepchecks.tabular.checks.model_evaluation import regression_error_distribution
    # Deepchecks 0.19 calls mean_squared_error(..., squared=False), which scikit-learn 1.6 removed.
    regression_error_distribution.mean_squared_error = _mean_squared_error
    return deepchecks.tabular


def _mean_squared_error(y_true, y_pred, *, squared: bool = True, **kwargs) -> float:
    """scikit-learn's mean_squared_error, still taking ``squared`` (False: its square root)."""
    from sklearn.metrics import mean_squared_error, root_mean_squared_error

    return (mean_squared_error if squared else root_mean_squared_error)(y_true, y_pred, **kwargs)


def make_dataset(frame: pd.DataFrame, features: Features, data: DataParams, name: str):
    """A Deepchecks Dataset of the features and target (regression or classification labels)."""
    tabular = deepchecks_tabular()
    roles = [c for c in (data.id_column, data.datetime_column) if c in frame.columns]
    return tabular.Dataset(
        _without_bool_features(frame[roles + list(features.all) + [data.target]], features),
        label=data.target,
        index_name=data.id_column if data.id_column in roles else None,
        datetime_name=data.datetime_column if data.datetime_column in roles else None,
        cat_features=list(features.categorical),
        label_type="regression" if data.task == "regression" else f"{data.task}",
        dataset_name=name,
    )


def _without_bool_features(frame: pd.DataFrame, features: Features) -> pd.DataFrame:
    """True/False features as the model reads them: text where categorical, else 0/1.

    Deepchecks' imputers refuse dtype bool (Unused Features: "SimpleImputer does not support data
    with dtype bool").
    """
    bools = [c for c in features.all if pd.api.types.is_bool_dtype(frame[c])]
    categorical = set(features.categorical)
    return frame.assign(
        **{c: category_text(frame[c]) if c in categorical else frame[c].astype("float64") for c in bools}
    )


def scorers(task: str) -> dict[str, Any]:
    """Scorers for Deepchecks' performance checks that work with any label type on scikit-learn 1.7.

    Deepchecks' defaults fail there: its per-class scorers assume a class 1 (pos_label=1, an error
    with text classes), and scikit-learn refuses its regression scorers on the wrapper Deepchecks puts
    around precomputed predictions (whose predict method is called _predict).
    """
    from sklearn import metrics

    if task == "regression":
        return {
            "Neg RMSE": _regression_scorer(metrics.root_mean_squared_error, -1),
            "Neg MAE": _regression_scorer(metrics.mean_absolute_error, -1),
            "R2": _regression_scorer(metrics.r2_score, 1),
        }
    # Per class, like Deepchecks' defaults; average=None ignores pos_label, which None keeps unchecked.
    per_class = {"F1": metrics.f1_score, "Precision": metrics.precision_score, "Recall": metrics.recall_score}
    return {
        name: metrics.make_scorer(score, average=None, zero_division=0, pos_label=None)
        for name, score in per_class.items()
    }


def _regression_scorer(metric: Callable, sign: int) -> Callable:
    def score(model, features: pd.DataFrame, label) -> float:
        return sign * float(metric(label, model.predict(features)))

    return score


def train_test_validation(task: str, n_samples: int, seed: int, samples_mix_allowed: float):
    """Deepchecks' train-test suite with the leakage conditions of checks.py.

    Feature Label Correlation Change fails only on a feature that nearly is the target, and Train
    Test Samples Mix only when test rows repeat training rows more than ``samples_mix_allowed``.
    """
    tabular = deepchecks_tabular()
    suite = tabular.suites.train_test_validation(n_samples=n_samples, random_state=seed)
    mix = _find(suite, "Train Test Samples Mix")
    mix.n_samples = max(n_samples, checks.SAMPLES_MIX_ROWS)  # a sample would miss most copies
    mix.clean_conditions()
    mix.add_condition_duplicates_ratio_less_or_equal(min(1.0, samples_mix_allowed))
    check = _find(suite, "Feature Label Correlation Change")
    check.clean_conditions()
    check.add_condition_feature_pps_in_train_less_than(checks.LEAKAGE_PPS[task])
    check.add_condition(
        f"Train-test features' Predictive Power Score difference is less than {checks.PPS_CHANGE_WARNING}",
        _pps_change_warning,
        threshold=checks.PPS_CHANGE_WARNING,
    )
    return suite


def _pps_change_warning(value: dict, threshold: float):
    """A warning, not a failure: small test sets move the PPS a lot (see checks.PPS_CHANGE_WARNING)."""
    from deepchecks.core import ConditionCategory, ConditionResult

    changed = {f: round(abs(d), 2) for f, d in value["train-test difference"].items() if abs(d) >= threshold}
    if not changed:
        return ConditionResult(ConditionCategory.PASS, "No feature's PPS differs that much.")
    text = f"Found {len(changed)} of {len(value['train-test difference'])} features with a larger difference"
    return ConditionResult(ConditionCategory.WARN, f"{text}: {changed}")


def model_evaluation(task: str, n_samples: int, seed: int):
    """Deepchecks' model-evaluation suite, with scorers that work for every task and label type."""
    tabular = deepchecks_tabular()
    kwargs = {"n_samples": n_samples, "random_state": seed}
    # Weak Segments Performance searches pairs of the top features: 5, not 10, saves ~25 s.
    suite = tabular.suites.model_evaluation(n_top_features=5, **kwargs)
    score = scorers(task)
    first = dict([next(iter(score.items()))])  # Simple Model Comparison's default is one scorer
    performance = tabular.checks.TrainTestPerformance(scorers=score, **kwargs)
    comparison = tabular.checks.SimpleModelComparison(scorers=first, **kwargs)
    weak = _weak_segments_performance()(
        n_top_features=5, alternative_scorer=first if task == "regression" else None, **kwargs
    )
    for check in (
        performance.add_condition_train_test_relative_degradation_less_than(),
        comparison.add_condition_gain_greater_than(),
        weak.add_condition_segments_relative_performance_greater_than(),
    ):
        suite.checks[_index(suite, check.name())] = check
    return suite


@functools.cache
def _weak_segments_performance() -> type:
    """Weak Segments Performance that reports finding no weak segment, where Deepchecks raises.

    Its search raises when no segment is weaker than the rest, e.g. on a training set the model fits
    almost perfectly: that is a result, not a failure to run.
    """
    from deepchecks.core import CheckResult
    from deepchecks.core.errors import DeepchecksProcessError
    from deepchecks.tabular.checks import WeakSegmentsPerformance as Base

    class WeakSegmentsPerformance(Base):  # the same class name: Deepchecks names a check after it
        def run_logic(self, context, dataset_kind):
            try:
                return super().run_logic(context, dataset_kind)
            except DeepchecksProcessError as error:
                if "unable to train an error model" not in str(error):
                    raise
            text = "No weak segment: no segment of the top features scores notably worse than the rest."
            # Deepchecks' condition passes a value with a message.
            return CheckResult({"message": text}, header="Weak Segments Performance", display=[text])

    return WeakSegmentsPerformance


def _index(suite, name: str) -> int:
    return next(index for index, check in suite.checks.items() if check.name() == name)


def _find(suite, name: str):
    return suite.checks[_index(suite, name)]


def run_suite(
    suite, skip: Mapping[str, str], own_inputs: Mapping[str, Mapping[str, Any]] | None = None, **inputs: Any
):
    """Run a suite without the checks in ``skip`` (name: reason), quietly; its result lists them.
    A check named in ``own_inputs`` runs on those inputs instead, in its place among the results."""
    removed, alone = {}, {}
    for index, check in list(suite.checks.items()):
        if check.name() in skip:
            suite.remove(index)
            removed[check.name()] = skip[check.name()]
        elif check.name() in (own_inputs or {}):
            position = sum(1 for i in suite.checks if i < index) + len(alone)  # among the results
            suite.remove(index)
            alone[position] = check
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Deepchecks warns a lot about pandas
        # Timeout 0: no permutation importance of Deepchecks' own (Multivariate Drift spent ~20 s
        # starting worker processes for it); validate_model passes the importance evaluate computed.
        result = suite.run(feature_importance_timeout=0, **inputs)
        for position, check in alone.items():
            result.results.insert(position, _run_alone(check, own_inputs[check.name()]))
    # extra_info is shown in the HTML report too.
    result.extra_info = [*result.extra_info, *(f"{SKIPPED}{n}: {why}" for n, why in removed.items())]
    return result


def _run_alone(check, inputs: Mapping[str, Any]):
    """The check's result, or its failure as the suite would have recorded it."""
    from deepchecks.core.check_result import CheckFailure

    try:
        return check.run(**inputs)
    except Exception as error:
        return CheckFailure(check, error)


def summarize(result) -> dict[str, Any]:
    """Every condition that did not pass, the checks that errored or were skipped, and counts.

    ``counts`` has PASS, WARN, FAIL and ERROR conditions, NOT RUN checks (they raised), and
    ERRORED (checks that raised or had a condition in error) and SKIPPED (on purpose) checks.
    """
    problems, errored = [], {}
    counts = {"PASS": 0, "WARN": 0, "FAIL": 0, "ERROR": 0, "NOT RUN": 0}
    for check_result in _unique_by_check(result.get_not_ran_checks()):
        name, error = check_result.check.name(), check_result.exception
        details = (str(error).splitlines() or [type(error).__name__])[0][:300]
        problems.append(_problem(name, "check did not run", "NOT RUN", details))
        errored.setdefault(name, details)
        counts["NOT RUN"] += 1
    for check_result in result.results:
        for condition in getattr(check_result, "conditions_results", []):
            status, name = condition.category.value, check_result.check.name()
            counts[status] += 1
            if status != "PASS":
                problem = _problem(name, condition.name, status, condition.details)
                problems.append(problem | _dataset(check_result))
            if status == "ERROR":
                errored.setdefault(name, condition.details)
    skipped = _skipped(result)
    counts.update(ERRORED=len(errored), SKIPPED=len(skipped))
    return {
        "suite": result.name,
        "counts": counts,
        "problems": problems,
        "errored": [{"check": name, "details": details} for name, details in errored.items()],
        "skipped": skipped,
    }


def _skipped(result) -> list[dict[str, str]]:
    lines = [line.removeprefix(SKIPPED) for line in result.extra_info if line.startswith(SKIPPED)]
    return [dict(zip(("check", "reason"), line.split(": ", 1), strict=True)) for line in lines]


def _problem(check: str, condition: str, status: str, details: str) -> dict[str, str]:
    return {"check": check, "condition": condition, "status": status, "details": details}


def _dataset(check_result) -> dict[str, str]:
    """``{"dataset": "train" | "test"}`` for a single-dataset check a suite ran on both sets (Deepchecks
    ends its header with " - Train Dataset" or " - Test Dataset"), else nothing."""
    header = getattr(check_result, "header", "") or ""
    for dataset in ("train", "test"):
        if header.endswith(f" - {dataset.title()} Dataset"):
            return {"dataset": dataset}
    return {}


def _unique_by_check(results: list) -> list:
    return list({r.check.name(): r for r in results}.values())


def save_html(result, path: Path) -> None:
    """Save the full interactive report; the same result always gives the same bytes (DVC hashes it)."""
    buffer = io.BytesIO()
    # A file object, not a name: Deepchecks never overwrites a named file. newline="": "\n" on every OS.
    text = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A fixed id, not Deepchecks' random one, for the anchors ("summary_report", "MixedNulls_report").
        result.save_as_html(text, as_widget=False, unique_id="report")
    text.flush()
    html = buffer.getvalue()
    # The report starts at its title, after 4.5 MB of JavaScript libraries that hold no random ids.
    start = max(html.find(b'<h1 id="summary_report">'), 0)
    report = _sorted_prologue(html[start:], [r.check.name() for r in result.results])
    path.write_bytes(html[:start] + _renumber_random_ids(report))


def _sorted_prologue(html: bytes, names: list[str]) -> bytes:
    """Name the suite's first checks alphabetically; Deepchecks takes them in set order, which varies."""
    listed = ", ".join(sorted(set(names))[:3]).encode()
    prologue = rb"(The suite is composed of [^:<]+: )[^<]*?(?=, etc\.\.\.<br>|\.<br>)"
    return re.sub(prologue, lambda match: match[1] + listed, html, count=1)


def _renumber_random_ids(html: bytes) -> bytes:
    """Replace each random id of an element (pandas Styler table, plotly div) by a counter, everywhere."""
    token = rb"T_[0-9a-f]{5}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    defined = dict.fromkeys(re.findall(rb'\bid="(' + token + rb')"', html))
    new = {old: _counter_id(old, n) for n, old in enumerate(defined)}
    # The Styler's id is also the prefix of its cells' ids ("T_1a2b3_row0_col1"), hence no \b.
    return re.sub(rb"(?<![0-9A-Za-z])(?:" + token + rb")(?![0-9A-Za-z])", lambda m: new.get(m[0], m[0]), html)


def _counter_id(old: bytes, n: int) -> bytes:
    """The n-th id, in the shape of the random one it replaces."""
    return b"T_%05d" % n if old.startswith(b"T_") else b"%08d-0000-4000-8000-000000000000" % n
