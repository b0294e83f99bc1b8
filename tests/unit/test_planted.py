"""The planted-mode model: its heads decompose into the planted colour modes, and its projections
light up the painted regions of generated images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qkatlas.models import ViTAdapter, load_model
from qkatlas.models.base import PlantedMode
from qkatlas.models.planted import (
    DIMS,
    PLANTED_MODES,
    generate_planted_images,
    read_planted_index,
)


@pytest.fixture(scope="module")
def planted() -> ViTAdapter:
    return load_model("planted")


def _brute_force_svd(adapter: ViTAdapter, layer: int, head: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U [d, d_h], σ [d_h], V [d, d_h]`` of ``W_qᵀ W_k`` by a full numpy SVD."""
    weights = adapter.layer_weights(layer)
    matrix = (weights.w_q[head].T @ weights.w_k[head]).numpy()
    u, sigma, vt = np.linalg.svd(matrix)
    d_head = adapter.spec.d_head
    return u[:, :d_head], sigma[:d_head], vt[:d_head].T


def _unit(dim: int, size: int) -> np.ndarray:
    vector = np.zeros(size)
    vector[dim] = 1.0
    return vector


def test_spec_and_preprocessing(planted: ViTAdapter) -> None:
    spec = planted.spec
    assert (spec.n_layers, spec.n_heads, spec.d_head, spec.grid) == (2, 2, 16, 8)
    assert spec.prefix_kinds == ("cls",)
    assert planted.preprocessing.crop == spec.image_size == 64
    assert planted.source is not None and planted.source.id == "planted"


@pytest.mark.parametrize("mode", PLANTED_MODES, ids=lambda m: f"L{m.layer}H{m.head}M{m.mode}")
def test_svd_recovers_planted_directions(planted: ViTAdapter, mode: PlantedMode) -> None:
    u, sigma, v = _brute_force_svd(planted, mode.layer, mode.head)
    d_model = planted.spec.d_model
    assert sigma[mode.mode] == pytest.approx(mode.sigma, rel=1e-6)
    # The SVD fixes (u, v) only up to a joint sign flip.
    sign = np.sign(u[:, mode.mode] @ _unit(DIMS[mode.query], d_model))
    np.testing.assert_allclose(sign * u[:, mode.mode], _unit(DIMS[mode.query], d_model), atol=1e-6)
    np.testing.assert_allclose(sign * v[:, mode.mode], _unit(DIMS[mode.key], d_model), atol=1e-6)
    cosine = u[:, mode.mode] @ v[:, mode.mode]
    assert cosine == pytest.approx(1.0 if mode.kind == "grouping" else 0.0, abs=1e-6)


def test_planted_modes_dominate_and_are_separated(planted: ViTAdapter) -> None:
    _u, sigma, _v = _brute_force_svd(planted, 0, 0)
    assert sigma[0] > 2 * sigma[1] > 4 * sigma[2]
    assert np.all(np.diff(sigma) < 0)  # no degenerate pairs
    assert np.all(sigma > 0.2)


def test_generator_is_deterministic_and_indexed(tmp_path: Path) -> None:
    first = generate_planted_images(tmp_path / "a", n=8, seed=3)
    second = generate_planted_images(tmp_path / "b", n=8, seed=3)
    assert [d for _p, d in first] == [d for _p, d in second]
    for (path_a, _), (path_b, _) in zip(first, second, strict=True):
        assert path_a.read_bytes() == path_b.read_bytes()
    records = read_planted_index(tmp_path / "a")
    assert [r.description for r in records] == [d for _p, d in first]
    assert records[0].description == "red + blue" and set(records[0].cells) == {"red", "blue"}
    assert records[4].description == "grey only" and not records[4].cells


def _model_input(adapter: ViTAdapter, path: Path) -> torch.Tensor:
    size = adapter.preprocessing.crop
    image = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).unsqueeze(0)
    return adapter.normalize(pixels)


def _projections(
    adapter: ViTAdapter, pixels: torch.Tensor, layer: int, head: int, mode: int, basis: str
) -> tuple[np.ndarray, np.ndarray]:
    """Query and key maps ``[T, T]`` of one mode on one image (patch tokens only)."""
    captured: dict[int, torch.Tensor] = {}

    def on_layer(index: int, residual: torch.Tensor, normed: torch.Tensor) -> None:
        captured[index] = residual if basis == "faithful" else normed

    adapter.run_with_capture(pixels, on_layer)
    tokens = captured[layer][0, adapter.spec.n_prefix :].double().numpy()
    u, _sigma, v = _brute_force_svd(adapter, layer, head)
    mode_def = next(m for m in PLANTED_MODES if (m.layer, m.head, m.mode) == (layer, head, mode))
    sign = np.sign(u[DIMS[mode_def.query], mode])
    grid = adapter.spec.grid
    return (
        (tokens @ (sign * u[:, mode])).reshape(grid, grid),
        (tokens @ (sign * v[:, mode])).reshape(grid, grid),
    )


@pytest.mark.parametrize("basis", ["faithful", "exact"])
def test_red_only_image_lights_up_red_cells_on_query_side(planted: ViTAdapter, tmp_path: Path, basis: str) -> None:
    paths = generate_planted_images(tmp_path, n=2, seed=0)
    record = read_planted_index(tmp_path)[1]
    assert record.description == "red"
    query_map, key_map = _projections(planted, _model_input(planted, paths[1][0]), 0, 0, 0, basis)
    red = np.zeros_like(query_map, dtype=bool)
    for row, col in record.cells["red"]:
        red[row, col] = True
    assert query_map[red].min() > 0.5 * query_map.max() > 0
    assert np.abs(query_map[~red]).max() < 0.1 * query_map.max()
    assert key_map.max() < 0.1 * query_map.max()  # no blue anywhere


def test_red_blue_image_lights_up_both_sides(planted: ViTAdapter, tmp_path: Path) -> None:
    paths = generate_planted_images(tmp_path, n=1, seed=5)
    record = read_planted_index(tmp_path)[0]
    query_map, key_map = _projections(planted, _model_input(planted, paths[0][0]), 0, 0, 0, "exact")
    top_query = np.unravel_index(np.argmax(query_map), query_map.shape)
    top_key = np.unravel_index(np.argmax(key_map), key_map.shape)
    assert tuple(int(i) for i in top_query) in [tuple(c) for c in record.cells["red"]]
    assert tuple(int(i) for i in top_key) in [tuple(c) for c in record.cells["blue"]]


def test_model_attention_follows_the_planted_mode(planted: ViTAdapter, tmp_path: Path) -> None:
    paths = generate_planted_images(tmp_path, n=1, seed=5)
    record = read_planted_index(tmp_path)[0]
    probs = planted.attention_probs(_model_input(planted, paths[0][0]))[0][0, 0]  # layer 0 head 0
    grid, n_prefix = planted.spec.grid, planted.spec.n_prefix
    red_row, red_col = record.cells["red"][0]
    query_token = n_prefix + red_row * grid + red_col
    blue_tokens = [n_prefix + r * grid + c for r, c in record.cells["blue"]]
    assert probs[query_token, blue_tokens].sum() > 0.99
