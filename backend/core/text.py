"""How the service writes numbers in the messages it sends (the dashboard shows them as they are)."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with thousands separators and its noun, singular for exactly one: "1 layer", "1,000 images"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def number(value: float, digits: int = 3) -> str:
    """A measured value as the dashboard writes it (frontend/src/lib/common/format.ts ``fmt``): ``digits``
    decimals with thousands separators, in exponent notation from 10⁴ or below 10⁻³; never "-0.000"."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude >= 1e4 or magnitude < 1e-3):
        return f"{value:.2e}".replace("e+0", "e+").replace("e-0", "e-")
    text = f"{value:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def percent(fraction: float) -> str:
    """A fraction as the dashboard writes it: "12.3 %"."""
    return f"{fraction * 100:.1f} %"
