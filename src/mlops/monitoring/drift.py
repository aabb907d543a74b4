"""Value drift: the population stability index (PSI) of live values against the training data's.

PSI = sum over bins of (live share - training share) * ln(live share / training share). Numbers are
binned on the training data's deciles, categories by value plus one bin for values training never
saw; nulls are left out (the skew check compares null rates). Each bin gets half a count before
shares are taken, so that an empty bin does not make PSI infinite.

PSI is an effect size: about 0.1 for a moderate shift and 0.2-0.25 for a major one, at any sample
size, so large samples do not flag trivial shifts the way a bare p-value does. On few records,
noise alone gives sizeable values (n * PSI is about chi-square with bins - 1 degrees of freedom),
so a threshold only counts where it is above what noise reaches with probability 0.1%.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import stats

BINS = 10
SMOOTHING = 0.5  # counts added to every bin
NOISE_QUANTILE = 0.999
OTHER = "(other)"  # the bin of categories the training data lacks


@dataclass(frozen=True)
class Binning:
    """How one feature is binned, and the training data's count in each bin."""

    edges: np.ndarray | None  # numbers: the inner bin edges
    categories: tuple[str, ...] | None  # categories: one bin each, then OTHER
    reference: np.ndarray

    @property
    def labels(self) -> list[str]:
        if self.categories is not None:
            return [*self.categories, OTHER]
        edges = [f"{e:.4g}" for e in self.edges]
        if not edges:
            return ["all"]
        inner = [f"{low} to {high}" for low, high in pairwise(edges)]
        return [f"< {edges[0]}", *inner, f">= {edges[-1]}"]


def numeric_binning(values: np.ndarray) -> Binning:
    """Decile bins of the training values (fewer where values repeat, as in counts)."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return Binning(np.array([]), None, np.array([0]))
    edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
    edges = edges[edges > values.min()]  # no bin that nothing can fall below
    return Binning(edges, None, numeric_counts_in(edges, values))


def categorical_binning(counts: dict[str, int]) -> Binning:
    categories = tuple(sorted(counts))
    return Binning(None, categories, np.array([counts[c] for c in categories] + [0]))


def numeric_counts_in(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    values = values[~np.isnan(values)]
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def live_counts(binning: Binning, values: np.ndarray | dict[str, int]) -> np.ndarray:
    """Live counts per bin: ``values`` is an array of numbers or a mapping of category to count."""
    if binning.categories is None:
        return numeric_counts_in(binning.edges, np.asarray(values, dtype=float))
    known = [values.get(c, 0) for c in binning.categories]
    return np.array([*known, sum(values.values()) - sum(known)])


def psi(reference: np.ndarray, live: np.ndarray) -> float:
    """PSI of two count vectors over the same bins; bins empty in both are left out."""
    used = (reference + live) > 0
    ref = reference[used] + SMOOTHING
    new = live[used] + SMOOTHING
    ref, new = ref / ref.sum(), new / new.sum()
    return float(np.sum((new - ref) * np.log(new / ref)))


def noise_level(reference: np.ndarray, live: np.ndarray) -> float:
    """The PSI that identical distributions exceed with probability 0.1% at these sample sizes."""
    bins = int(((reference + live) > 0).sum())
    n, m = live.sum(), reference.sum()
    if bins < 2 or n == 0 or m == 0:
        return 0.0
    return float(stats.chi2.ppf(NOISE_QUANTILE, bins - 1) * (1 / n + 1 / m))


def level(value: float, noise: float, warn: float, alert: float) -> str:
    """ok, warn or alert: each threshold raised to the noise level where that is higher."""
    if value >= max(alert, noise):
        return "alert"
    if value >= max(warn, noise):
        return "warn"
    return "ok"


def compare(binning: Binning, live: np.ndarray | dict[str, int], warn: float, alert: float) -> dict:
    """One feature's (or the predictions') drift: PSI, noise level, verdict and the bin shares."""
    counts = live_counts(binning, live)
    value, noise = psi(binning.reference, counts), noise_level(binning.reference, counts)
    shares = [_shares(binning.reference), _shares(counts)]
    return {
        "psi": round(value, 4),
        "noise": round(noise, 4),
        "level": level(value, noise, warn, alert),
        "records": int(counts.sum()),
        "bins": [
            {"bin": label, "training": round(float(a), 4), "live": round(float(b), 4)}
            for label, a, b in zip(binning.labels, *shares, strict=True)
            if a or b
        ],
    }


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)
