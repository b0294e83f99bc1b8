"""The service's messages write counts as the dashboard does: thousands separators, singular for one."""

from __future__ import annotations

import pytest

from backend.core.text import count


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
