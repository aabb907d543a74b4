"""Champion and challenger on the same rows: both models on the test rows main's model never saw.

The drop check compares like for like. When this change's test set is byte for byte main's (same
data, same split), main's committed test metrics stand in. Otherwise main's model and main's
training set, found by the md5s main's dvc.lock records (in the DVC cache, or fetched from the
remote), are loaded; the rows of this change's test set that main trained on are left out (a
random split with another seed, size or more rows puts some of them there, and main's score on
them would be inflated); and both models are scored on the rest with the same metric code. When
nothing is left out (a time split whose new test rows are all later), this change's own test
metrics are those rows' already, so only main's model is scored. When the comparison cannot be
made (no run on main, another task or target, columns or classes main's model does not know, a
model or training set that cannot be fetched, too few rows left), it is skipped with one sentence
saying why, and the gate rests on its absolute checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.hashes import out_md5
from mlops.params import DataParams, Params
from mlops.review import baseline

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MODEL = "models/model.joblib"
TRAIN_SET = "artifacts/train.parquet"
TEST_SET = "artifacts/test.parquet"
CURVES = ("roc", "precision_recall")
# On fewer rows one row moves accuracy by more than 0.03 (ROC AUC by more still when a class is
# rare), more than the default gate.max_drop of 0.02: a drop would tell rows apart, not models.
MIN_ROWS = 30

SAME_TEST_SET = "same test set"
RESCORED = "rescored"
NONE = "none"


class Incomparable(Exception):
    """Main's model cannot be scored on this change's rows; the message says why."""


@dataclass(frozen=True)
class Comparison:
    """What the gate and the report compare with (written to reports/baseline.json)."""

    basis: str  # SAME_TEST_SET, RESCORED or NONE
    reason: str  # one sentence for the report
    ref: str | None = None
    commit: str | None = None
    model_md5: str | None = None
    metrics: dict[str, Any] | None = None  # {"test": {...}} of main's model on the rows compared
    plots: dict[str, Any] = field(default_factory=dict)  # main's curves on the rows compared
    rows: int | None = None  # RESCORED: how many test rows both models are scored on
    excluded: int | None = None  # RESCORED: this change's test rows left out, as main trained on them
    # RESCORED with rows left out: this change's model on the same rows, and its curves there.
    # None: the rows compared are this change's whole test set, so its metrics.json and plots apply.
    challenger_metrics: dict[str, Any] | None = None
    challenger_plots: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Loaders:
    """What compare reads beyond git; each loader does its own I/O, and only when called."""

    main_model: Callable[[str, str], Any]  # (ref, md5) -> main's model
    main_train: Callable[[str, str], pd.DataFrame]  # (ref, md5) -> main's training set
    test: Callable[[], pd.DataFrame]  # this change's test set
    model: Callable[[], Any]  # this change's model


def choose_basis(
    params: Params, lock: dict | None, main_params: dict | None, main_lock: dict | None, main_metrics: Any
) -> tuple[str, str]:
    """The basis the comparison can rest on, and the sentence that says so, from committed files."""
    if not main_lock or not isinstance(main_metrics, dict):
        return NONE, "main has no committed run yet, so there is nothing to compare with"
    main_data = (main_params or {}).get("data") or {}
    theirs = (main_data.get("task"), main_data.get("target"))
    ours = (params.data.task, params.data.target)
    if theirs != ours:
        return NONE, (
            f"main's model predicts '{theirs[1]}' ({theirs[0]}) and this change's predicts '{ours[1]}' "
            f"({ours[0]}), so their scores cannot be compared"
        )
    test_md5 = out_md5(lock, TEST_SET)
    if test_md5 and test_md5 == out_md5(main_lock, TEST_SET) and _has_metric(main_metrics, params):
        return SAME_TEST_SET, "same test set as main (same data and split): main's committed test metrics"
    if out_md5(main_lock, MODEL) is None:
        return NONE, f"main's dvc.lock records no {MODEL}"
    if out_md5(main_lock, TRAIN_SET) is None:
        return NONE, f"main's dvc.lock records no {TRAIN_SET}, the rows its model trained on"
    return RESCORED, "main's model and this change's on the test rows main never trained on"


def _has_metric(metrics: dict, params: Params) -> bool:
    return (metrics.get("test") or {}).get(params.gate.metric) is not None


def on_rows(rows: int, excluded: int) -> str:
    """The rows a RESCORED comparison is on, in words for the gate line and the report."""
    if excluded:
        return f"main's model and this change's on the {rows:,} test rows main never trained on"
    return f"main's model on this test set's {rows:,} rows, none of which it trained on"


def identity_columns(model, test: pd.DataFrame, train: pd.DataFrame, data: DataParams) -> list[str]:
    """The columns that tell whether a test row is a training row: the id column when both sets
    have it, else main's model's features and the target, plus the date under a time split (a
    later row with the same values is a new row)."""
    if data.id_column and data.id_column in test and data.id_column in train:
        return [data.id_column]
    features = getattr(model, "feature_names_in_", None)
    named = [*(test.columns if features is None else features), data.target, data.datetime_column]
    return [c for c in dict.fromkeys(named) if c is not None and c in test and c in train]


def seen_rows(test: pd.DataFrame, train: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Which test rows are training rows: equal values in ``columns``, a missing value equal to a
    missing one, whatever dtype each file gave the column (3 and 3.0, "3" and 3.0 are equal)."""
    import pandas as pd

    numeric = {c for c in columns if _is_number(test[c]) and _is_number(train[c])}
    test_keys, train_keys = (
        pd.util.hash_pandas_object(_normalised(frame, columns, numeric), index=False)
        for frame in (test, train)
    )
    return test_keys.isin(train_keys).to_numpy()


def _is_number(values: pd.Series) -> bool:
    return values.dtype.kind in "iuf"


def _normalised(frame: pd.DataFrame, columns: list[str], numeric: set[str]) -> pd.DataFrame:
    """Numbers as float64 (one NaN, one zero); anything else as text, whole floats as integers."""
    import pandas as pd

    from mlops.pipeline.model import category_text

    def normal(column: str) -> pd.Series:
        values = frame[column]
        if column in numeric:
            numbers = values.astype("float64") + 0.0  # -0.0 + 0.0 is 0.0, which hashes as 0.0 does
            return numbers.where(numbers.notna())  # one NaN bit pattern for every missing value
        return category_text(values)

    return pd.DataFrame({column: normal(column).to_numpy() for column in columns})


def check_rows(rows: pd.DataFrame, test: pd.DataFrame, params: Params) -> None:
    """Incomparable unless ``rows`` (the test rows main never trained on) can carry a comparison:
    at least MIN_ROWS of them, holding every class this change's test set holds."""
    if len(rows) < MIN_ROWS:
        have = (
            f"this change's test set has only {len(rows)} rows"
            if len(rows) == len(test)
            else f"only {len(rows)} of this change's {len(test):,} test rows were not in main's training set"
        )
        raise Incomparable(f"{have}, fewer than the {MIN_ROWS} a meaningful comparison needs")
    if params.data.task != "regression":
        target = params.data.target
        missing = sorted(set(test[target]) - set(rows[target]), key=str)
        if missing:
            raise Incomparable(
                f"the {len(rows):,} test rows main never trained on have no rows of class {_listed(missing)}"
            )


def check_compatible(model, test: pd.DataFrame, params: Params) -> None:
    """Incomparable unless main's model can score this change's test rows: same kind of task, its
    input columns, and no label it never saw."""
    task, target = params.data.task, params.data.target
    is_classifier = hasattr(model, "predict_proba")
    if is_classifier == (task == "regression"):
        kind = "classifier" if is_classifier else "regressor"
        raise Incomparable(f"main's model is a {kind} and this change's task is {task}")
    missing = [c for c in getattr(model, "feature_names_in_", []) if c not in test.columns]
    if missing:
        raise Incomparable(f"main's model uses column(s) this change's data lacks: {_listed(missing)}")
    classes = getattr(model, "classes_", None)
    if classes is not None:
        unseen = sorted(set(test[target]) - set(classes), key=str)
        if unseen:
            raise Incomparable(f"this test set has label(s) main's model never saw: {_listed(unseen)}")


def score(model, rows: pd.DataFrame, params: Params, whose: str = "main's") -> tuple[dict, dict]:
    """A model's test metrics and curves on ``rows``, with the code evaluate uses."""
    from mlops.pipeline import metrics
    from mlops.pipeline.model import predict

    task, target = params.data.task, params.data.target
    classes = getattr(model, "classes_", None)
    try:
        y_pred, proba = predict(model, rows)
    except (ValueError, TypeError, KeyError) as error:
        raise Incomparable(f"{whose} model could not score these rows ({str(error).splitlines()[0]})")
    scores = metrics.compute_metrics(task, rows[target], y_pred, proba, classes)
    curves = {}
    if classes is not None:
        plots = metrics.classification_plots(rows[target], proba, classes)
        curves = {name: plots[name] for name in CURVES}
    return {"test": scores}, curves


def score_unseen(main_model, test: pd.DataFrame, seen: np.ndarray, load_model, params: Params) -> dict:
    """Both models on the test rows main never trained on, as Comparison fields. This change's
    model is loaded only when rows were left out: otherwise its own test metrics are on these rows."""
    from mlops.pipeline import metrics

    rows, excluded = test[~seen], int(seen.sum())
    check_rows(rows, test, params)
    scores, curves = score(main_model, rows, params)
    ours, our_curves = score(load_model(), rows, params, "this change's") if excluded else (None, {})
    metric, target = params.gate.metric, params.data.target
    if any(result["test"].get(metric) is None for result in (scores, ours) if result):
        why = metrics.why_undefined(params.data.task, rows[target], getattr(main_model, "classes_", []))
        raise Incomparable(
            f"{metric} is undefined on the {len(rows):,} test rows main never trained on: {why}"
        )
    return {
        "reason": on_rows(len(rows), excluded),
        "metrics": scores,
        "plots": curves,
        "rows": len(rows),
        "excluded": excluded,
        "challenger_metrics": ours,
        "challenger_plots": our_curves,
    }


def _listed(values: list) -> str:
    shown = ", ".join(f"'{v}'" for v in values[:5])
    return shown + (f" and {len(values) - 5} more" if len(values) > 5 else "")


def compare(params: Params, lock: dict | None, load: Loaders) -> Comparison:
    """The comparison with main for this change; the loaders do the I/O."""
    ref = baseline.resolve_ref()
    if ref is None:
        return Comparison(NONE, "there is no main branch here, so there is nothing to compare with")
    main_lock = baseline.read_yaml(ref, "dvc.lock")
    main_metrics = baseline.read_json(ref, "reports/metrics.json")
    main_params = baseline.read_yaml(ref, "params.yaml")
    basis, reason = choose_basis(params, lock, main_params, main_lock, main_metrics)
    found = {"ref": ref, "commit": baseline.commit(ref), "model_md5": out_md5(main_lock, MODEL)}
    if basis == NONE:
        return Comparison(basis, reason, **found)
    if basis == SAME_TEST_SET:
        curves = {name: baseline.read_json(ref, f"reports/plots/{name}.json") for name in CURVES}
        plots = {name: rows for name, rows in curves.items() if rows}
        return Comparison(basis, reason, metrics={"test": main_metrics["test"]}, plots=plots, **found)
    try:
        model, test = load.main_model(ref, found["model_md5"]), load.test()
        check_compatible(model, test, params)
        train = load.main_train(ref, out_md5(main_lock, TRAIN_SET))
        seen = seen_rows(test, train, identity_columns(model, test, train, params.data))
        compared = score_unseen(model, test, seen, load.model, params)
    except Incomparable as why:
        return Comparison(NONE, f"{why}, so the comparison is skipped", **found)
    return Comparison(basis, **compared, **found)


def refuse_model(ref: str, md5: str):
    """The trusted build's stand-in for fetch_model: it loads no model it did not train itself."""
    raise Incomparable(
        f"the trusted build loads no model it did not train (main's is md5 {md5}; a pickle runs code) "
        "and the test set changed, so only the pull request's report compares like for like"
    )


def fetch_model(ref: str, md5: str):
    """Main's model, by the md5 its dvc.lock records: from the DVC cache, else fetched from the remote."""
    import joblib

    path = _cached(ref, MODEL, md5, "main's model")
    try:
        return joblib.load(path)
    except Exception as error:  # unpickling runs code: a renamed module, another library version…
        raise Incomparable(
            f"main's model could not be loaded by this change's code ({type(error).__name__}: {error})"
        )


def fetch_train_set(ref: str, md5: str) -> pd.DataFrame:
    """Main's training set, by the md5 its dvc.lock records: from the DVC cache, else the remote."""
    import pandas as pd

    path = _cached(ref, TRAIN_SET, md5, "main's training set")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise Incomparable(f"main's training set (md5 {md5}) could not be read ({error})")


def _cached(ref: str, out: str, md5: str, what: str) -> str:
    """The DVC cache path of the output ``out`` of ``ref`` with this md5, fetched there if need be."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo() as repo:
        path = repo.cache.local.oid_to_path(md5)
        if not repo.cache.local.exists(md5):
            if not (repo.config["core"].get("remote") or repo.config["remote"]):
                raise Incomparable(
                    f"{what} (md5 {md5}) is not in the DVC cache and no DVC remote is configured"
                )
            try:
                repo.fetch(targets=[out], revs=[ref], workspace=False)
            except DvcException as error:
                raise Incomparable(f"{what} (md5 {md5}) could not be fetched: {error}")
            if not repo.cache.local.exists(md5):
                raise Incomparable(f"{what} (md5 {md5}) is neither in the DVC cache nor on the remote")
    return path
