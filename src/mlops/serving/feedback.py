"""The body of ``POST /feedback`` and the check of each label against the model's target.

A label must be what the model could have predicted: for a classifier, one of its ``classes_`` with
the same JSON type (for classes [0, 1], 1 is a label and "1", 1.5 and true are not); for a regressor,
a finite number. A bad label is a pydantic ValidationError naming ``labels[i].label``, so BentoML
answers it 400 as it does a bad /predict body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import ConfigDict, Field
from pydantic_core import PydanticCustomError, ValidationError
from typing_extensions import TypedDict

MAX_LABELS = 10_000
PREDICTION_ID = r"^[0-9a-f]{32}-[0-9]+$"  # the request id (uuid4 hex), then the record's index


class Label(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    prediction_id: Annotated[str, Field(pattern=PREDICTION_ID, description="as /predict answered it")]
    label: Annotated[Any, Field(description="one of the classes /predict answers; a number for regression")]


Labels = Annotated[list[Label], Field(min_length=1, max_length=MAX_LABELS)]


def label_check(classes: list[Any] | None) -> Callable[[Any], str | None]:
    """A function giving what is wrong with one label, or None; ``classes`` None means regression."""
    if classes is None:
        return lambda value: (
            None
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            else f"{json.dumps(value)} is not a finite number"
        )
    kinds = {type(c) for c in classes}
    allowed: tuple[type, ...] = (int, float) if kinds <= {int, float} and float in kinds else tuple(kinds)
    known = set(classes)

    def check(value: Any) -> str | None:
        same_type = isinstance(value, allowed) and (isinstance(value, bool) == (bool in kinds))
        if same_type and value in known:
            return None
        return f"{json.dumps(value)} is not one of the classes {json.dumps(classes)}"

    return check


def check_labels(labels: list[Label], check: Callable[[Any], str | None]) -> None:
    """Raise a ValidationError naming every bad label's index, as pydantic does for the body."""
    errors = []
    for i, item in enumerate(labels):
        if (problem := check(item["label"])) is not None:
            error = PydanticCustomError(
                "label", "labels[{index}].label: {problem}", {"index": i, "problem": problem}
            )
            errors.append({"type": error, "loc": ("labels", i, "label"), "input": item["label"]})
    if errors:
        raise ValidationError.from_exception_data("Feedback", errors)
