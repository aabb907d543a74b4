"""Reading the user's table (CSV or Parquet) with errors a person can act on.

A CSV's column separator (, ; tab |) is read from its first rows, and so is a decimal comma: with a
separator other than a comma, numbers like 3,5 and none like 3.5 mean the file uses decimal commas.
Only those first rows are parsed in Python; pandas' C parser reads the whole file. When the first
rows hold whole numbers only, the whole file read as text decides the decimal comma the same way.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.errors import UserError

SEPARATORS = (",", ";", "\t", "|")
SAMPLE_LINES = 200
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # Excel's "Unicode Text" export
DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+([eE][-+]?\d+)?")
THOUSANDS_COMMA = re.compile(r"[-+]?\d{1,3}(,\d{3})+")  # 1,234 may be 1234 or 1.234
DECIMAL_POINT = re.compile(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class CsvFormat:
    encoding: str = "utf-8-sig"  # also reads files without a byte-order mark
    sep: str = ","
    decimal: str = "."
    header: tuple[str, ...] = ()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; raise UserError if missing, unreadable, empty or with repeated names."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"The data file {path} does not exist. Put your table there, or set data.path in "
            "params.yaml to where it is (run `make run` to fetch or regenerate tracked data)."
        )
    try:
        frame = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except UnicodeDecodeError as error:
        raise UserError(
            f"Could not read {path}: it is not UTF-8 text (byte {error.object[error.start]:#04x} is not "
            'UTF-8). Save it as UTF-8, e.g. Excel\'s "CSV UTF-8" format.'
        )
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise UserError(
            f"Could not read {path} ({_one_line(error)}). Check that it is a valid {path.suffix[1:]} file."
        )
    if frame.empty:
        raise UserError(
            f"The data file {path} is empty (no rows). Put a table with a header row and data rows there."
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    found = sniff_csv(path)
    _raise_if_duplicates(path, found.header)
    frame = pd.read_csv(path, sep=found.sep, decimal=found.decimal, encoding=found.encoding)
    if found.sep != "," and found.decimal == "." and _decimal_commas(frame):
        frame = pd.read_csv(path, sep=found.sep, decimal=",", encoding=found.encoding)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    _raise_if_duplicates(path, pq.read_schema(path).names)
    return pd.read_parquet(path)


def sniff_csv(path: Path) -> CsvFormat:
    """The encoding, separator, decimal mark and header of a CSV, from its first lines."""
    with path.open("rb") as file:
        encoding = "utf-16" if file.read(2) in UTF16_BOMS else "utf-8-sig"
    with path.open(encoding=encoding, newline="") as file:
        lines = list(itertools.islice(file, SAMPLE_LINES))
    try:
        sep = _separator(lines)
        rows = _rows(lines, sep)
    except csv.Error:  # e.g. a field longer than the csv module allows: leave it to pandas
        return CsvFormat(encoding)
    header = tuple(rows[0]) if rows else ()
    return CsvFormat(encoding, sep, _decimal(rows[1:], sep), header)


def _rows(lines: list[str], sep: str) -> list[list[str]]:
    rows = [row for row in csv.reader(lines, delimiter=sep) if row]
    return rows[:-1] if len(lines) == SAMPLE_LINES and len(rows) > 1 else rows  # the last may be cut


def _separator(lines: list[str]) -> str:
    """The separator that splits the header into fields and every sampled row into as many (or,
    failing that, no more); a comma when that fits too, or when none fits."""
    exact, loose = [], []
    for sep in SEPARATORS:
        rows = _rows(lines, sep)
        if not rows or len(rows[0]) < 2:
            continue
        widths = {len(row) for row in rows[1:]}
        if max(widths, default=0) <= len(rows[0]):
            loose.append(sep)
        if widths <= {len(rows[0])}:
            exact.append(sep)
    for fitting in (exact, loose):
        if fitting:
            return "," if "," in fitting else fitting[0]
    return ","


def _decimal(rows: list[list[str]], sep: str) -> str:
    """',' when the rows hold numbers with a decimal comma and none with a decimal point."""
    if sep == ",":
        return "."
    return "," if _commas_not_points([field.strip() for row in rows for field in row]) else "."


def _commas_not_points(fields: list[str]) -> bool:
    """Some field is a number with a decimal comma, and none is one with a decimal point."""
    commas = any(DECIMAL_COMMA.fullmatch(f) and not THOUSANDS_COMMA.fullmatch(f) for f in fields)
    return commas and not any(DECIMAL_POINT.fullmatch(f) for f in fields)


def _decimal_commas(frame: pd.DataFrame) -> bool:
    """_decimal's rule on the whole table read with decimal points: a field with a decimal comma
    (left as text) and no number with a decimal point (read as a number with a fraction)."""
    fractions = any(
        (frame[c].dropna() % 1 != 0).any() for c in frame.columns if pd.api.types.is_float_dtype(frame[c])
    )
    if fractions:
        return False
    texts = frame.select_dtypes(include=["object", "string"])
    fields = [str(field).strip() for column in texts for field in texts[column].dropna().unique()]
    return _commas_not_points(fields)


def _raise_if_duplicates(path: Path, names: Iterable[str]) -> None:
    repeated = [name for name, count in Counter(names).items() if count > 1 and name != ""]
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise UserError(
            f"The data file {path} has more than one column named {listed}. Rename or remove the "
            "repeated columns so that each column name appears once in the header."
        )


def _one_line(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
