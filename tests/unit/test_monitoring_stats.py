"""Drift (PSI with a noise floor), skew and the verdict: pure functions on arrays and counts."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.monitoring import drift, skew
from mlops.monitoring.verdict import Reason, verdict, worst_first


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return np.random.default_rng(0).normal(50, 10, 20_000)


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift(reference):
    binning = drift.numeric_binning(reference)
    assert len(binning.reference) == drift.BINS
    rng = np.random.default_rng(1)
    values = [
        drift.psi(binning.reference, drift.live_counts(binning, rng.normal(50 + s, 10, 50_000)))
        for s in (0, 2, 5, 10)
    ]
    assert values[0] < 0.005
    assert values == sorted(values) and values[-1] > 0.5


def test_noise_level_shrinks_with_the_sample_and_raises_small_sample_thresholds(reference):
    binning = drift.numeric_binning(reference)
    small, large = (drift.live_counts(binning, reference[:n]) for n in (100, 5000))
    assert (
        drift.noise_level(binning.reference, small) > 0.2 > 0.01 > drift.noise_level(binning.reference, large)
    )
    assert drift.level(0.15, noise=0.3, warn=0.1, alert=0.2) == "ok"  # noise could make it
    assert drift.level(0.15, noise=0.01, warn=0.1, alert=0.2) == "warn"
    assert drift.level(0.35, noise=0.3, warn=0.1, alert=0.2) == "alert"


def test_no_false_drift_on_in_distribution_samples(reference):
    binning = drift.numeric_binning(reference)
    rng = np.random.default_rng(2)
    levels = [drift.compare(binning, rng.normal(50, 10, 300), 0.1, 0.2)["level"] for _ in range(200)]
    assert levels.count("ok") == 200


def test_repeated_values_get_fewer_bins_and_both_sides_bin_alike():
    counts = np.random.default_rng(3).poisson(0.8, 10_000).astype(float)
    binning = drift.numeric_binning(counts)
    assert 2 <= len(binning.reference) < drift.BINS
    assert drift.compare(binning, counts[:5000], 0.1, 0.2)["psi"] < 0.01
    assert drift.compare(binning, counts[:5000] + 1, 0.1, 0.2)["level"] == "alert"


def test_categories_get_a_bin_each_and_one_for_unseen_values():
    binning = drift.categorical_binning({"a": 500, "b": 300, "c": 200})
    assert binning.labels == ["a", "b", "c", drift.OTHER]
    assert list(drift.live_counts(binning, {"a": 5, "z": 2})) == [5, 0, 0, 2]
    same = drift.compare(binning, {"a": 250, "b": 150, "c": 100}, 0.1, 0.2)
    flipped = drift.compare(binning, {"a": 100, "b": 150, "c": 250}, 0.1, 0.2)
    assert same["psi"] < 0.001 and same["level"] == "ok"
    assert flipped["level"] == "alert"
    assert [b["bin"] for b in same["bins"]] == ["a", "b", "c"]  # bins empty on both sides are left out


def test_empty_bins_do_not_make_psi_infinite():
    assert np.isfinite(drift.psi(np.array([100, 0, 0]), np.array([0, 0, 50])))


def test_unseen_categories_are_counted_with_examples():
    found = skew.unseen_categories({"a": 90, "x": 6, "y": 4}, known={"a", "b"})
    assert found == {"count": 10, "share": 0.1, "examples": ["x", "y"]}
    assert skew.level(found["share"], 0.01) == "alert"
    assert skew.level(0.005, 0.01) == "info" and skew.level(0.0, 0.01) == "ok"


def test_out_of_range_counts_below_and_above_and_ignores_nulls():
    found = skew.out_of_range(np.array([1.0, 5.0, np.nan, 11.0, 12.0]), 2, 10)
    assert (found["count"], found["below"], found["above"], found["share"]) == (3, 1, 2, 0.75)
    assert skew.out_of_range(np.array([1.0]), None, None)["count"] == 0


def test_null_rates_compare_live_with_training():
    assert skew.null_rates(30, 100, 5, 100) == {"live": 0.3, "training": 0.05, "increase": 0.25}


def test_verdict_is_the_worst_level_and_retrain_follows_retrain_on():
    reasons = [Reason("ok", "volume", "v"), Reason("info", "input", "i"), Reason("warn", "drift", "w")]
    assert verdict(reasons, ("drift",)) == ("warn", False)
    assert verdict([*reasons, Reason("alert", "skew", "s")], ("drift",)) == ("alert", False)
    assert verdict([*reasons, Reason("alert", "drift", "d")], ("drift",)) == ("alert", True)
    assert verdict([Reason("info", "volume", "few")], ("drift",)) == ("ok", False)
    assert [r.level for r in worst_first(reasons)] == ["warn", "info", "ok"]
