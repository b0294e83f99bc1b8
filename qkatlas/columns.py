"""The columns of an atlas: one per signed mode of every basis, in one order everywhere.

The top-K, the statistics and the scoring kernel all hold one column per ``(basis, layer, head, mode,
sign)``, flattened in that order (the sign varies fastest): column
``(((basis·L + layer)·H + head)·M + mode)·2 + sign``. ``ColumnLayout`` is the only place that order is
written down; everything that flattens, unflattens or slices columns asks it. Basis and sign are
axis positions here (``qkatlas.conventions.BASES`` / ``SIGNS`` name them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from qkatlas.conventions import SIGNS


class ColumnPosition(NamedTuple):
    """Where a column sits: each axis's position (``sign``: 0 = pos, 1 = neg)."""

    basis: int
    layer: int
    head: int
    mode: int
    sign: int


class ColumnAxes(NamedTuple):
    """Every column's position, one ``[n_columns]`` int64 array per axis, in column order."""

    basis: np.ndarray
    layer: np.ndarray
    head: np.ndarray
    mode: np.ndarray
    sign: np.ndarray


@dataclass(frozen=True)
class ColumnLayout:
    """``n_bases × n_layers × n_heads × n_modes × 2`` columns, flattened in that order.

    A *block* is the columns of one (basis, layer): ``n_heads · n_modes · 2``, in which column
    ``(head·M + mode)·2 + sign`` is a signed mode of the scoring kernel's projection column ``head·M + mode``.
    A layout of one basis numbers the columns *within* a basis (what the atlas's per-basis tables use).
    """

    n_bases: int
    n_layers: int
    n_heads: int
    n_modes: int

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(B, L, H, M, 2)``: the shape the atlas's per-column arrays take."""
        return (self.n_bases, self.n_layers, self.n_heads, self.n_modes, len(SIGNS))

    @property
    def n_columns(self) -> int:
        return self.n_bases * self.basis_size

    @property
    def n_blocks(self) -> int:
        """(basis, layer) blocks."""
        return self.n_bases * self.n_layers

    @property
    def block_size(self) -> int:
        """Columns of one (basis, layer)."""
        return self.n_heads * self.n_modes * len(SIGNS)

    @property
    def basis_size(self) -> int:
        """Columns of one basis."""
        return self.n_layers * self.block_size

    def column(self, position: ColumnPosition) -> int:
        """The flat column at ``position``."""
        basis, layer, head, mode, sign = position
        for value, size in zip(position, self.shape, strict=True):
            if not 0 <= value < size:
                raise IndexError(f"column position {tuple(position)} is outside the layout {self.shape}")
        return (((basis * self.n_layers + layer) * self.n_heads + head) * self.n_modes + mode) * len(SIGNS) + sign

    def position(self, column: int) -> ColumnPosition:
        """Where the flat ``column`` sits."""
        if not 0 <= column < self.n_columns:
            raise IndexError(f"column {column} is outside the layout's {self.n_columns} columns")
        rest, sign = divmod(column, len(SIGNS))
        rest, mode = divmod(rest, self.n_modes)
        rest, head = divmod(rest, self.n_heads)
        basis, layer = divmod(rest, self.n_layers)
        return ColumnPosition(basis, layer, head, mode, sign)

    def block(self, basis: int, layer: int) -> slice:
        """The columns of one (basis, layer)."""
        start = (basis * self.n_layers + layer) * self.block_size
        return slice(start, start + self.block_size)

    def basis(self, basis: int) -> slice:
        """The columns of one basis."""
        return slice(basis * self.basis_size, (basis + 1) * self.basis_size)

    @staticmethod
    def mode_and_sign(block_columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Columns within a block (an integer tensor) → ``(head·M + mode, sign)``: the scoring
        kernel's projection column and the sign position."""
        return block_columns // len(SIGNS), block_columns % len(SIGNS)

    def axes(self) -> ColumnAxes:
        """Every column's position (the array form of ``position``)."""
        return ColumnAxes(*(axis.reshape(-1) for axis in np.indices(self.shape, dtype=np.int64)))

    def per_mode(self, values: np.ndarray) -> np.ndarray:
        """``values [L, H, M]`` (one per mode) → ``[n_columns]``: each mode's value for both its signs,
        in every basis."""
        if values.shape != self.shape[1:4]:
            raise ValueError(f"per-mode values have shape {values.shape}, expected {self.shape[1:4]}")
        return np.tile(np.repeat(values.reshape(-1), len(SIGNS)), self.n_bases)
