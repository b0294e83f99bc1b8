"""How the service writes numbers in the messages it sends (the dashboard shows them as they are)."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with thousands separators and its noun, singular for exactly one: "1 layer", "1,000 images"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
