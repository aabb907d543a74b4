"""Champion and challenger on the same rows: main's model scored on this change's test set.

The drop check compares like for like. When this change's test set is byte for byte main's (same
data, same split), main's committed test metrics stand in. Otherwise main's model, found by the
md5 main's dvc.lock records (in the DVC cache, or fetched from the remote), is scored on this
change's test set with the same metric code. When it cannot be (no run on main, another task or
target, columns or classes it does not know, a model that cannot be fetched), the comparison is
skipped with one sentence saying why, and the gate rests on its absolute checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.hashes import out_md5
from mlops.params import Params
from mlops.review import baseline

MODEL = "models/model.joblib"
TEST_SET = "artifacts/test.parquet"
CURVES = ("roc", "precision_recall")

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
    plots: dict[str, Any] = field(default_factory=dict)  # curves comparable with this change's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    return RESCORED, "main's model scored on this change's test set"


def _has_metric(metrics: dict, params: Params) -> bool:
    return (metrics.get("test") or {}).get(params.gate.metric) is not None


def rescore(model, test, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    """Main's model on this change's test rows: its test metrics and curves; Incomparable if it can't."""
    from mlops.pipeline import metrics
    from mlops.pipeline.model import predict

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
    try:
        y_pred, proba = predict(model, test)
    except (ValueError, TypeError, KeyError) as error:
        raise Incomparable(f"main's model could not score these rows ({str(error).splitlines()[0]})")
    scores = metrics.compute_metrics(task, test[target], y_pred, proba, classes)
    curves = {}
    if classes is not None:
        plots = metrics.classification_plots(test[target], proba, classes)
        curves = {name: plots[name] for name in CURVES}
    return {"test": scores}, curves


def _listed(values: list) -> str:
    shown = ", ".join(f"'{v}'" for v in values[:5])
    return shown + (f" and {len(values) - 5} more" if len(values) > 5 else "")


def compare(params: Params, lock: dict | None, load_model, load_test) -> Comparison:
    """The comparison with main for this change; ``load_model(ref, md5)`` and ``load_test()`` do I/O."""
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
        scores, plots = rescore(load_model(ref, found["model_md5"]), load_test(), params)
    except Incomparable as why:
        return Comparison(NONE, f"{why}, so the comparison is skipped", **found)
    return Comparison(basis, reason, metrics=scores, plots=plots, **found)


def refuse_model(ref: str, md5: str):
    """The trusted build's stand-in for fetch_model: it loads no model it did not train itself."""
    raise Incomparable(
        f"the trusted build loads no model it did not train (main's is md5 {md5}; a pickle runs code) "
        "and the test set changed, so only the pull request's report compares like for like"
    )


def fetch_model(ref: str, md5: str):
    """Main's model, by the md5 its dvc.lock records: from the DVC cache, else fetched from the remote."""
    import joblib
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo() as repo:
        path = repo.cache.local.oid_to_path(md5)
        if not repo.cache.local.exists(md5):
            if not (repo.config["core"].get("remote") or repo.config["remote"]):
                raise Incomparable(
                    f"main's model (md5 {md5}) is not in the DVC cache and no DVC remote is configured"
                )
            try:
                repo.fetch(targets=[MODEL], revs=[ref], workspace=False)
            except DvcException as error:
                raise Incomparable(f"main's model (md5 {md5}) could not be fetched: {error}")
            if not repo.cache.local.exists(md5):
                raise Incomparable(f"main's model (md5 {md5}) is neither in the DVC cache nor on the remote")
    try:
        return joblib.load(path)
    except Exception as error:  # unpickling runs code: a renamed module, another library version…
        raise Incomparable(
            f"main's model could not be loaded by this change's code ({type(error).__name__}: {error})"
        )
