"""A tiny ViT with hand-set weights whose query-key modes respond to known colours (model id
``'planted'``), and a generator of synthetic images to run it on.

Construction (a timm ``VisionTransformer``: 64 px input, 8 px patches → 8 × 8 grid, one CLS token,
width ``d = 32``, 2 layers, 2 heads of ``d_h = 16``; preprocessing: exact resize to 64 px, mean 0,
std 1, so pixels are in ``[0, 1]``):

* **Patch embedding** maps a patch's mean colour ``(r, g, b)`` to three colour-detector dimensions
  ``red = s·(r − (g+b)/2)``, ``green = s·(g − (r+b)/2)``, ``blue = s·(b − (r+g)/2)`` (``s = 4``;
  all zero on grey) and writes two constant dimensions ``+c`` and ``−c`` (``c = 4``) through its
  bias. The colour dimensions always sum to zero and the constants cancel, so every token has mean
  exactly 0 over its ``d`` entries: LayerNorm (γ = 1, β = 0) only divides by the token's RMS, which
  the constants keep within a factor 1.4 across all colours — the colour signal keeps its sign and
  ordering in both bases (faithful: the residual; exact: LN output). Position embeddings are zero;
  the CLS token holds only the two constants.
* **Residual stream**: attention output projections and MLPs are zero, so every block sees the same
  tokens (block 1's modes act on the same colour features).
* **Query/key weights**: for a head, row ``i`` of ``W_q`` is ``a_i·p_i`` and of ``W_k`` is
  ``b_i·q_i`` with orthonormal ``{p_i}`` and orthonormal ``{q_i}``, so ``M = W_qᵀ W_k`` has exactly
  the singular modes ``σ_i = a_i·b_i``, ``u_i = p_i``, ``v_i = q_i``. The planted modes
  (``PLANTED_MODES``) take the largest σ; the remaining rows are weak modes (σ from 0.5 down to 0.24,
  cos 0) on dimensions the residual never uses. q/k biases are zero.

  - layer 0, head 0, mode 0 (σ = 9): u = e_red, v = e_blue — red patches attend to blue patches
    (contextual, cos 0);
  - layer 0, head 0, mode 1 (σ = 4): u = v = e_green — green patches group with green (cos 1);
  - layer 1, head 0, mode 0 (σ = 9): u = e_green, v = e_red — green patches attend to red (cos 0);
  - layer 0 head 1 and layer 1 head 1 carry weak modes only.

Modes come out of an SVD up to a joint sign flip of ``(u, v)``; the listed directions are those of
the ``pos`` sign when the largest-magnitude entry of ``u`` is made positive. The adapter carries
``PLANTED_MODES`` in its ``ModelSpec``, so the atlas manifest lists them (``model.planted_modes``:
place, sign and what their pages should show) and the dashboard can point at them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from PIL import Image, ImageDraw
from timm.layers.attention import Attention
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from qkatlas.conventions import Sign
from qkatlas.images.preprocessing import Preprocessing

from .base import PlantedKind, PlantedMode
from .timm_vit import TimmViTAdapter

PLANTED_MODEL_ID = "planted"
IMAGE_SIZE = 64
PATCH_SIZE = 8
WIDTH = 32
DEPTH = 2
N_HEADS = 2
D_HEAD = WIDTH // N_HEADS
COLOUR_SCALE = 4.0
CONSTANT = 4.0

#: Residual-stream dimensions of the colour detectors and the two constants.
DIMS = {"red": 0, "green": 1, "blue": 2, "plus_constant": 3, "minus_constant": 4}
_FIRST_FREE_DIM = 5

PREPROCESSING = Preprocessing(
    crop=IMAGE_SIZE,
    resize=IMAGE_SIZE,
    resize_mode="exact",
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    interpolation="bilinear",
)


def _expected_look(query: str, key: str) -> str:
    """What the pages of a mode whose u detects ``query`` and v detects ``key`` show (the generated
    images paint each colour as a rectangle of whole patches)."""
    if query == key:
        return f"top images contain {query} squares; both the query and the key map light the {query} squares"
    return (
        f"top images contain {query} and {key} squares; the query map lights the {query} squares, "
        f"the key map the {key} ones"
    )


def _planted(layer: int, head: int, mode: int, query: str, key: str, sigma: float) -> PlantedMode:
    kind: PlantedKind = "grouping" if query == key else "contextual"
    return PlantedMode(
        layer=layer,
        head=head,
        mode=mode,
        # u = e_query has its largest entry positive, so the atlas's pos sign is (e_query, e_key).
        sign=Sign.pos,
        query=query,
        key=key,
        sigma=sigma,
        kind=kind,
        description=f"{query} patches attend to {key} patches",
        expected_look=_expected_look(query, key),
    )


PLANTED_MODES: tuple[PlantedMode, ...] = (
    _planted(0, 0, 0, "red", "blue", 9.0),
    _planted(0, 0, 1, "green", "green", 4.0),
    _planted(1, 0, 0, "green", "red", 9.0),
)

_WEAK_SIGMAS = [0.5 - 0.02 * i for i in range(D_HEAD)]
_COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 220),
}
_BACKGROUND = (128, 128, 128)


def _head_weights(planted: list[PlantedMode]) -> tuple[torch.Tensor, torch.Tensor]:
    """``W_q, W_k: [d_h, d]`` with the ``planted`` modes first and weak filler modes after."""
    w_q = torch.zeros(D_HEAD, WIDTH)
    w_k = torch.zeros(D_HEAD, WIDTH)
    for row, mode in enumerate(sorted(planted, key=lambda m: m.mode)):
        amplitude = mode.sigma**0.5
        w_q[row, DIMS[mode.query]] = amplitude
        w_k[row, DIMS[mode.key]] = amplitude
    free_dims = list(range(_FIRST_FREE_DIM, WIDTH))
    for row in range(len(planted), D_HEAD):
        filler = row - len(planted)
        amplitude = _WEAK_SIGMAS[filler] ** 0.5
        w_q[row, free_dims[filler]] = amplitude
        w_k[row, free_dims[(filler + 1) % len(free_dims)]] = amplitude
    return w_q, w_k


def build_planted_vit() -> VisionTransformer:
    """The planted model as a timm ``VisionTransformer`` (deterministic; see the module docstring)."""
    model = VisionTransformer(
        img_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        embed_dim=WIDTH,
        depth=DEPTH,
        num_heads=N_HEADS,
        num_classes=0,
        qkv_bias=True,
        class_token=True,
        global_pool="token",
    )
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        blocks = [cast(Block, block) for block in model.blocks]
        for block in blocks:
            cast(nn.LayerNorm, block.norm1).weight.fill_(1.0)
            cast(nn.LayerNorm, block.norm2).weight.fill_(1.0)
        cast(nn.LayerNorm, model.norm).weight.fill_(1.0)

        # Patch embedding: mean colour of the patch → colour detectors; constants through the bias.
        per_pixel = COLOUR_SCALE / (PATCH_SIZE * PATCH_SIZE)
        conv = cast(nn.Conv2d, model.patch_embed.proj)
        for colour, channel in (("red", 0), ("green", 1), ("blue", 2)):
            conv.weight[DIMS[colour]] = -0.5 * per_pixel
            conv.weight[DIMS[colour], channel] = per_pixel
        assert conv.bias is not None
        conv.bias[DIMS["plus_constant"]] = CONSTANT
        conv.bias[DIMS["minus_constant"]] = -CONSTANT
        assert model.cls_token is not None
        model.cls_token[0, 0, DIMS["plus_constant"]] = CONSTANT
        model.cls_token[0, 0, DIMS["minus_constant"]] = -CONSTANT

        for layer, block in enumerate(blocks):
            qkv_weight = cast(Attention, block.attn).qkv.weight
            width = N_HEADS * D_HEAD
            for head in range(N_HEADS):
                planted = [m for m in PLANTED_MODES if m.layer == layer and m.head == head]
                w_q, w_k = _head_weights(planted)
                rows = slice(head * D_HEAD, (head + 1) * D_HEAD)
                qkv_weight[rows] = w_q
                qkv_weight[width:][rows] = w_k
    return model.eval()


def load_planted() -> TimmViTAdapter:
    """The planted model behind the adapter interface (family ``'planted'``)."""
    return TimmViTAdapter(
        build_planted_vit(),
        model_id=PLANTED_MODEL_ID,
        family="planted",
        preprocessing=PREPROCESSING,
        planted_modes=PLANTED_MODES,
    )


@dataclass(frozen=True)
class PlantedImage:
    """One generated image: ``boxes`` maps a colour to its painted rectangle ``(x0, y0, x1, y1)``
    in pixels of the saved image (exclusive ends), and ``cells`` to the model grid cells
    ``(row, col)`` it covers fully."""

    path: str
    description: str
    boxes: dict[str, tuple[int, int, int, int]]
    cells: dict[str, list[tuple[int, int]]]


#: Colour sets of the generated images, cycled in this order.
_IMAGE_KINDS: tuple[tuple[str, ...], ...] = (
    ("red", "blue"),
    ("red",),
    ("blue",),
    ("green",),
    (),
    ("red", "blue", "green"),
    ("green", "red"),
)
#: Saved images are this many times the model's input size (so the resize is exercised).
_UPSCALE = 2
INDEX_FILE = "planted_images.json"


def _place_boxes(colours: tuple[str, ...], rng: np.random.Generator) -> dict[str, tuple[int, int, int, int]]:
    """Non-overlapping rectangles, 2-3 patches a side, aligned to the patch grid of the saved image."""
    grid = IMAGE_SIZE // PATCH_SIZE
    cell = PATCH_SIZE * _UPSCALE
    taken = np.zeros((grid, grid), dtype=bool)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    for colour in colours:
        while True:
            height, width = (int(v) for v in rng.integers(2, 4, size=2))
            row = int(rng.integers(0, grid - height + 1))
            col = int(rng.integers(0, grid - width + 1))
            # keep a one-cell gap so boxes never touch
            region = taken[max(row - 1, 0) : row + height + 1, max(col - 1, 0) : col + width + 1]
            if not region.any():
                taken[row : row + height, col : col + width] = True
                boxes[colour] = (col * cell, row * cell, (col + width) * cell, (row + height) * cell)
                break
    return boxes


def _cells(box: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    cell = PATCH_SIZE * _UPSCALE
    x0, y0, x1, y1 = box
    return [(row, col) for row in range(y0 // cell, y1 // cell) for col in range(x0 // cell, x1 // cell)]


def generate_planted_images(out_dir: str | Path, n: int, seed: int = 0) -> list[tuple[Path, str]]:
    """Write ``n`` synthetic PNGs (grey background, red/blue/green rectangles) under
    ``out_dir/<colours>/`` (one folder per colour set, e.g. ``red_blue``, ``none``) and an index
    ``out_dir/planted_images.json`` with each image's boxes and grid cells (``PlantedImage``).

    Deterministic in ``(n, seed)``. Images cycle through: red+blue, red only, blue only, green only,
    none, red+blue+green, green+red. Returns ``(path, description)`` per image, in order.
    """
    root = Path(out_dir)
    rng = np.random.default_rng(seed)
    side = IMAGE_SIZE * _UPSCALE
    records: list[PlantedImage] = []
    for index in range(n):
        colours = _IMAGE_KINDS[index % len(_IMAGE_KINDS)]
        boxes = _place_boxes(colours, rng)
        image = Image.new("RGB", (side, side), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        for colour, (x0, y0, x1, y1) in boxes.items():
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=_COLOURS[colour])
        folder = root / ("_".join(colours) if colours else "none")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"planted_{index:04d}.png"
        image.save(path, format="PNG")
        description = " + ".join(colours) if colours else "grey only"
        records.append(
            PlantedImage(
                path=str(path.relative_to(root)),
                description=description,
                boxes=boxes,
                cells={colour: _cells(box) for colour, box in boxes.items()},
            )
        )
    index_data = {"seed": seed, "n": n, "images": [asdict(record) for record in records]}
    (root / INDEX_FILE).write_text(json.dumps(index_data, indent=1))
    return [(root / record.path, record.description) for record in records]


def read_planted_index(out_dir: str | Path) -> list[PlantedImage]:
    """The ``PlantedImage`` records ``generate_planted_images`` wrote to ``out_dir``."""
    data = json.loads((Path(out_dir) / INDEX_FILE).read_text())
    return [
        PlantedImage(
            path=item["path"],
            description=item["description"],
            boxes={colour: tuple(box) for colour, box in item["boxes"].items()},
            cells={colour: [tuple(c) for c in cells] for colour, cells in item["cells"].items()},
        )
        for item in data["images"]
    ]
