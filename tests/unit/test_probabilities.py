"""Probabilities in the fixed class order (zero, low, mid, high), whatever the model's order."""

from __future__ import annotations

import numpy as np

from occupancy.data.schema import CLASSES
from occupancy.probabilities import in_class_order


def test_columns_in_alphabetical_order_are_rearranged_by_name() -> None:
    proba = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    aligned = in_class_order(proba, ["high", "low", "mid", "zero"])
    np.testing.assert_array_equal(aligned, [[0.4, 0.2, 0.3, 0.1], [0.1, 0.3, 0.2, 0.4]])


def test_a_level_the_model_never_saw_gets_probability_zero() -> None:
    aligned = in_class_order(np.array([[0.25, 0.75]]), np.array(["mid", "zero"], dtype=object))
    np.testing.assert_array_equal(aligned, [[0.75, 0.0, 0.25, 0.0]])


def test_columns_already_in_class_order_are_returned_as_they_are() -> None:
    proba = np.eye(4)
    assert in_class_order(proba, CLASSES) is proba
