"""The split stage's core and reading the user's table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from mlops.data.table import read_table
from mlops.errors import UserError
from mlops.params import Params
from mlops.pipeline.split import split


def test_time_based_split_puts_the_latest_dates_in_test(churn: pd.DataFrame, params: Params):
    train, test = split(churn, params.data, params.split)
    assert len(train) + len(test) == len(churn)
    assert pd.to_datetime(train["signup_date"]).max() < pd.to_datetime(test["signup_date"]).min()
    assert 0.1 < len(test) / len(churn) < 0.3


def test_random_split_is_stratified_and_seeded(churn: pd.DataFrame, params: Params):
    data = dataclasses.replace(params.data, datetime_column=None)
    train, test = split(churn, data, params.split)
    again, _ = split(churn, data, params.split)
    assert list(train.index) == list(again.index)
    assert len(test) == round(len(churn) * params.split.test_size)
    assert abs(train["churned"].mean() - test["churned"].mean()) < 0.02


def test_rows_without_target_are_dropped(churn: pd.DataFrame, params: Params):
    churn.loc[:9, "churned"] = None
    train, test = split(churn, params.data, params.split)
    assert len(train) + len(test) == len(churn) - 10


def test_unsplittable_data_is_a_user_error(churn: pd.DataFrame, params: Params):
    data = dataclasses.replace(params.data, datetime_column=None)
    churn.loc[0, "churned"] = 2  # a class with a single row cannot be stratified
    with pytest.raises(UserError, match="Cannot split the data"):
        split(churn, data, params.split)


def test_read_table_csv_and_parquet(tmp_path: Path, churn: pd.DataFrame):
    churn.to_csv(tmp_path / "t.csv", index=False)
    churn.to_parquet(tmp_path / "t.parquet", index=False)
    assert len(read_table(tmp_path / "t.csv")) == len(churn)
    assert list(read_table(tmp_path / "t.parquet").columns) == list(churn.columns)


@pytest.mark.parametrize(("content", "expected"), [("", "is empty"), ("a,b\n", "is empty")])
def test_read_table_empty(tmp_path: Path, content: str, expected: str):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(UserError, match=expected):
        read_table(path)


def test_read_table_missing_or_unreadable(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(UserError, match="Could not read"):
        read_table(tmp_path / "bad.parquet")
