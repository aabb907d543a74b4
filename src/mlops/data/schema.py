"""The data contract: infer a schema once, then hold every later table to it.

Schema skew (a column missing, a type changed, no values at all, an unusable target) is an
error that stops the pipeline before training. Value skew (unseen categories, values out of
the recorded range) is a warning that the report shows and Deepchecks measures as drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops.errors import UserError
from mlops.params import DataParams, Features

MAX_CATEGORIES = 50
MAX_CLASSES = 50
# A number written with a comma: a decimal comma (3,5) or thousands separators (1,234,567.5).
COMMA_NUMBER = r"[-+]?(\d+(,\d{3})*([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?"


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def infer_schema(frame: pd.DataFrame, data: DataParams) -> dict[str, dict[str, Any]]:
    """Describe each column: its kind, and its categories or range."""
    return {column: _describe(frame[column], column == data.datetime_column) for column in frame.columns}


def _describe(values: pd.Series, is_datetime: bool) -> dict[str, Any]:
    present = values.dropna()
    if is_datetime:
        dates = pd.to_datetime(present, errors="coerce")
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


def _comma_hint(bad: pd.Series) -> str:
    """Among values that are not numbers, one written with a comma and how to fix it; or ""."""
    text = bad.astype(str).str.strip()
    commas = text[text.str.contains(",", regex=False) & text.str.fullmatch(COMMA_NUMBER)]
    if commas.empty:
        return ""
    return (
        f"{commas.iloc[0]!r} has a comma: write numbers with a decimal point and no thousands separator "
        "(3.5, 1234), or use decimal commas throughout a ';'-separated file."
    )


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
    for column in (*features.all, data.datetime_column):
        if column is None or column not in frame.columns:
            continue
        _check_column(frame[column], column, schema.get(column), column in features.categorical, findings)
    if not findings.errors and data.target in frame.columns:
        _check_target(frame[data.target], data, findings)
    return findings


def _check_roles(
    frame: pd.DataFrame, schema: dict, data: DataParams, features: Features, findings: Findings
) -> None:
    roles = (data.target, data.datetime_column)
    missing = {
        "the target": [data.target],
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
    if count == 1:
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
    values: pd.Series, column: str, spec: dict | None, categorical: bool, findings: Findings
) -> None:
    present = values.dropna()
    if present.empty:
        findings.errors.append(
            f"column '{column}' has no values at all. Fill it, or drop it from the features "
            "(data.features in params.yaml, or delete it from the table and schema.yaml)."
        )
        return
    if spec is None:
        return
    kind = "categorical" if categorical else spec["kind"]
    if kind == "numeric":
        _check_numeric(present, column, spec, findings)
    elif kind == "datetime":
        bad = present[pd.to_datetime(present, errors="coerce").isna()]
        if len(bad):
            findings.errors.append(
                f"column '{column}' should hold dates but has {len(bad)} value(s) that are not, e.g. "
                f"{bad.iloc[0]!r}. Fix those values, or change data.datetime_column in params.yaml."
            )
    elif kind == "categorical" and "categories" in spec:
        unseen = sorted(set(present.astype(str)) - set(spec["categories"]))
        if unseen:
            findings.warnings.append(
                f"column '{column}' has categories not seen in the schema: {', '.join(unseen[:5])}"
                f"{' …' if len(unseen) > 5 else ''} (the model treats them as unknown)."
            )


def _check_numeric(present: pd.Series, column: str, spec: dict, findings: Findings) -> None:
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        numbers = pd.to_numeric(present, errors="coerce")
        bad = present[numbers.isna()]
        if len(bad):
            findings.errors.append(
                f"column '{column}' should be numeric but has {len(bad)} value(s) that are not numbers: "
                + (
                    _comma_hint(bad)
                    or f"e.g. {bad.iloc[0]!r}. Fix those values, or delete schema.yaml if the column "
                    "really changed type."
                )
            )
            return
        present = numbers
    low, high = spec.get("min"), spec.get("max")
    outside = ((present < low) | (present > high)).sum() if low is not None else 0
    if outside:
        findings.warnings.append(
            f"column '{column}' has {outside} value(s) outside the schema range [{low}, {high}]."
        )


def _check_target(target: pd.Series, data: DataParams, findings: Findings) -> None:
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
            findings.errors.append(
                f"the target '{name}' must be numeric for task regression; "
                + (_comma_hint(bad) or "use task binary or multiclass for labels.")
            )
        return
    classes = present.nunique()
    if classes < 2:
        findings.errors.append(
            f"the target '{name}' has a single class ({present.iloc[0]!r}); a classifier needs at "
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
        _check_stratifiable(present, name, findings)


def _check_stratifiable(present: pd.Series, name: str, findings: Findings) -> None:
    """A stratified random split puts each class in both sets, so each needs two rows or more."""
    counts = present.value_counts()
    rare = sorted(map(str, counts[counts < 2].index))
    if len(rare):
        findings.errors.append(
            f"the target '{name}' has {len(rare)} class(es) with a single row ({_names(rare, 80)}), but the "
            "random split (data.datetime_column is null) needs at least 2 rows of each class. Add rows "
            "of those classes, drop those rows, or merge those classes into others."
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
    """Stop with every schema error at once, so the user fixes them in one go."""
    if findings.errors:
        problems = " ".join(f"({i}) {e}" for i, e in enumerate(findings.errors, 1))
        raise UserError(f"{source} breaks the data contract: {problems}")
