"""The two choices every view of a mode makes: which tokens are projected, and which sign.

Defined once here; the atlas format, the scoring kernel, the job's CLI and the HTTP API (and through
its OpenAPI schema the dashboard) all use these. See docs/method.md#projection-bases and
docs/method.md#signs.
"""

from __future__ import annotations

from enum import StrEnum


class Basis(StrEnum):
    """Which tokens are projected: ``faithful`` (the paper's residual stream) or ``exact`` (LN output)."""

    faithful = "faithful"
    exact = "exact"


class Sign(StrEnum):
    """Which signed mode: ``pos`` is ``(u, v)``, ``neg`` is ``(−u, −v)``."""

    pos = "pos"
    neg = "neg"


#: Every basis, in the order of an atlas's basis axis when both are built.
BASES: tuple[Basis, ...] = (Basis.faithful, Basis.exact)
#: Both signs, in the order of an atlas's sign axis (``0 = pos``, ``1 = neg``).
SIGNS: tuple[Sign, ...] = (Sign.pos, Sign.neg)
