"""Feedback labels must be what the model could have predicted, with errors naming the index."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from mlops.serving.feedback import Labels, check_labels, label_check

ID = "0123456789abcdef0123456789abcdef-4"


@pytest.mark.parametrize(
    ("classes", "good", "bad"),
    [
        ([0, 1], [0, 1], ["1", 1.5, 1.0, True, None, [1], 2]),
        (["no", "yes"], ["yes"], [1, True, "YES", None]),
        ([False, True], [True, False], [1, 0, "true"]),
        ([0.5, 1.5], [0.5, 1.5], [True, "0.5", 1]),
        (None, [3, -2.5, 0], [True, "1", None, float("nan"), float("inf")]),
    ],
)
def test_labels_must_match_the_classes_in_type_and_value(classes: list | None, good: list, bad: list) -> None:
    check = label_check(classes)
    assert [check(value) for value in good] == [None] * len(good)
    assert all(check(value) for value in bad), [(value, check(value)) for value in bad]


def test_a_bad_label_is_a_validation_error_naming_its_index_and_the_classes() -> None:
    labels = [{"prediction_id": ID, "label": 1}, {"prediction_id": ID, "label": "maybe"}]
    with pytest.raises(ValidationError) as error:
        check_labels(labels, label_check([0, 1]))  # type: ignore[arg-type]
    [detail] = error.value.errors(include_context=False, include_input=False)
    assert detail["loc"] == ("labels", 1, "label")
    assert detail["msg"] == 'labels[1].label: "maybe" is not one of the classes [0, 1]'


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"label": 1}, "prediction_id"),
        ({"prediction_id": "42", "label": 1}, "prediction_id"),
        ({"prediction_id": ID.upper(), "label": 1}, "prediction_id"),
        ({"prediction_id": ID}, "label"),
        ({"prediction_id": ID, "label": 1, "extra": 2}, "extra"),
    ],
)
def test_the_body_needs_a_well_formed_id_and_a_label(item: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        TypeAdapter(Labels).validate_python([{"prediction_id": ID, "label": 0}, item])
    assert [e["loc"] for e in error.value.errors()] == [(1, field)]


def test_the_body_holds_one_to_ten_thousand_labels() -> None:
    adapter = TypeAdapter(Labels)
    for count in (0, 10_001):
        with pytest.raises(ValidationError):
            adapter.validate_python([{"prediction_id": ID, "label": 0}] * count)
