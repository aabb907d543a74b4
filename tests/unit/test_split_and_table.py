"""The split stage's core and reading the user's table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


def test_random_split_of_a_table_without_repeated_rows_is_sklearns(churn: pd.DataFrame, params: Params):
    from sklearn.model_selection import train_test_split

    data = dataclasses.replace(params.data, datetime_column=None)
    train, test = split(churn, data, params.split)
    expected = train_test_split(
        churn, test_size=params.split.test_size, random_state=params.split.seed, stratify=churn["churned"]
    )
    pd.testing.assert_frame_equal(train, expected[0])
    pd.testing.assert_frame_equal(test, expected[1])


def test_random_split_keeps_identical_feature_rows_on_one_side(churn: pd.DataFrame, params: Params):
    data = dataclasses.replace(params.data, datetime_column=None)
    features = [c for c in churn.columns if c not in ("customer_id", "churned")]
    copies = churn.sample(150, random_state=0).assign(customer_id=lambda f: f["customer_id"] + "-copy")
    copies.loc[copies.index[:20], "churned"] = 1 - copies["churned"].iloc[:20]  # conflicting targets too
    frame = pd.concat([churn, copies]).sample(frac=1, random_state=1).reset_index(drop=True)
    train, test = split(frame, data, params.split)
    again, _ = split(frame, data, params.split)
    assert list(train.index) == list(again.index)
    assert sorted([*train.index, *test.index]) == list(frame.index)
    assert not _rows(test, features).isin(_rows(train, features)).any()
    assert 0.15 < len(test) / len(frame) < 0.25
    assert abs(train["churned"].mean() - test["churned"].mean()) < 0.05


def _rows(frame: pd.DataFrame, columns: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[columns].astype(str))


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


@pytest.mark.parametrize(
    "write",
    [
        lambda frame, path: frame.to_csv(path, sep=";", decimal=",", index=False),
        lambda frame, path: frame.to_csv(path, sep="\t", index=False),
        lambda frame, path: frame.to_csv(path, sep="|", index=False),
        lambda frame, path: path.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(sep=";", index=False).encode()),
        lambda frame, path: path.write_bytes(frame.to_csv(sep="\t", index=False).encode("utf-16")),
    ],
    ids=["semicolon-decimal-comma", "tab", "pipe", "utf8-bom-semicolon", "utf16-tab"],
)
def test_read_table_finds_separator_decimal_comma_and_encoding(tmp_path: Path, churn: pd.DataFrame, write):
    churn.to_csv(tmp_path / "plain.csv", index=False)
    write(churn, tmp_path / "other.csv")
    pd.testing.assert_frame_equal(read_table(tmp_path / "other.csv"), read_table(tmp_path / "plain.csv"))


@pytest.mark.parametrize(
    ("content", "kept_as_text"),
    [
        ("id;price;weight\n1;3,5;1.5\n2;4,25;2.0\n", "3,5"),  # decimal points elsewhere: ambiguous
        ("id;price\n1;1,234\n2;2,500\n", "1,234"),  # thousands or decimals: ambiguous
        ('id,price\n1,"3,5"\n2,"4,25"\n', "3,5"),  # the separator is a comma
    ],
)
def test_read_table_reads_a_decimal_comma_only_when_unambiguous(tmp_path: Path, content: str, kept_as_text):
    path = tmp_path / "t.csv"
    path.write_text(content)
    assert read_table(path)["price"].iloc[0] == kept_as_text


@pytest.mark.parametrize(
    ("late_row", "expected"),
    [("9;22,37", 22.37), ("9;22,37\n10;1.5", "22,37")],  # a decimal point later on: still ambiguous
    ids=["decimal-commas", "and-a-decimal-point"],
)
def test_read_table_finds_decimal_commas_after_the_first_lines(tmp_path: Path, late_row: str, expected):
    """The first lines hold whole numbers only: the rest of the file decides, by the same rule."""
    path = tmp_path / "t.csv"
    path.write_text("id;price\n" + "".join(f"{i};{i % 50}\n" for i in range(300)) + late_row + "\n")
    assert read_table(path)["price"].iloc[300] == expected


def test_read_table_keeps_commas_in_a_semicolon_header(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("price, EUR;qty\n3,5;2\n10;4\n")
    frame = read_table(path)
    assert list(frame.columns) == ["price, EUR", "qty"]
    assert frame["price, EUR"].tolist() == [3.5, 10.0]


def test_read_table_rejects_duplicate_column_names_in_a_csv(tmp_path: Path, churn: pd.DataFrame):
    pd.concat([churn, churn[["age", "plan"]]], axis=1).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(UserError) as error:
        read_table(tmp_path / "t.csv")
    message = str(error.value)
    assert "has more than one column named 'age', 'plan'" in message
    assert "Rename or remove the repeated columns" in message
    assert "\n" not in message


def test_read_table_rejects_duplicate_column_names_in_parquet(tmp_path: Path):
    pq.write_table(pa.table([[1, 2], [3, 4], [5, 6]], names=["age", "plan", "age"]), tmp_path / "t.parquet")
    with pytest.raises(UserError, match="has more than one column named 'age'"):
        read_table(tmp_path / "t.parquet")


def test_read_table_names_a_file_that_is_not_utf8(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_bytes("region;n\nRéunion;1\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"it is not UTF-8 text \(byte 0xe9 is not UTF-8\). Save it as UTF-8"):
        read_table(path)
