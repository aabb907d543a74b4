"""Which Deepchecks checks run and why some do not, the leakage thresholds, and what to do when a
blocking check fails. Pure: importing this module does not import Deepchecks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.params import NEVER_RUN, DataParams, ValidationParams

if TYPE_CHECKING:
    import pandas as pd

# Checks that apply to some tasks only (Deepchecks raises "Check is irrelevant for ... tasks").
TASK_ONLY = {
    "Conflicting Labels": ("binary", "multiclass"),
    "New Label Train Test": ("binary", "multiclass"),
    "Roc Report": ("binary", "multiclass"),
    "Confusion Matrix Report": ("binary", "multiclass"),
    "Calibration Score": ("binary", "multiclass"),
    "Regression Error Distribution": ("regression",),
}
# Checks that need a column role params.yaml may leave unset (any one of those listed).
NEEDS_ROLE = {
    "Identifier Label Correlation": ("id_column", "datetime_column"),
    "Index Train Test Leakage": ("id_column",),
    "Date Train Test Leakage Duplicates": ("datetime_column",),
    "Date Train Test Leakage Overlap": ("datetime_column",),
}

# Feature Label Correlation Change fails when one feature alone predicts the target this well on the
# training set (PPS, 0 to 1): a copy of the target, or something computed from it. Measured on
# 150-600-row tables: the strongest healthy feature reached 0.95-0.97 in classification (iris petal
# width; the example's price for its plan, with duplicate rows) and 0.70 in regression, while a copy
# of the target scored 1.00 in classification and 0.97-0.99 in regression, where the PPS's decision
# tree cannot reach 1 on values it has not seen.
LEAKAGE_PPS = {"binary": 0.99, "multiclass": 0.99, "regression": 0.95}
# A larger train-test PPS difference is a warning only: on a test set of 30-120 rows healthy
# features differed by up to 0.67, so Deepchecks' default (fail at 0.2) blocked healthy tables.
PPS_CHANGE_WARNING = 0.2

# Train Test Samples Mix fails when more test rows repeat a training row (features and target) than
# the share of training rows that repeat one another, by more than chance explains: rows of a few
# distinct values repeat naturally (in a table of categories, 82% of test rows were in train, and 82%
# of training rows repeated another), while records entered again later are repeats the training set
# lacks. Chance: the two shares are measured on samples, so their difference varies: by 4.4 points
# (SD) over random time splits of a healthy table where 30% of rows repeat another, with 170 test
# rows, and a fixed 5-point margin failed 13% of those splits. The allowance is the larger of
# SAMPLES_MIX_MARGIN and SAMPLES_MIX_Z standard errors of a difference of two shares (pooled, as in a
# two-proportion test). Over 100,000 random time splits each of three healthy tables where 10% to 32%
# of rows repeat another, with 60 to 170 test rows, 2 to 8 failed; a test set with half its rows
# copied from training rows still failed every time, and one with 30% copied 68% to 88% of the time.
SAMPLES_MIX_MARGIN = 0.05
SAMPLES_MIX_Z = 5.0
# Rows of each set Train Test Samples Mix looks at, whatever validation.n_samples: on a sample of the
# training set most copies of a test row are missed (half of the test set copied from training rows
# showed as 15% on 5,000-row samples of a 20,000-row table, 2.8% of a 100,000-row one). Up to this size
# the check sees every training row: about 5 s at 100,000 rows (bench/samples_mix.py).
SAMPLES_MIX_ROWS = 100_000

# Checks that raise when the test set has a class the model never saw: Deepchecks looks its labels up
# among the model's classes.
NEED_KNOWN_CLASSES = ("Weak Segments Performance", "Calibration Score")
# How a class of the test set that the training set lacks is described (the gate gives it its remedy).
NEW_CLASS = "which the training set lacks"


def samples_mix_allowed(train: pd.DataFrame, columns: list[str], test_rows: int) -> float:
    """The largest share of the test set's rows that may repeat a training row, given how often
    training rows repeat one another and how many rows each set has (see SAMPLES_MIX_Z)."""
    import numpy as np

    repeats = float(train[columns].duplicated(keep=False).mean())
    test_rows, train_rows = max(test_rows, 1), max(len(train), 1)
    # Deepchecks measures count / test_rows, so the allowed share is one of these.
    share = np.arange(test_rows + 1) / test_rows
    pooled = (share * test_rows + repeats * train_rows) / (test_rows + train_rows)
    noise = SAMPLES_MIX_Z * np.sqrt(pooled * (1 - pooled) * (1 / test_rows + 1 / train_rows))
    return float(share[share - repeats <= np.maximum(SAMPLES_MIX_MARGIN, noise)].max())


def skipped(data: DataParams, validation: ValidationParams) -> dict[str, str]:
    """Every check that will not run for this data, with the reason, so none is left out silently."""
    reasons = dict(NEVER_RUN)
    for check, tasks in TASK_ONLY.items():
        if data.task not in tasks:
            reasons[check] = f"does not apply to {data.task} tasks"
    for check, roles in NEEDS_ROLE.items():
        if not any(getattr(data, role) for role in roles):
            reasons[check] = f"needs data.{' or data.'.join(roles)} in params.yaml"
    for check in validation.skip_checks:
        reasons[check] = "listed in validation.skip_checks in params.yaml"
    return reasons


def skipped_for_new_classes(new_classes: list) -> dict[str, str]:
    """The checks that cannot run on a test set with classes the model never saw, with the reason."""
    if not new_classes:
        return {}
    listed = ", ".join(f"'{c}'" for c in new_classes)
    return dict.fromkeys(
        NEED_KNOWN_CLASSES,
        f"the test set has class {listed}, {NEW_CLASS} (New Label Train Test reports it)",
    )


def unblock(check: str) -> str:
    """How to accept a blocking check's failure: the last sentence of every remedy."""
    return f"To accept it, remove '{check}' from validation.blocking_checks in params.yaml."


REMEDIES = {
    "Train Test Samples Mix": (
        "More test rows repeat a training row (same features and target) than training rows repeat one "
        "another, by more than chance explains, so the test score partly measures memory. The random "
        "split keeps identical rows on one side, so with a time split (data.datetime_column) records "
        "were entered again at later dates: keep one row per record. "
    ),
    "New Label Train Test": (
        "The test set has target classes the training set lacks, which the model cannot predict. Add "
        "training rows of those classes (with a time split: older ones), or merge or drop rare classes. "
    ),
    "Feature Label Correlation Change": (
        "A feature alone predicts the target almost perfectly on the training set (PPS at least "
        f"{LEAKAGE_PPS['binary']} for classes, {LEAKAGE_PPS['regression']} for regression): it is most "
        "likely a copy of the target or computed from it (leakage). Remove it from the table or from "
        "data.features; if it is genuinely that predictive, the problem may be too easy to need a model. "
    ),
    "Is Single Value": (
        "A feature has a single value in every row (missing values aside), so it carries no information "
        "and often means a broken extract. Fix the extract, or leave the column out of data.features. "
    ),
    "Date Train Test Leakage Overlap": (
        "Some test rows are dated before the last training date, so the model saw the future. The split "
        "cuts between dates, so the dates were read differently: write data.datetime_column as ISO dates "
        "(YYYY-MM-DD), one time zone. "
    ),
    "Index Train Test Leakage": (
        "Some ids (data.id_column) are in both train and test: the same entity is in both, so the test "
        "score is optimistic. Remove repeated ids if each should be one row; if an id legitimately has "
        "many rows (a customer over time), set data.id_column to a unique row id, or to null. "
    ),
}


def remedy(check_name: str) -> str:
    """What a failure of a blocking check means, what to do (for the defaults) and how to unblock."""
    return REMEDIES.get(check_name, "") + unblock(check_name)
