"""``ColumnLayout`` against an independent enumeration of the documented order: nested loops over
basis, layer, head, mode and sign, the sign innermost."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qkatlas.columns import ColumnLayout, ColumnPosition

SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (1, 2, 3, 4), (2, 1, 6, 2)]


def _enumerated(layout: ColumnLayout) -> list[ColumnPosition]:
    return [
        ColumnPosition(basis, layer, head, mode, sign)
        for basis in range(layout.n_bases)
        for layer in range(layout.n_layers)
        for head in range(layout.n_heads)
        for mode in range(layout.n_modes)
        for sign in range(2)
    ]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_column_round_trips_in_the_documented_order(shape: tuple[int, int, int, int]) -> None:
    layout = ColumnLayout(*shape)
    expected = _enumerated(layout)
    assert layout.n_columns == len(expected) == int(np.prod(layout.shape))
    for column, position in enumerate(expected):
        assert layout.column(position) == column
        assert layout.position(column) == position
    axes = layout.axes()
    assert [ColumnPosition(*(int(axis[c]) for axis in axes)) for c in range(layout.n_columns)] == expected
    # the atlas's arrays reshape the flat columns to ``shape`` in the same order
    flat = np.arange(layout.n_columns)
    for column, position in enumerate(expected):
        assert flat.reshape(layout.shape)[position] == column


@pytest.mark.parametrize("shape", SHAPES)
def test_slices_hold_exactly_their_columns(shape: tuple[int, int, int, int]) -> None:
    layout = ColumnLayout(*shape)
    columns = np.arange(layout.n_columns)
    expected = _enumerated(layout)
    for basis in range(layout.n_bases):
        assert [expected[c].basis for c in columns[layout.basis(basis)]] == [basis] * layout.basis_size
        for layer in range(layout.n_layers):
            block = columns[layout.block(basis, layer)]
            assert [(expected[c].basis, expected[c].layer) for c in block] == [(basis, layer)] * layout.block_size
            within = torch.from_numpy(block - block[0])
            mode, sign = ColumnLayout.mode_and_sign(within)
            heads_modes = [expected[c].head * layout.n_modes + expected[c].mode for c in block]
            assert mode.tolist() == heads_modes and sign.tolist() == [expected[c].sign for c in block]
    assert layout.n_blocks * layout.block_size == layout.n_columns


def test_per_mode_values_fill_both_signs_of_every_basis() -> None:
    layout = ColumnLayout(2, 2, 3, 2)
    values = np.arange(12).reshape(2, 3, 2)
    spread = layout.per_mode(values)
    for column, position in enumerate(_enumerated(layout)):
        assert spread[column] == values[position.layer, position.head, position.mode]
    with pytest.raises(ValueError, match="shape"):
        layout.per_mode(values.reshape(3, 2, 2))


def test_positions_outside_the_layout_are_refused() -> None:
    layout = ColumnLayout(1, 2, 2, 2)
    with pytest.raises(IndexError):
        layout.position(layout.n_columns)
    with pytest.raises(IndexError):
        layout.column(ColumnPosition(0, 2, 0, 0, 0))
