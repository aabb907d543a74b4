"""Reading the user's table (CSV or Parquet) with errors a person can act on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops.errors import UserError


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; raise UserError if it is missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"The data file {path} does not exist. Put your table there, or set data.path in "
            "params.yaml to where it is (run `make run` to fetch or regenerate tracked data)."
        )
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise UserError(f"Could not read {path} ({error}). Check that it is a valid {path.suffix[1:]} file.")
    if frame.empty:
        raise UserError(
            f"The data file {path} is empty (no rows). Put a table with a header row and data rows there."
        )
    return frame
