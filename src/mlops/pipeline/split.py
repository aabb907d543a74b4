"""Stage split: hold out the latest rows (time-based) or a stratified random share as the test set."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.data.schema import feature_groups
from mlops.data.table import read_table
from mlops.errors import UserError, cli
from mlops.params import DataParams, SplitParams, load_params
from mlops.timings import timed


def split(frame: pd.DataFrame, data: DataParams, params: SplitParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test frames; rows without a target are dropped first."""
    frame = frame.dropna(subset=[data.target])
    if data.datetime_column:
        # Cut between dates, never inside one, so no date is in both sets (no leakage).
        when = pd.to_datetime(frame[data.datetime_column])
        cutoff = when.quantile(1 - params.test_size)
        return frame[when < cutoff], frame[when >= cutoff]
    return random_split(frame, data, params)


def random_split(
    frame: pd.DataFrame, data: DataParams, params: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified random split that keeps rows with identical features on one side.

    Repeated rows would otherwise be in both sets, so the test score would partly measure recall
    of training rows. The first row of each group is split; the others follow it. On a table
    without repeated rows this is exactly sklearn's train_test_split of the rows.
    """
    from sklearn.model_selection import train_test_split

    groups = feature_groups(frame, data)
    _, firsts = np.unique(groups, return_index=True)
    stratify = None if data.task == "regression" else frame[data.target].to_numpy()[firsts]
    try:
        train, test = train_test_split(
            firsts, test_size=params.test_size, random_state=params.seed, stratify=stratify
        )
    except ValueError as error:
        raise UserError(
            f"Cannot split the data into train and test sets: {str(error).rstrip('.')}. Add rows for "
            "the rarest class, or change split.test_size in params.yaml. (Rows with identical features count "
            "once: the split keeps them on the same side.)"
        )
    return frame.iloc[with_group(groups, train)], frame.iloc[with_group(groups, test)]


def with_group(groups: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Positions of all rows in the groups of the ``chosen`` positions, group by group in that order."""
    rank = np.full(groups.max() + 1, -1)
    rank[groups[chosen]] = np.arange(len(chosen))
    rows = np.flatnonzero(rank[groups] >= 0)
    return rows[np.argsort(rank[groups][rows], kind="stable")]


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("train", type=Path, help="Parquet file to write")
    parser.add_argument("test", type=Path, help="Parquet file to write")
    args = parser.parse_args()
    with timed("split"):
        params = load_params()
        train, test = split(read_table(args.data), params.data, params.split)
        for frame, path in ((train, args.train), (test, args.test)):
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)


if __name__ == "__main__":
    main()
