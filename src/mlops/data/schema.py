"""The data contract: infer a schema once, then hold every later table to it.

Schema skew (a column missing, a type changed, no values at all, an unusable target) is an
error that stops the pipeline before training. Value skew (unseen categories, values out of
the recorded range) is a warning that the report shows and Deepchecks measures as drift.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlops.errors import UserError
from mlops.params import DataParams, Features

MAX_CATEGORIES = 50
MAX_CLASSES = 50
MAX_MESSAGE = 1000  # characters of findings in one error message; the rest are counted, not shown
# A number written with a comma: a decimal comma (3,5) or thousands separators (1,234,567.5).
COMMA_NUMBER = r"[-+]?(\d+(,\d{3})*([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?"
# Why a number with a comma is text here, and the fix (mlops.data.table reads decimal commas only
# when the first lines, or failing that the whole file, show them unambiguously).
COMMA_FIX = (
    "write numbers with a decimal point and no thousands separator (3.5, 1234); a file separated by ;, "
    "tab or | may use decimal commas (3,5) instead, if none of its numbers has a decimal point and not "
    "every comma is followed by exactly three digits (1,234 may be a thousand)."
)
# The fix for other text in a numeric column, by whose word it is numeric (see TextInNumbers).
TEXT_FIXES = {
    "schema": "Fix those values, or delete schema.yaml if the {what} really changed type.",
    "params": "List the {what} under data.features.categorical in params.yaml, or fix those values.",
}


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TextInNumbers:
    """Values of a numeric column that are not numbers: how many, one of them, and why (``reason``:
    "comma", numbers written with a comma; "schema", schema.yaml says numeric; "params", only
    params.yaml does)."""

    count: int
    example: Any
    reason: str


def infer_schema(frame: pd.DataFrame, data: DataParams) -> dict[str, dict[str, Any]]:
    """Describe each column: its kind, and its categories or range."""
    return {column: _describe(frame[column], column == data.datetime_column) for column in frame.columns}


def _describe(values: pd.Series, is_datetime: bool) -> dict[str, Any]:
    present = values.dropna()
    dates = _dates(present) if is_datetime else None
    if dates is not None and dates.notna().any():  # else check_frame says the column holds no dates
        return {"kind": "datetime", "min": str(dates.min().date()), "max": str(dates.max().date())}
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        numbers = _comma_numbers(present)
        if numbers is not None:  # numeric, so that check_frame says how to write them
            return {"kind": "numeric", "min": _plain(numbers.min()), "max": _plain(numbers.max())}
        categories = sorted(present.astype(str).unique())
        if len(categories) > MAX_CATEGORIES:
            return {"kind": "text"}
        return {"kind": "categorical", "categories": categories}
    return {"kind": "numeric", "min": _plain(present.min()), "max": _plain(present.max())}


def _comma_numbers(present: pd.Series) -> pd.Series | None:
    """The values as numbers (a comma read as a decimal point) if all are numbers and some have a
    comma, as in 3,5 or 1,234; else None."""
    if present.empty or pd.api.types.is_bool_dtype(present):
        return None
    text = present.astype(str).str.strip()
    if not text.str.contains(",", regex=False).any() or not text.str.fullmatch(COMMA_NUMBER).all():
        return None
    return pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")


def _dates(present: pd.Series) -> pd.Series:
    """The values as dates, NaT where one is not a date (pandas' parsing-format warnings muted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(present, errors="coerce")


def _comma_example(bad: pd.Series) -> str | None:
    """Among values that are not numbers, the first written as a number with a comma (3,5); or None."""
    text = bad.astype(str).str.strip()
    commas = text[text.str.contains(",", regex=False) & text.str.fullmatch(COMMA_NUMBER)]
    return None if commas.empty else commas.iloc[0]


def _value(value: Any) -> str:
    """A cell for a message: quoted, and cut short if long."""
    if isinstance(value, str) and len(value) > 40:
        value = value[:39] + "…"
    return repr(value)


def _plain(value: Any) -> float | int | None:
    if pd.isna(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


def resolve_features(schema: dict[str, dict[str, Any]], data: DataParams) -> Features:
    """The features params.yaml names, or else every numeric and categorical schema column."""
    if data.features is not None:
        return data.features
    roles = {data.target, data.id_column, data.datetime_column}
    usable = [c for c in schema if c not in roles]
    return Features(
        numeric=tuple(c for c in usable if schema[c]["kind"] == "numeric"),
        categorical=tuple(c for c in usable if schema[c]["kind"] == "categorical"),
    )


def check_frame(frame: pd.DataFrame, schema: dict[str, dict[str, Any]], data: DataParams) -> Findings:
    """Hold a table to the schema and to the roles params.yaml gives its columns."""
    findings = Findings()
    features = resolve_features(schema, data)
    _check_roles(frame, schema, data, features, findings)
    if not features.all:
        findings.errors.append(
            "no column but the target, id and date is numeric or categorical in schema.yaml (text of "
            f"more than {MAX_CATEGORIES} distinct values is neither), so the model would have no features. "
            "List them under data.features in params.yaml."
        )
    roles = [(c, "numeric") for c in features.numeric] + [(c, "categorical") for c in features.categorical]
    texts: dict[str, dict[str, TextInNumbers]] = {}  # by reason: one finding for all those columns
    positions: dict[str, int] = {}  # where each finding goes: at its first column
    for column, role in [*roles, (data.datetime_column, "datetime")]:
        if column is not None and column in frame.columns:
            text = _check_column(frame[column], column, schema.get(column), role, findings)
            if text is not None:
                positions.setdefault(text.reason, len(findings.errors))
                texts.setdefault(text.reason, {})[column] = text
    for reason in reversed(list(positions)):  # the last first, so the earlier positions still hold
        findings.errors.insert(positions[reason], _text_in_numbers(texts[reason]))
    if not findings.errors and data.target in frame.columns:
        _check_target(frame, data, findings)
    return findings


def _text_in_numbers(columns: dict[str, TextInNumbers]) -> str:
    """One finding for the numeric columns that hold text for the same reason."""
    (first, text), count = next(iter(columns.items())), len(columns)
    if count == 1:
        what = f"column {first!r} should be numeric but has {text.count} value(s) that are not numbers"
        example = _value(text.example)
    else:
        what = f"{count} columns ({_names(columns, 80)}) should be numeric but hold text"
        example = f"{_value(text.example)} in {first!r}"
    if text.reason == "comma":
        return f"{what}: {example} has a comma: {COMMA_FIX}"
    fix = TEXT_FIXES[text.reason].format(what="column" if count == 1 else "columns")
    return f"{what}, e.g. {example}. {fix}"


def _check_roles(
    frame: pd.DataFrame, schema: dict, data: DataParams, features: Features, findings: Findings
) -> None:
    roles = (data.target, data.id_column, data.datetime_column)
    missing = {
        "the target": [data.target],
        "the id column": [data.id_column] if data.id_column is not None else [],
        "the datetime column": [data.datetime_column] if data.datetime_column is not None else [],
        "features": [c for c in features.all if c not in roles],
    }
    missing = {role: [c for c in columns if c not in frame.columns] for role, columns in missing.items()}
    if any(missing.values()):
        inferred = data.features is None and bool(missing["features"])
        findings.errors.append(_missing_columns(missing, list(frame.columns), inferred))
    new = [str(c) for c in frame.columns if c not in schema]
    if new and data.features is None:
        findings.warnings.append(
            f"column(s) {', '.join(new)} are not in the schema and are not used; delete schema.yaml "
            "to infer a new schema that includes them."
        )


def _missing_columns(missing: dict[str, list[str]], columns: list, inferred: bool) -> str:
    """One sentence: the missing columns by role, the columns the data has, and the fix (``inferred``:
    some missing features come from schema.yaml)."""
    count = sum(map(len, missing.values()))
    if len(columns) == 1 and count > 1:  # the columns were not split: naming each adds nothing
        what = f"{count} columns named in params.yaml{' and schema.yaml' if inferred else ''} are"
    elif count == 1:
        [(role, [column])] = [(role, names) for role, names in missing.items() if names]
        where = "a feature in schema.yaml" if inferred else "a feature in params.yaml"
        what = f"column {column!r} ({where if role == 'features' else role + ' in params.yaml'}) is"
    else:
        parts = [f"{role} {_names(names, 80)}" for role, names in missing.items() if names]
        what = f"{count} columns ({'; '.join(parts)}) are"
    if len(columns) == 1:
        has = f"the data has a single column, {_names(columns, 50)}."
        fix = "Its column separator was not recognised: use , or ; or tab or |."
    else:
        has = f"the data has {len(columns)} columns: {_names(columns, 110)}."
        fix = "Add the column(s), or fix data.* in params.yaml"
        fix += ", or delete schema.yaml to infer the features again." if inferred else "."
    return f"{what} missing from the data; {has} {fix}"


def _names(names: Iterable, budget: int) -> str:
    """Quoted names joined by commas, cut short after about ``budget`` characters."""
    texts = [repr(n if len(n) <= 40 else n[:39] + "…") for n in map(str, names)]
    shown: list[str] = []
    for text in texts:
        if shown and len(", ".join([*shown, text])) > budget:
            break
        shown.append(text)
    rest = len(texts) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def _check_column(
    values: pd.Series, column: str, spec: dict | None, role: str, findings: Findings
) -> TextInNumbers | None:
    """Check a column as params.yaml uses it (``role``: numeric, categorical or datetime), whatever
    schema.yaml says its kind is; text where numbers belong is returned, for check_frame to group."""
    present = values.dropna()
    if present.empty:
        findings.errors.append(
            f"column '{column}' has no values at all. Fill it, or drop it from the features "
            "(data.features in params.yaml, or delete it from the table and schema.yaml)."
        )
        return None
    spec = spec or {}
    if role == "numeric":
        return _check_numeric(present, column, spec, findings)
    if role == "datetime":
        _check_dates(present, column, findings)
    elif "categories" in spec:
        unseen = sorted(set(present.astype(str)) - set(spec["categories"]))
        if unseen:
            findings.warnings.append(
                f"column '{column}' has categories not seen in the schema: {_names(unseen, 80)} (the model "
                "treats them as unknown)."
            )
    return None


def _check_dates(present: pd.Series, column: str, findings: Findings) -> None:
    if pd.api.types.is_bool_dtype(present) or pd.api.types.is_numeric_dtype(present):
        findings.errors.append(
            f"column '{column}' (data.datetime_column in params.yaml) holds numbers, not dates, e.g. "
            f"{_value(present.iloc[0])}. Set data.datetime_column to a column of dates (such as 2024-01-31), "
            "or to null for a random split."
        )
        return
    bad = present[_dates(present).isna()]
    if len(bad):
        findings.errors.append(
            f"column '{column}' (data.datetime_column in params.yaml) should hold dates but has {len(bad)} "
            f"value(s) that are not, e.g. {_value(bad.iloc[0])}. Fix those values, or set "
            "data.datetime_column to a column of dates, or to null for a random split."
        )


def _check_numeric(present: pd.Series, column: str, spec: dict, findings: Findings) -> TextInNumbers | None:
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        numbers = pd.to_numeric(present, errors="coerce")
        bad = present[numbers.isna()]
        if len(bad):
            comma = _comma_example(bad)
            if comma is not None:
                return TextInNumbers(len(bad), comma, "comma")
            # "params": params.yaml lists it as numeric, schema.yaml (or the data alone) says otherwise
            return TextInNumbers(
                len(bad), bad.iloc[0], "schema" if spec.get("kind") == "numeric" else "params"
            )
        present = numbers
    low, high = spec.get("min"), spec.get("max")
    outside = ((present < low) | (present > high)).sum() if low is not None else 0
    if outside:
        findings.warnings.append(
            f"column '{column}' has {outside} value(s) outside the schema range [{low}, {high}]."
        )
    return None


def _check_target(frame: pd.DataFrame, data: DataParams, findings: Findings) -> None:
    target = frame[data.target]
    present = target.dropna()
    name = data.target
    if present.empty:
        findings.errors.append(f"the target column '{name}' has no values. Fill it, or set data.target.")
        return
    if len(present) < len(target):
        findings.warnings.append(f"{len(target) - len(present)} row(s) without a target value are dropped.")
    if data.task == "regression":
        bad = present[pd.to_numeric(present, errors="coerce").isna()]
        if len(bad):
            example = _comma_example(bad)
            findings.errors.append(
                f"the target '{name}' must be numeric for task regression; "
                + (
                    f"{_value(example)} has a comma: {COMMA_FIX}"
                    if example is not None
                    else "use task binary or multiclass for labels."
                )
            )
        return
    classes = present.nunique()
    if classes < 2:
        findings.errors.append(
            f"the target '{name}' has a single class ({_value(present.iloc[0])}); a classifier needs at "
            "least two. Use data that holds both outcomes, or pick another data.target."
        )
    elif data.task == "binary" and classes > 2:
        findings.errors.append(
            f"the target '{name}' has {classes} classes but data.task is binary; set data.task to multiclass."
        )
    elif classes > MAX_CLASSES:
        findings.errors.append(
            f"the target '{name}' has {classes} distinct values, too many for classification; "
            "set data.task to regression if it is a quantity."
        )
    elif data.datetime_column is None:
        _check_stratifiable(frame, data, findings)


def _check_stratifiable(frame: pd.DataFrame, data: DataParams, findings: Findings) -> None:
    """A stratified random split puts each class in both sets, so each needs two rows or more, and
    rows with identical features count once (mlops.pipeline.split keeps them on one side: feature_groups)."""
    frame = frame.dropna(subset=[data.target])
    _, firsts = np.unique(feature_groups(frame, data), return_index=True)
    counts = frame[data.target].iloc[firsts].value_counts()
    rare = sorted(map(str, counts[counts < 2].index))
    if not rare:
        return
    rows = frame[data.target].astype(str).value_counts()
    names = _names(rare, 80)
    if all(rows[label] < 2 for label in rare):
        what = f"with a single row ({names})"
    else:  # some have more rows, but the same features: the split keeps those together
        what = f"with a single distinct row ({names}; rows whose features are all the same count once)"
    findings.errors.append(
        f"the target '{data.target}' has {len(rare)} class(es) {what}, but the random "
        "split (data.datetime_column is null) needs at least 2 rows of each class. Add rows of those "
        "classes, drop those rows, or merge those classes into others."
    )


def load_schema(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read the committed schema file."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["columns"]
    except FileNotFoundError:
        raise UserError(f"The schema file {path} is missing. Run `make run` to infer it from the data.")
    except (KeyError, TypeError, UnicodeDecodeError, yaml.YAMLError):
        raise UserError(
            f"The schema file {path} is not a valid schema. Delete it and run `make run` to infer it again."
        )


def save_schema(schema: dict[str, dict[str, Any]], path: str | Path) -> None:
    """Write the schema in a stable, reviewable order."""
    header = "# Data contract inferred from the data; edit ranges and categories to tighten it.\n"
    body = yaml.safe_dump(
        {"columns": schema}, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True
    )
    Path(path).write_text(header + body, encoding="utf-8")


def raise_if_errors(findings: Findings, source: str) -> None:
    """Stop with every schema error at once, so the user fixes them in one go (as many as fit in one
    readable paragraph; the rest are counted)."""
    if not findings.errors:
        return
    shown: list[str] = []
    for i, error in enumerate(findings.errors, 1):
        problem = f"({i}) {error}"
        if shown and len(" ".join([*shown, problem])) > MAX_MESSAGE:
            break
        shown.append(problem)
    rest = len(findings.errors) - len(shown)
    more = f" … and {rest} more problem(s) like these; fix these and run again to see them." if rest else ""
    raise UserError(f"{source} breaks the data contract: {' '.join(shown)}{more}")


def feature_groups(frame: pd.DataFrame, data: DataParams) -> np.ndarray:
    """A number per row, shared by rows whose features are identical (missing values included).

    Features are those params.yaml lists, else every column but the target, id and date.
    """
    roles = (data.target, data.id_column, data.datetime_column)
    columns = list(data.features.all) if data.features else [c for c in frame.columns if c not in roles]
    if not columns:
        return np.arange(len(frame))
    return frame.groupby(columns, dropna=False, sort=False, observed=True).ngroup().to_numpy()
