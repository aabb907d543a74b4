"""Read the service's prediction and feedback logs into Arrow tables, one row per record.

Under the root (a directory or any fsspec URL): ``predictions/<YYYY-MM-DD>/<HHMMSS>-<host>-<pid>-<seq>.jsonl``
and ``feedback/<YYYY-MM-DD>/…``, one JSON line per request or per feedback. pyarrow parses each file
with an explicit schema built from the features, so an all-null column keeps its type. A file that
does not parse (a corrupt line, a last line cut while being written, a value of the wrong type) is
split in halves until the bad lines are isolated; they are skipped and counted, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from mlops.errors import UserError
from mlops.params import Features

BLOCK_SIZE = 32 << 20  # one line (a request of up to 10,000 records) must fit in a parse block
DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Logs:
    """What was read: one row per predicted record, one per feedback, and what was skipped."""

    root: str
    found: bool  # the root exists
    files: dict[str, int]
    predictions: pa.Table
    feedback: pa.Table
    truncated: pa.Table  # one row per request and feature the service truncated: model_version, feature
    notes: list[str] = field(default_factory=list)


def prediction_schema(features: Features, target: pa.DataType, classes: list[str]) -> pa.Schema:
    """The schema of a prediction line: numeric features float, categorical ones text."""
    record = pa.struct(
        [(name, pa.float64()) for name in features.numeric]
        + [(name, pa.string()) for name in features.categorical]
    )
    fields = [
        ("time", pa.string()),
        ("request_id", pa.string()),
        ("model_version", pa.string()),
        ("records", pa.list_(record)),
        ("predictions", pa.list_(target)),
        ("truncated", pa.list_(pa.string())),
    ]
    if classes:
        fields.append(("probabilities", pa.list_(pa.struct([(c, pa.float64()) for c in classes]))))
    return pa.schema(fields)


def feedback_schema(target: pa.DataType) -> pa.Schema:
    return pa.schema([("time", pa.string()), ("prediction_id", pa.string()), ("label", target)])


def parse_lines(data: bytes, schema: pa.Schema) -> tuple[pa.Table, int]:
    """The lines that parse, and how many did not (blank lines are neither)."""
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        return pj.read_json(pa.py_buffer(data), pj.ReadOptions(block_size=BLOCK_SIZE), options), 0
    except pa.ArrowInvalid:
        lines = [line for line in data.split(b"\n") if line.strip()]
        if len(lines) <= 1:
            return schema.empty_table(), len(lines)
    half = len(lines) // 2
    head, bad_head = parse_lines(b"\n".join(lines[:half]), schema)
    tail, bad_tail = parse_lines(b"\n".join(lines[half:]), schema)
    return pa.concat_tables([head, tail]), bad_head + bad_tail


def explode(lines: pa.Table, features: Features, classes: list[str]) -> tuple[pa.Table, int]:
    """One row per record (time, request_id, index, model_version, features, prediction, one
    ``proba:<class>`` column per class), and the number of lines that lack a field or whose lists
    differ in length."""
    count = pc.list_value_length(lines["records"])
    ok = pc.and_(
        pc.is_valid(lines["request_id"]), pc.equal(count, pc.list_value_length(lines["predictions"]))
    )
    if classes:
        ok = pc.and_(ok, pc.equal(count, pc.list_value_length(lines["probabilities"])))
    good = lines.filter(pc.fill_null(ok, False))
    records = good["records"].combine_chunks()
    parent = pc.list_parent_indices(records)
    offsets = records.offsets.to_numpy()
    index = np.arange(len(parent), dtype=np.int64) + offsets[0] - offsets[parent.to_numpy()]
    flat = pc.list_flatten(records)
    columns = {name: pc.take(good[name], parent) for name in ("time", "request_id", "model_version")}
    columns["index"] = pa.array(index)
    columns.update({name: flat.field(name) for name in features.all})
    columns["prediction"] = pc.list_flatten(good["predictions"])
    if classes:
        proba = pc.list_flatten(good["probabilities"].combine_chunks())
        columns.update({f"proba:{c}": proba.field(c) for c in classes})
    return pa.table(columns), lines.num_rows - good.num_rows


def truncated_features(lines: pa.Table) -> pa.Table:
    """One row per request and feature whose logged values the service truncated."""
    names = lines["truncated"]
    parent = pc.list_parent_indices(names)
    return pa.table(
        {"model_version": pc.take(lines["model_version"], parent), "feature": pc.list_flatten(names)}
    )


def since_date(text: str, today: date) -> date:
    """The first day to read for ``--since``: ``7d`` (the last 7 days and today) or a date."""
    match = re.fullmatch(r"(\d+)d", text.strip())
    if match:
        return today - timedelta(days=int(match.group(1)))
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--since is {text!r}; give a number of days (7d) or a date (2026-01-31).")


def list_files(fs: fsspec.AbstractFileSystem, root: str, kind: str, since: date | None) -> list[str]:
    """The ``.jsonl`` files under ``root/kind/<date>/``, oldest first, from ``since`` on."""
    folder = f"{root.rstrip('/')}/{kind}"
    if not fs.isdir(folder):
        return []
    days = sorted(
        path
        for path in fs.ls(folder, detail=False)
        if DATE_FOLDER.fullmatch(name := path.rstrip("/").rsplit("/", 1)[-1])
        and (since is None or name >= since.isoformat())
    )
    return [path for day in days for path in sorted(fs.glob(f"{day.rstrip('/')}/*.jsonl"))]


def read_logs(
    root: str, features: Features, target: pa.DataType, classes: list[str], since: date | None = None
) -> Logs:
    """Every prediction and feedback line under ``root`` (from ``since`` on), with notes on what
    was skipped and why."""
    fs, path = fsspec.core.url_to_fs(root)
    logs = Logs(root, fs.exists(path), {}, pa.table({}), pa.table({}), pa.table({}))
    schema = prediction_schema(features, target, classes)
    tables, truncated = [], []
    for name in _listed(fs, path, "predictions", since, logs):
        lines = _read_file(fs, name, schema, logs)
        table, malformed = explode(lines, features, classes)
        _note(logs, name, malformed, "lack a field or have lists of different lengths")
        tables.append(table)
        truncated.append(truncated_features(lines))
    empty = explode(schema.empty_table(), features, classes)[0]
    logs.predictions = pa.concat_tables(tables) if tables else empty
    logs.truncated = pa.concat_tables(truncated) if truncated else truncated_features(schema.empty_table())
    schema = feedback_schema(target)
    feedback = [_read_file(fs, name, schema, logs) for name in _listed(fs, path, "feedback", since, logs)]
    logs.feedback = pa.concat_tables(feedback) if feedback else schema.empty_table()
    return logs


def _listed(fs, path: str, kind: str, since: date | None, logs: Logs) -> list[str]:
    names = list_files(fs, path, kind, since)
    logs.files[kind] = len(names)
    return names


def _read_file(fs, name: str, schema: pa.Schema, logs: Logs) -> pa.Table:
    data = fs.cat_file(name)
    table, corrupt = parse_lines(data, schema)
    cut = corrupt and not data.endswith(b"\n")
    _note(
        logs, name, corrupt, "are not valid log lines" + (" (the last one cut: still being written?)" * cut)
    )
    return table


def _note(logs: Logs, name: str, count: int, what: str) -> None:
    if count:
        logs.notes.append(f"{count} corrupt line(s) skipped in {name}: they {what}.")
