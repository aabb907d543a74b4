"""Deterministic example data: a customer-churn table with an optional drifted later period.

The same arguments always give the same bytes, so data.dvc can pin the bundled example and
anyone can regenerate it offline. ``period`` moves the sign-up window forward (six months per
period) and ``drift`` (0 to 1) shifts prices, product mix, support load and churn behaviour,
which later stages use to exercise retraining and drift monitoring.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLE_ROWS = 20_000
EXAMPLE_SEED = 7
START = pd.Timestamp("2024-01-01")
PERIOD_DAYS = 182

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["card", "bank-transfer", "e-check", "mailed-check"]
INTERNET = ["dsl", "fiber", "none"]
REGIONS = ["north", "south", "east", "west", "central", "islands"]
PLANS = ["basic", "standard", "premium"]


def generate(
    rows: int = EXAMPLE_ROWS, seed: int = EXAMPLE_SEED, period: int = 0, drift: float = 0.0
) -> pd.DataFrame:
    """Return the churn table: ids, a sign-up date, numeric and categorical features, ``churned``."""
    rng = np.random.default_rng([seed, period])
    start = START + pd.Timedelta(days=PERIOD_DAYS * period)
    signup = start + pd.to_timedelta(np.sort(rng.integers(0, PERIOD_DAYS * 2, rows)), unit="D")

    contract = rng.choice(CONTRACTS, rows, p=[0.55 + 0.1 * drift, 0.25, 0.20 - 0.1 * drift])
    internet = rng.choice(INTERNET, rows, p=[0.35 - 0.15 * drift, 0.45 + 0.15 * drift, 0.20])
    plan_score = rng.normal(0, 1, rows) + (internet == "fiber") * 0.8
    plan = np.select([plan_score < -0.3, plan_score < 0.9], PLANS[:2], PLANS[2])
    tenure = np.clip(rng.gamma(2.0, 12.0, rows) + (contract != "month-to-month") * 12, 0, 72).astype(int)
    base_price = {"basic": 25.0, "standard": 55.0, "premium": 90.0}
    monthly = (
        pd.Series(plan).map(base_price).to_numpy()
        + (internet == "fiber") * 15
        + rng.normal(0, 6, rows)
        + 10 * drift
    ).round(2)
    total = (monthly * np.maximum(tenure, 1) * rng.uniform(0.9, 1.05, rows)).round(2)
    tickets = rng.poisson(0.8 + 1.2 * drift + (internet == "fiber") * 0.5, rows)
    session = np.clip(rng.normal(35, 12, rows) - 4 * drift, 1, None).round(1)
    age = np.clip(rng.normal(44, 14, rows), 18, 90).astype(int)

    logit = (
        -2.2
        + 1.4 * (contract == "month-to-month")
        - 0.045 * tenure
        + 0.022 * (monthly - 60)
        + 0.35 * tickets
        + 0.5 * (internet == "fiber")
        - 0.02 * (session - 35)
        + 0.6 * drift * (rng.random(rows) < 0.5)
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{period:02d}{i:06d}" for i in range(rows)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_tickets": tickets,
            "avg_session_minutes": session,
            "contract": contract,
            "payment_method": rng.choice(PAYMENTS, rows, p=[0.4, 0.25, 0.25, 0.1]),
            "internet_service": internet,
            "region": rng.choice(REGIONS, rows, p=[0.22, 0.2, 0.2, 0.2, 0.15, 0.03]),
            "plan": plan,
            "paperless_billing": rng.choice(["yes", "no"], rows, p=[0.6, 0.4]),
            "churned": churned,
        }
    )
    for column, rate in (
        ("total_charges", 0.02),
        ("avg_session_minutes", 0.05),
        ("payment_method", 0.01),
    ):
        frame.loc[rng.random(rows) < rate, column] = np.nan
    return frame


def history(
    rows: int = EXAMPLE_ROWS, seed: int = EXAMPLE_SEED, periods: int = 1, drift: float = 0.0
) -> pd.DataFrame:
    """Periods 0 to ``periods - 1`` one after the other: the example after ``periods - 1`` refreshes,
    every period after the first drifted by ``drift``. One period is ``generate(rows, seed)``."""
    frames = [generate(rows, seed, period, drift if period else 0.0) for period in range(periods)]
    return pd.concat(frames, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write with fixed formatting so the bytes never depend on the platform."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="CSV file to write, e.g. data/churn.csv")
    parser.add_argument("--rows", type=int, default=EXAMPLE_ROWS)
    parser.add_argument("--seed", type=int, default=EXAMPLE_SEED)
    parser.add_argument("--period", type=int, default=0, help="later periods start 6 months apart")
    parser.add_argument("--drift", type=float, default=0.0, help="0 (none) to 1 (strong)")
    parser.add_argument("--periods", type=int, help="periods 0 to N-1 one after the other (see history)")
    args = parser.parse_args()
    if args.periods:
        frame = history(args.rows, args.seed, args.periods, args.drift)
    else:
        frame = generate(args.rows, args.seed, args.period, args.drift)
    write_csv(frame, args.output)


if __name__ == "__main__":
    main()
