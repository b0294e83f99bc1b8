"""The service's messages write counts as the dashboard does: thousands separators, singular for one."""

from __future__ import annotations

import pytest

from backend.core.text import count, number


@pytest.mark.parametrize(
    ("n", "one", "many", "expected"),
    [
        (1, "layer", None, "1 layer"),
        (0, "top image", None, "0 top images"),
        (12, "head", None, "12 heads"),
        (1000, "image", None, "1,000 images"),
        (1_281_167, "image", None, "1,281,167 images"),
        (2, "class", "classes", "2 classes"),
    ],
)
def test_count(n: int, one: str, many: str | None, expected: str) -> None:
    assert count(n, one, many) == expected


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [  # as frontend/src/lib/common/format.ts `fmt` writes them (checked with node)
        (0.0, 3, "0.000"),
        (1.23456, 3, "1.235"),
        (-0.0014, 2, "0.00"),
        (12345.6, 3, "1.23e+4"),
        (0.00012, 3, "1.20e-4"),
        (1234.5678, 3, "1,234.568"),
        (-2.5, 2, "-2.50"),
        (4.1749, 2, "4.17"),
    ],
)
def test_number(value: float, digits: int, expected: str) -> None:
    assert number(value, digits) == expected
