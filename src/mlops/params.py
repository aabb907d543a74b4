"""Typed, validated view of params.yaml: unknown keys and bad values fail at load."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import UserError

TASKS = ("binary", "multiclass", "regression")
ESTIMATORS = ("linear", "random_forest", "hist_gradient_boosting")
RETRAIN_ON = ("drift", "performance", "skew")  # the monitoring alerts that can ask for retraining
# Gate metrics are all "higher is better", so one minimum and one allowed drop read the same way.
GATE_METRICS = {
    "binary": ("roc_auc", "average_precision", "f1", "accuracy", "balanced_accuracy"),
    "multiclass": ("f1_macro", "accuracy", "balanced_accuracy", "roc_auc_ovr"),
    "regression": ("r2",),
}

# The checks of Deepchecks' data_integrity, train_test_validation and model_evaluation suites.
DEEPCHECKS_CHECKS = (
    "Is Single Value",
    "Special Characters",
    "Mixed Nulls",
    "Mixed Data Types",
    "String Mismatch",
    "Data Duplicates",
    "String Length Out Of Bounds",
    "Conflicting Labels",
    "Outlier Sample Detection",
    "Feature Label Correlation",
    "Feature Feature Correlation",
    "Identifier Label Correlation",
    "Datasets Size Comparison",
    "New Label Train Test",
    "New Category Train Test",
    "String Mismatch Comparison",
    "Date Train Test Leakage Duplicates",
    "Date Train Test Leakage Overlap",
    "Index Train Test Leakage",
    "Train Test Samples Mix",
    "Feature Label Correlation Change",
    "Feature Drift",
    "Label Drift",
    "Multivariate Drift",
    "Train Test Performance",
    "Roc Report",
    "Confusion Matrix Report",
    "Prediction Drift",
    "Simple Model Comparison",
    "Weak Segments Performance",
    "Calibration Score",
    "Regression Error Distribution",
    "Unused Features",
    "Boosting Overfit",
    "Model Inference Time",
)
# Checks that cannot apply to what the pipeline gives Deepchecks (a scikit-learn Pipeline's precomputed
# predictions): they never run, and every summary lists them with this reason.
NEVER_RUN = {
    "Boosting Overfit": (
        "needs the model object of an AdaBoost, GradientBoosting, LightGBM, XGBoost or CatBoost model; the "
        "pipeline passes precomputed predictions of its own estimators, none of which Deepchecks supports"
    ),
    "Model Inference Time": (
        "would time Deepchecks' lookup of precomputed predictions, not the model (bench/serve.py measures "
        "the served model)"
    ),
}


@dataclass(frozen=True)
class Features:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class DataParams:
    path: str
    task: str
    target: str
    id_column: str | None = None
    datetime_column: str | None = None
    features: Features | None = None  # None means "infer from the schema"


@dataclass(frozen=True)
class SplitParams:
    test_size: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class ModelParams:
    estimator: str = "hist_gradient_boosting"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    seed: int = 42


@dataclass(frozen=True)
class ValidationParams:
    n_samples: int = 5000
    blocking_checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateParams:
    metric: str
    min: float
    max_drop: float = 0.02


@dataclass(frozen=True)
class RefreshParams:
    """Where newer data comes from (`make refresh`, the Retrain workflow); optional."""

    command: str | None = None  # a shell command that writes the newest table to data.path


@dataclass(frozen=True)
class MonitoringParams:
    """`make monitor`: production logs against the training data (no DVC stage reads these)."""

    logs: str = "monitoring"  # the service's log root: a directory or an fsspec URL (s3://…)
    min_records: int = 200  # fewer records of the current model: no drift or null-rate verdict
    drift_warn: float = 0.1  # PSI of a feature or of the predictions
    drift_alert: float = 0.2
    max_drifted_share: float = 0.3  # alert when this share of the features passes drift_warn
    max_unseen_share: float = 0.01  # categories in neither schema.yaml nor the training data
    max_out_of_range_share: float = 0.01  # numbers outside schema.yaml's min and max
    max_null_increase: float = 0.1  # null rate above the training data's
    min_feedback: int = 200  # fewer labelled predictions: no performance verdict
    max_metric_drop: float = 0.05  # gate.metric on feedback below the test set's
    retrain_on: tuple[str, ...] = ("drift", "performance")  # alerts that ask for retraining


@dataclass(frozen=True)
class Params:
    data: DataParams
    split: SplitParams
    model: ModelParams
    validation: ValidationParams
    gate: GateParams
    refresh: RefreshParams = field(default_factory=RefreshParams)
    monitoring: MonitoringParams = field(default_factory=MonitoringParams)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise UserError naming the bad key and what is allowed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} not found. Run from the project root, where params.yaml lives.")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text. Save it as UTF-8 and run again.")
    try:
        _reject_repeated_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(_yaml_error(path, text, error))
    return parse_params(raw, source=str(path))


def _yaml_error(path: Path, text: str, error: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one sentence: where, what, and the line itself."""
    mark = getattr(error, "problem_mark", None)
    if not isinstance(error, yaml.MarkedYAMLError) or mark is None:
        return f"{path} is not valid YAML ({' '.join(str(error).split())}). Fix the syntax and run again."
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    lines = text.splitlines()
    shown = lines[mark.line].split(" #")[0].strip() if mark.line < len(lines) else ""  # no comment
    if shown:
        where += f" ({_short(shown, 50)})"
    context, start = error.context, error.context_mark
    if context and start is not None and (start.line, start.column) != (mark.line, mark.column):
        context += f" that starts at line {start.line + 1}, column {start.column + 1}"
    problem = error.problem or "a syntax error"
    return (
        f"{path} is not valid YAML: at {where}, {problem}{f' ({context})' if context else ''}. Fix the "
        "syntax there or just above it (a missing ':' or space after it, an unclosed bracket or quote, a "
        "tab used for indentation) and run again."
    )


def _reject_repeated_keys(node: yaml.Node | None, path: Path, where: str = "") -> None:
    """PyYAML keeps the last of two equal keys without a word (DVC refuses the file): name them."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_repeated_keys(item, path, where)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key, value in node.value:
        name = str(key.value)
        if isinstance(key, yaml.ScalarNode) and name in seen:
            key_path = f"{where}.{name}" if where else name
            raise UserError(
                f"{path} has the key {key_path} twice (lines {seen[name]} and {key.start_mark.line + 1}): "
                "YAML keeps only one of them. Delete or rename one."
            )
        seen[name] = key.start_mark.line + 1
        _reject_repeated_keys(value, path, f"{where}.{name}" if where else name)


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    """Build Params from the parsed YAML mapping."""
    raw = _mapping(raw, source)
    sections = {f.name: f.type for f in dataclasses.fields(Params)}
    _reject_unknown(raw, sections, source)
    optional = {f.name for f in dataclasses.fields(Params) if f.default_factory is not dataclasses.MISSING}
    missing = [name for name in sections if name not in raw and name not in optional]
    if missing:
        raise UserError(f"{source} lacks the section(s) {', '.join(missing)}; add them.")
    data = _data(raw["data"], f"{source}: data")
    params = Params(
        data=data,
        split=_build(SplitParams, raw["split"], f"{source}: split"),
        model=_build(ModelParams, raw["model"], f"{source}: model"),
        validation=_validation(raw["validation"], f"{source}: validation"),
        gate=_build(GateParams, raw["gate"], f"{source}: gate"),
        refresh=_build(RefreshParams, raw.get("refresh") or {}, f"{source}: refresh"),
        monitoring=_build(
            MonitoringParams, raw.get("monitoring") or {}, f"{source}: monitoring", to_tuple=True
        ),
    )
    _check_values(params, source)
    _check_monitoring(params.monitoring, source)
    return params


def _data(raw: object, where: str) -> DataParams:
    raw = dict(_mapping(raw, where))
    features = raw.get("features", "auto")
    if features in ("auto", None):
        raw["features"] = None
    elif isinstance(features, dict):
        raw["features"] = _features(features, f"{where}.features")
    else:
        raise UserError(
            f"{where}.features is {_short(features)}; it must be auto (every column of schema.yaml but the "
            "target, id and date) or a mapping such as {numeric: [age], categorical: [plan]}."
        )
    return _build(DataParams, raw, where)


def _features(raw: dict[str, Any], where: str) -> Features:
    features = _build(Features, raw, where, to_tuple=True)
    for kind in ("numeric", "categorical"):
        names = getattr(features, kind)
        if not isinstance(names, tuple) or not all(isinstance(name, str) and name for name in names):
            example = names if isinstance(names, str) and names else "age, tenure_months"
            raise UserError(
                f"{where}.{kind} is {_short(raw[kind])}; it must be a list of column names, e.g. [{example}]."
            )
    if not features.all:
        raise UserError(
            f"{where} lists no columns. List at least one under numeric or categorical, or set "
            "features: auto to use every column of schema.yaml."
        )
    for name in features.all:
        if features.all.count(name) > 1:
            both = name in features.numeric and name in features.categorical
            raise UserError(
                f"{where} lists '{name}' {'under both numeric and categorical' if both else 'twice'}; keep "
                "it once, under numeric for numbers or categorical for categories."
            )
    return features


def _validation(raw: object, where: str) -> ValidationParams:
    return _build(ValidationParams, raw, where, to_tuple=True)


def _build(cls: type, raw: object, where: str, to_tuple: bool = False) -> Any:
    raw = _mapping(raw, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(raw, fields, where)
    required = [
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in raw]
    if missing:
        raise UserError(f"{where} lacks the key(s) {', '.join(missing)}; add them.")
    values = {k: tuple(v or ()) if to_tuple and isinstance(v, list | None) else v for k, v in raw.items()}
    return cls(**values)


def _mapping(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UserError(f"{where} must be a mapping of keys to values, got {type(raw).__name__}.")
    return raw


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reject_unknown(raw: dict[str, Any], allowed: dict[str, Any], where: str) -> None:
    for key in raw:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
            raise UserError(
                f"{where} has an unknown key '{key}'.{suggestion} Allowed keys: {', '.join(allowed)}."
            )


def _one_of(value: object, allowed: tuple[str, ...], where: str) -> None:
    if value not in allowed:
        raise UserError(f"{where} is '{value}', which is not allowed. Use one of: {', '.join(allowed)}.")


def _check_values(params: Params, source: str) -> None:
    data, split, model, gate = params.data, params.split, params.model, params.gate
    command = params.refresh.command
    if command is not None and not (isinstance(command, str) and command.strip()):
        raise UserError(f"{source}: refresh.command is {command!r}; it must be a shell command, or null.")
    _one_of(data.task, TASKS, f"{source}: data.task")
    _one_of(model.estimator, ESTIMATORS, f"{source}: model.estimator")
    _one_of(gate.metric, GATE_METRICS[data.task], f"{source}: gate.metric (for task {data.task})")
    if not isinstance(data.path, str) or not data.path.endswith((".csv", ".parquet")):
        raise UserError(f"{source}: data.path must name a .csv or .parquet file, got '{data.path}'.")
    if not isinstance(model.hyperparameters, dict):
        raise UserError(f"{source}: model.hyperparameters must be a mapping, e.g. {{max_iter: 200}}.")
    _check_roles(data, source)
    checks = [
        (
            "split.test_size",
            split.test_size,
            isinstance(split.test_size, float) and 0 < split.test_size < 1,
            "a fraction between 0 and 1, e.g. 0.2",
        ),
        ("split.seed", split.seed, _is_int(split.seed), "an integer"),
        ("model.seed", model.seed, _is_int(model.seed), "an integer"),
        (
            "validation.n_samples",
            params.validation.n_samples,
            _is_int(params.validation.n_samples) and params.validation.n_samples >= 100,
            "an integer of at least 100",
        ),
        *_gate_checks(gate),
    ]
    for key in ("blocking_checks", "skip_checks"):
        if not isinstance(getattr(params.validation, key), tuple):
            raise UserError(f"{source}: validation.{key} must be a list of check names, e.g. [Label Drift].")
        for check in getattr(params.validation, key):
            _one_of(check, DEEPCHECKS_CHECKS, f"{source}: validation.{key} entry")
    for check in params.validation.blocking_checks:
        if check in params.validation.skip_checks:
            raise UserError(
                f"{source}: validation lists '{check}' in both blocking_checks and skip_checks; a skipped "
                "check never runs, so it could never block. Remove it from one of the two lists."
            )
        if check in NEVER_RUN:
            raise UserError(
                f"{source}: validation.blocking_checks lists '{check}', which never runs in this pipeline: "
                f"it {NEVER_RUN[check]}. Remove it from the list."
            )
    for name, value, ok, expected in checks:
        if not ok:
            raise UserError(f"{source}: {name} is {value!r}; it must be {expected}.")


def _check_roles(data: DataParams, source: str) -> None:
    """Target, id, date and features name distinct columns (the stages would see a column twice)."""
    roles = {
        "data.target": data.target,
        "data.id_column": data.id_column,
        "data.datetime_column": data.datetime_column,
    }
    for key, column in roles.items():
        if not (isinstance(column, str) and column) and (key == "data.target" or column is not None):
            allowed = "a column name" if key == "data.target" else "a column name, or null"
            raise UserError(f"{source}: {key} is {_short(column)}; it must be {allowed}.")
    named = [(key, column) for key, column in roles.items() if column is not None]
    for i, (key, column) in enumerate(named):
        for other, same in named[:i]:
            if same == column:
                raise UserError(
                    f"{source}: {other} and {key} both name '{column}'; each needs a column of its own. "
                    f"Change one of them{'' if key == 'data.target' else ' (or set it to null)'}."
                )
    for key, column in named:
        if data.features is not None and column in data.features.all:
            raise UserError(
                f"{source}: data.features lists '{column}', which is {key}; it cannot be a feature too. "
                "Remove it from data.features."
            )


def _gate_checks(gate: GateParams) -> list[tuple[str, object, bool, str]]:
    """gate.min within the metric's range; gate.max_drop at least 0 (and at most the whole range)."""
    low, drop = gate.min, gate.max_drop
    if gate.metric == "r2":  # at most 1, and any negative number
        min_ok = _is_number(low) and low <= 1
        min_expected = "a number of at most 1 (the best r2), e.g. 0.5"
        drop_ok = _is_number(drop) and drop >= 0
        drop_expected = "a number of at least 0, e.g. 0.02"
    else:
        min_ok = _is_number(low) and 0 <= low <= 1
        min_expected = f"a number from 0 to 1 (the range of {gate.metric}), e.g. 0.7"
        drop_ok = _is_number(drop) and 0 <= drop <= 1
        drop_expected = (
            f"a number from 0 to 1 ({gate.metric} lies in [0, 1], so 1 allows any drop), e.g. 0.02"
        )
    return [("gate.min", low, min_ok, min_expected), ("gate.max_drop", drop, drop_ok, drop_expected)]


def _check_monitoring(monitoring: MonitoringParams, source: str) -> None:
    m = monitoring
    if not isinstance(m.logs, str) or not m.logs.strip():
        raise UserError(f"{source}: monitoring.logs is {m.logs!r}; it must be a directory or a URL (s3://…).")
    if not isinstance(m.retrain_on, tuple):
        raise UserError(f"{source}: monitoring.retrain_on must be a list, e.g. [drift, performance].")
    for kind in m.retrain_on:
        _one_of(kind, RETRAIN_ON, f"{source}: monitoring.retrain_on entry")
    counts = ("min_records", "min_feedback")
    shares = ("max_drifted_share", "max_unseen_share", "max_out_of_range_share", "max_null_increase")
    checks = [
        (key, _is_int(getattr(m, key)) and getattr(m, key) >= 1, "an integer of at least 1") for key in counts
    ]
    checks += [(key, _is_share(getattr(m, key)), "a fraction between 0 and 1, e.g. 0.1") for key in shares]
    checks += [
        ("drift_warn", _is_number(m.drift_warn) and m.drift_warn > 0, "a number above 0, e.g. 0.1"),
        (
            "drift_alert",
            _is_number(m.drift_alert) and _is_number(m.drift_warn) and m.drift_alert >= m.drift_warn,
            f"a number of at least drift_warn ({m.drift_warn!r}), e.g. 0.2",
        ),
        (
            "max_metric_drop",
            _is_number(m.max_metric_drop) and m.max_metric_drop >= 0,
            "a number of at least 0",
        ),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise UserError(f"{source}: monitoring.{key} is {getattr(m, key)!r}; it must be {expected}.")


def _is_share(value: object) -> bool:
    return _is_number(value) and 0 <= value <= 1  # type: ignore[operator]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
