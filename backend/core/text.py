"""How the service writes numbers in the messages it sends (the dashboard shows them as they are)."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with thousands separators and its noun, singular for exactly one: "1 layer", "1,000 images"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def number(value: float, digits: int = 3) -> str:
    """A measured value as the dashboard writes it (``fmt`` in frontend/src/lib/common/format.ts): fixed
    ``digits`` decimals, exponent notation at or above 10⁴ and below 10⁻³, never "-0.000"."""
    if value != value or value in (float("inf"), float("-inf")):
        return "–"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude >= 1e4 or magnitude < 1e-3):
        return f"{value:.2e}".replace("e+0", "e+").replace("e-0", "e-")
    text = f"{value:,.{digits}f}"
    return text.removeprefix("-") if float(text.replace(",", "")) == 0 else text


def percent(fraction: float) -> str:
    """A fraction as the dashboard writes it: "12.3 %"."""
    return f"{fraction * 100:.1f} %"
