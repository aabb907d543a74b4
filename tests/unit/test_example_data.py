"""The example generator: same arguments give the same bytes; drift moves the distributions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops.data import example_data
from mlops.data.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]


def test_same_arguments_give_the_same_bytes(tmp_path: Path):
    first, second = tmp_path / "a" / "churn.csv", tmp_path / "b" / "churn.csv"
    example_data.write_csv(example_data.generate(rows=800), first)
    example_data.write_csv(example_data.generate(rows=800), second)
    assert first.read_bytes() == second.read_bytes()
    assert b"\r\n" not in first.read_bytes()


def test_another_seed_gives_other_data():
    assert not example_data.generate(rows=300, seed=1).equals(example_data.generate(rows=300, seed=2))


def test_columns_are_the_committed_schema():
    """schema.yaml is the contract of the bundled example: the generator writes exactly its columns."""
    assert list(example_data.generate(rows=50).columns) == list(load_schema(ROOT / "schema.yaml"))


def test_missing_values_where_the_example_has_them():
    frame = example_data.generate(rows=3000)
    missing = frame.isna().mean()
    assert set(missing[missing > 0].index) == {"total_charges", "avg_session_minutes", "payment_method"}
    assert 0.01 < frame["churned"].mean() < 0.5


def test_later_period_starts_later():
    base, later = example_data.generate(rows=500), example_data.generate(rows=500, period=1)
    base_dates, later_dates = pd.to_datetime(base["signup_date"]), pd.to_datetime(later["signup_date"])
    assert later_dates.min() >= example_data.START + pd.Timedelta(days=example_data.PERIOD_DAYS)
    assert later_dates.min() > base_dates.min()
    assert later["customer_id"].iloc[0].startswith("C01")


@pytest.fixture(scope="module")
def drifted() -> tuple[pd.DataFrame, pd.DataFrame]:
    return example_data.generate(rows=5000), example_data.generate(rows=5000, drift=1.0)


def test_drift_changes_distributions(drifted):
    base, drift = drifted
    assert drift["monthly_charges"].mean() > base["monthly_charges"].mean() + 5
    assert drift["support_tickets"].mean() > base["support_tickets"].mean() + 0.5
    assert drift["avg_session_minutes"].mean() < base["avg_session_minutes"].mean() - 2
    share = lambda frame, column, value: (frame[column] == value).mean()  # noqa: E731
    assert share(drift, "contract", "month-to-month") > share(base, "contract", "month-to-month") + 0.05
    assert share(drift, "internet_service", "fiber") > share(base, "internet_service", "fiber") + 0.05
    assert drift["churned"].mean() > base["churned"].mean() + 0.05
    assert list(drift.columns) == list(base.columns)
