"""Benchmark Train Test Samples Mix as validate_model configures it, on large tables with leakage.

For each size, the example table is split 80/20 in order and half of the test rows (``--copied``)
are replaced by copies of training rows (records entered again). It prints the share of test rows
the check finds in the training set, and its time, for the check run on samples of
``validation.n_samples`` rows (what validate_model gave it before) and as configured now (every
training row up to ``checks.SAMPLES_MIX_ROWS``, which validate_model now gives it). Target: the
configured check finds all the copies up to that size. Run from the project root:

    .venv/bin/python bench/samples_mix.py                  # about 20 s
    .venv/bin/python bench/samples_mix.py --rows 20000 400000
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

from mlops.data import example_data
from mlops.params import load_params
from mlops.pipeline import checks, suites


def leaky_sets(rows: int, copied: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = example_data.generate(rows=rows).drop(columns=["customer_id", "signup_date"])
    cut = int(rows * 0.8)
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    copies = train.sample(int(len(test) * copied), random_state=0)
    return train, pd.concat([test.iloc[len(copies) :], copies])


def found(check, train: pd.DataFrame, test: pd.DataFrame, target: str) -> tuple[float, float]:
    """(share of test rows found in train, seconds)."""
    from deepchecks.tabular import Dataset

    categorical = [c for c in train.columns if train[c].dtype == object and c != target]
    sets = [Dataset(s, label=target, cat_features=categorical) for s in (train, test)]
    start = time.perf_counter()
    result = check.run(*sets, with_display=False)
    return result.value["ratio"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument("--copied", type=float, default=0.5, help="share of test rows copied")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    params = load_params()
    n_samples, target = params.validation.n_samples, params.data.target
    suite = suites.train_test_validation(params.data.task, n_samples, params.model.seed, 1.0)
    [configured] = [c for c in suite.checks.values() if c.name() == "Train Test Samples Mix"]
    sampled = type(configured)(n_samples=n_samples, random_state=params.model.seed)
    print(f"{args.copied:.0%} of the test rows copied from training rows; share found (seconds)")
    print(f"| rows | sampled ({n_samples:,} per set) | as configured (up to {checks.SAMPLES_MIX_ROWS:,}) |")
    print("|---:|---:|---:|")
    for size in args.rows:
        train, test = leaky_sets(size, args.copied)
        cells = [
            f"{share:.1%} ({seconds:.1f} s)"
            for share, seconds in (found(check, train, test, target) for check in (sampled, configured))
        ]
        print(f"| {size:,} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
