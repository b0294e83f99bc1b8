"""Odd-One-Out attention preference (paper Fig. 2; docs/method.md#odd-one-out-analysis).

An O3 folder holds photos with one singleton *target* and a group of similar *distractors*, plus a
binary mask of each (``images/``, ``targ_images/``, ``dist_images/``; a mask has its image's file
name, or at least its stem). For every image and every layer and head we ask: where does the model's
own attention go when the query sits on the target, and when it sits on a distractor?

Per image:

1. The image *and both masks* go through the model's own resize and centre crop (``to_model_input``;
   the masks with bilinear interpolation so they stay within [0, 1]). A mask pixel is "on" when its
   grey value is ≥ ``MASK_THRESHOLD`` at full resolution (O3 masks are binary by intent; this drops
   JPEG ringing before any resampling).
2. The masks are down-scaled to the token grid by area averaging (``area_downscale``): the coverage
   of a patch is the fraction of its pixels inside the object. Background coverage is
   ``1 − target − distractor`` (target and distractor are first scaled down together wherever they
   overlap to more than 1), so the three coverages of every patch sum to exactly 1.
3. Two queries: the patch with the highest target coverage and the patch with the highest
   distractor coverage (ties: the tied patch nearest the coverage-weighted centroid of that mask,
   then the lowest row-major index).
4. Each query's row of the model's real attention (``ViTAdapter.attention_probs``) over *patch* keys
   (prefix keys dropped, renormalized to sum 1; the query's own patch is kept as a key) is split
   into target / distractor / background mass by the fractional coverages. The three sum to 1.

Naming: for the **target query**, *same object* = target mass and *different object* = distractor
mass; for the **distractor query**, *same object* = distractor mass and *different object* = target
mass (it includes the other distractors: they are the same kind of object, so they count as same).
Background is background for both. Per layer and head the ratios are averaged over images; per layer
also over heads. ``chance`` is what uniform attention over the patches would give (mean coverage).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    ModelInfo,
    O3DatasetRecord,
    O3ImageRecord,
    O3QueryTables,
    O3Record,
    O3Region,
    O3SkippedExample,
    RegionHeads,
    RegionSeries,
    RegionShares,
)
from qkatlas.atlas.reader import Atlas, AtlasError
from qkatlas.atlas.writer import write_json_atomic
from qkatlas.images import IMAGE_EXTENSIONS, ImageDecodeError, load_image_file, to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.models import model_slug, model_source
from qkatlas.models.base import ViTAdapter

IMAGES_DIR = "images"
TARGET_DIR = "targ_images"
DISTRACTOR_DIR = "dist_images"
#: Grey value (0-255) from which a full-resolution mask pixel belongs to the object.
MASK_THRESHOLD = 128
#: Most memory the model's attention maps of one batch may take (``analyse_o3`` shrinks the batch).
ATTENTION_BUDGET_BYTES = 2 * 1024**3
#: The two queries, and the three regions each query's attention is split into (in array order).
QUERIES: tuple[Literal["target_query", "distractor_query"], ...] = ("target_query", "distractor_query")
REGIONS: tuple[O3Region, ...] = ("same_object", "different_object", "background")

DEFINITIONS = {
    "target_query": "the patch with the highest target coverage; same_object = target, different_object = distractors",
    "distractor_query": (
        "the patch with the highest distractor coverage; same_object = distractors, different_object = target"
    ),
    "attention": "the model's own softmax attention row of the query over patch keys, renormalized to sum 1",
    "coverage": (
        "masks binarized at grey >= 128, resized and centre-cropped like the image, area-averaged per patch; "
        "background = 1 - target - distractor"
    ),
    "average": "per (layer, head): mean over images; per layer: mean over heads",
}


class O3ExampleError(ValueError):
    """An O3 example that cannot be analysed (its masks do not fit the image). ``reason`` is short."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class O3Item:
    """One O3 example: the photo and its two masks."""

    name: str
    image: Path
    target_mask: Path
    distractor_mask: Path


@dataclass(frozen=True)
class O3Dataset:
    """The usable examples of an O3 folder and the ones skipped with a reason (``name``, ``reason``)."""

    root: Path
    items: tuple[O3Item, ...]
    skipped: tuple[dict[str, str], ...]


def _mask_for(folder: Path, image_name: str) -> Path | None:
    exact = folder / image_name
    if exact.is_file():
        return exact
    stem = Path(image_name).stem
    matches = sorted(p for p in folder.glob(f"{stem}.*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    return matches[0] if matches else None


def open_o3_dataset(root: str | Path, *, limit: int | None = None) -> O3Dataset:
    """List the examples of an O3 folder (sorted by file name; ``limit`` keeps the first N).

    Raises:
        ValueError: the folder or one of its three sub-folders is missing, or it holds no images.
    """
    root = Path(root).expanduser().resolve()
    folders = {name: root / name for name in (IMAGES_DIR, TARGET_DIR, DISTRACTOR_DIR)}
    missing = [name for name, folder in folders.items() if not folder.is_dir()]
    if missing:
        raise ValueError(f"{root} is not an O3 folder: missing {', '.join(f'{m}/' for m in missing)}")
    images = sorted(
        p
        for p in folders[IMAGES_DIR].iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not images:
        raise ValueError(f"no images in {folders[IMAGES_DIR]}")
    if limit is not None:
        images = images[:limit]
    items: list[O3Item] = []
    skipped: list[dict[str, str]] = []
    for image in images:
        target = _mask_for(folders[TARGET_DIR], image.name)
        distractor = _mask_for(folders[DISTRACTOR_DIR], image.name)
        if target is None or distractor is None:
            which = " and ".join(n for n, m in (("target", target), ("distractor", distractor)) if m is None)
            skipped.append({"name": image.name, "reason": f"no {which} mask"})
            continue
        items.append(O3Item(image.name, image, target, distractor))
    return O3Dataset(root, tuple(items), tuple(skipped))


# --------------------------------------------------------------------------------------------------
# Masks on the token grid
# --------------------------------------------------------------------------------------------------


def mask_as_model_sees_it(mask: Image.Image, prep: Preprocessing) -> np.ndarray:
    """A mask through the model's own resize and centre crop: float64 ``[crop, crop]`` in [0, 1].

    The mask is binarized at ``MASK_THRESHOLD`` at full resolution, then resampled by the very
    function that prepares the image (``to_model_input``, with bilinear interpolation instead of the
    model's, so values stay in [0, 1] and edges become fractional instead of ringing).
    """
    binary = np.asarray(mask.convert("L")) >= MASK_THRESHOLD
    as_image = Image.fromarray((binary * 255).astype(np.uint8)).convert("RGB")
    resampled = to_model_input(as_image, dataclasses.replace(prep, interpolation="bilinear"))
    return resampled[0].numpy().astype(np.float64) / 255.0


def area_downscale(mask: np.ndarray, patch_size: int) -> np.ndarray:
    """Area average of ``mask [S, S]`` over each ``patch_size × patch_size`` patch → ``[T, T]``,
    ``T = S // patch_size`` (trailing pixels the patch embedding does not see are dropped)."""
    grid = mask.shape[0] // patch_size
    covered = mask[: grid * patch_size, : grid * patch_size]
    shares: np.ndarray = covered.reshape(grid, patch_size, grid, patch_size).mean(axis=(1, 3))
    return shares


def region_coverage(target: np.ndarray, distractor: np.ndarray) -> np.ndarray:
    """Per-patch coverage ``[3, P]`` (target, distractor, background) from grids ``[T, T]``.

    Where target and distractor together exceed 1 (overlapping masks) both are scaled down to sum 1;
    background is the rest, so every column sums to exactly 1.
    """
    target, distractor = target.reshape(-1), distractor.reshape(-1)
    scale = 1.0 / np.maximum(target + distractor, 1.0)
    target, distractor = target * scale, distractor * scale
    background = np.clip(1.0 - target - distractor, 0.0, 1.0)
    return np.stack([target, distractor, background])


def pick_query(coverage: np.ndarray) -> int | None:
    """Row-major index of the patch with the highest coverage in ``coverage [T, T]``; ``None`` when
    the mask covers nothing. Ties go to the patch nearest the coverage-weighted centroid, then to the
    lowest index."""
    best = float(coverage.max())
    if best <= 0.0:
        return None
    rows, cols = np.indices(coverage.shape)
    total = coverage.sum()
    centroid = ((rows * coverage).sum() / total, (cols * coverage).sum() / total)
    tied = np.flatnonzero(coverage.reshape(-1) >= best)
    distance = (rows.reshape(-1)[tied] - centroid[0]) ** 2 + (cols.reshape(-1)[tied] - centroid[1]) ** 2
    return int(tied[np.argmin(distance)])  # argmin keeps the first (lowest index) of equal distances


# --------------------------------------------------------------------------------------------------
# Attention split
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedImage:
    """One O3 example ready for the model: ``pixels`` uint8 ``[3, S, S]`` as the model sees it,
    ``coverage [3, P]`` (target, distractor, background per patch), ``queries`` = (target query,
    distractor query) as row-major patch indices."""

    name: str
    pixels: torch.Tensor
    coverage: np.ndarray
    queries: tuple[int, int]


def prepare_item(item: O3Item, adapter: ViTAdapter) -> PreparedImage:
    """Decode, resize and crop an example and its masks; pick its two queries.

    Raises:
        ImageDecodeError: a file is unreadable.
        O3ExampleError: a mask does not match its image's size, or covers no patch of the crop.
    """
    image = load_image_file(item.image)
    prep, spec = adapter.preprocessing, adapter.spec
    grids = []
    for label, path in (("target", item.target_mask), ("distractor", item.distractor_mask)):
        mask = load_image_file(path)
        if mask.size != image.size:
            raise O3ExampleError(
                f"{label} mask is {mask.size[0]}×{mask.size[1]}, image {image.size[0]}×{image.size[1]}"
            )
        grids.append(area_downscale(mask_as_model_sees_it(mask, prep), spec.patch_size))
    target_query, distractor_query = pick_query(grids[0]), pick_query(grids[1])
    if target_query is None or distractor_query is None:
        empty = "target" if target_query is None else "distractor"
        raise O3ExampleError(f"{empty} mask covers no patch of the model's crop")
    return PreparedImage(
        name=item.name,
        pixels=to_model_input(image, prep),
        coverage=region_coverage(grids[0], grids[1]),
        queries=(target_query, distractor_query),
    )


def split_attention(adapter: ViTAdapter, batch: list[PreparedImage]) -> np.ndarray:
    """Ratios ``[B, 2, L, H, 3]``: for each image, query (target, distractor), layer and head, the
    share of the query's patch-key attention on (same object, different object, background)."""
    n_prefix = adapter.spec.n_prefix
    pixels = adapter.normalize(torch.stack([item.pixels for item in batch]).to(adapter.device))
    queries = torch.tensor([item.queries for item in batch], device=adapter.device)  # [B, 2]
    coverage = torch.tensor(np.stack([item.coverage for item in batch]), dtype=torch.float64)  # [B, 3, P]
    # Per query, reorder (target, distractor, background) to (same, different, background).
    by_query = torch.stack([coverage, coverage[:, [1, 0, 2]]], dim=1)  # [B, 2, 3, P]
    per_layer = []
    for probs in adapter.attention_probs(pixels):  # [B, H, N, N]
        patch_rows = probs[:, :, n_prefix:, n_prefix:]  # [B, H, P, P]
        index = queries[:, None, :, None].expand(-1, patch_rows.shape[1], -1, patch_rows.shape[-1])
        rows = patch_rows.gather(2, index).transpose(1, 2).to("cpu", torch.float64)  # [B, 2, H, P]
        rows = rows / rows.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
        per_layer.append(torch.einsum("bqhp,bqrp->bqhr", rows, by_query))
    return torch.stack(per_layer, dim=2).numpy()


# --------------------------------------------------------------------------------------------------
# The whole folder
# --------------------------------------------------------------------------------------------------


def _prepared(dataset: O3Dataset, adapter: ViTAdapter, skipped: list[dict[str, str]]) -> Iterator[PreparedImage | None]:
    for item in dataset.items:
        try:
            yield prepare_item(item, adapter)
        except (ImageDecodeError, O3ExampleError) as exc:
            skipped.append({"name": item.name, "reason": exc.reason})
            yield None


def _series(values: np.ndarray) -> RegionSeries:
    """``values [L, 3]`` → one list per region."""
    return RegionSeries(**{region: values[:, index].tolist() for index, region in enumerate(REGIONS)})


def _heads(values: np.ndarray) -> RegionHeads:
    """``values [L, H, 3]`` → one ``[L][H]`` table per region."""
    return RegionHeads(**{region: values[..., index].tolist() for index, region in enumerate(REGIONS)})


def _shares(values: np.ndarray) -> RegionShares:
    """``values [3]`` → one share per region."""
    return RegionShares(**{region: float(values[index]) for index, region in enumerate(REGIONS)})


def analyse_o3(
    adapter: ViTAdapter,
    dataset: O3Dataset,
    *,
    batch_size: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
) -> O3Record:
    """Run the analysis over ``dataset`` and return the ``o3.json`` record (docs/atlas-format.md).

    ``batch_size`` images go through the model at once, fewer when their attention maps (all layers,
    ``[B, H, N, N]`` each) would exceed ``ATTENTION_BUDGET_BYTES``. ``on_progress(done, total)`` is
    called after every example. Unusable examples (unreadable files, empty masks) are listed under
    ``skipped``.

    Raises:
        ValueError: no example of the folder could be used.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    spec = adapter.spec
    tokens = spec.n_prefix + spec.n_patches
    per_image = spec.n_layers * spec.n_heads * tokens * tokens * 4  # fp32 attention of one image
    batch_size = max(1, min(batch_size, ATTENTION_BUDGET_BYTES // per_image))
    adapter.module.eval()
    skipped = list(dataset.skipped)
    ratios: list[np.ndarray] = []  # [B, 2, L, H, 3] per batch
    used: list[PreparedImage] = []
    batch: list[PreparedImage] = []
    total = len(dataset.items)
    for done, prepared in enumerate(_prepared(dataset, adapter, skipped), start=1):
        if prepared is not None:
            batch.append(prepared)
        if batch and (len(batch) == batch_size or done == total):
            ratios.append(split_attention(adapter, batch))
            used.extend(batch)
            batch = []
        if on_progress is not None:
            on_progress(done, total)
    if not used:
        reasons = "; ".join(f"{s['name']}: {s['reason']}" for s in skipped[:5])
        raise ValueError(f"no usable O3 example in {dataset.root} ({reasons})")
    all_ratios = np.concatenate(ratios)  # [I, 2, L, H, 3]
    head_mean = all_ratios.mean(axis=0)  # [2, L, H, 3]
    layer_per_image = all_ratios.mean(axis=3)  # [I, 2, L, 3]
    area = np.stack([item.coverage.mean(axis=1) for item in used])  # [I, 3] target, distractor, background
    chance = {"target_query": area.mean(axis=0), "distractor_query": area[:, [1, 0, 2]].mean(axis=0)}
    source = model_source(adapter)
    grid = spec.grid
    tables = {
        query: O3QueryTables(
            layer=_series(head_mean[q].mean(axis=1)),
            layer_std=_series(layer_per_image[:, q].std(axis=0)),
            head=_heads(head_mean[q]),
            chance=_shares(chance[query]),
        )
        for q, query in enumerate(QUERIES)
    }
    return O3Record(
        format_version=FORMAT_VERSION,
        model_slug=model_slug(source.id),
        model=ModelInfo.from_spec(spec),
        model_source=source,
        preprocessing=adapter.preprocessing,
        dataset=O3DatasetRecord(
            source=str(dataset.root),
            n_images=len(dataset.items) + len(dataset.skipped),
            n_used=len(used),
            n_skipped=len(skipped),
        ),
        skipped=tuple(O3SkippedExample(**entry) for entry in skipped),
        definitions=DEFINITIONS,
        mask_threshold=MASK_THRESHOLD,
        normalized_depth=[layer / max(spec.n_layers - 1, 1) for layer in range(spec.n_layers)],
        target_query=tables["target_query"],
        distractor_query=tables["distractor_query"],
        images=tuple(
            O3ImageRecord(
                name=item.name,
                target_query=divmod(item.queries[0], grid),
                distractor_query=divmod(item.queries[1], grid),
                target_query_coverage=float(item.coverage[0, item.queries[0]]),
                distractor_query_coverage=float(item.coverage[1, item.queries[1]]),
                target_area=float(item.coverage[0].mean()),
                distractor_area=float(item.coverage[1].mean()),
            )
            for item in used
        ),
    )


def analyse_o3_folder(
    adapter: ViTAdapter, o3_dir: Path, *, batch_size: int = 8, limit: int | None = None, progress: bool = True
) -> O3Record:
    """``analyse_o3`` over an O3 folder, with a progress bar when ``progress``."""
    dataset = open_o3_dataset(o3_dir, limit=limit)
    with tqdm(total=len(dataset.items), desc=f"O3 {adapter.spec.model_id}", unit="img", disable=not progress) as bar:
        return analyse_o3(adapter, dataset, batch_size=batch_size, on_progress=lambda _done, _total: bar.update(1))


def format_o3_table(result: O3Record) -> str:
    """A plain-text table of the per-layer ratios of both queries."""
    lines = [
        f"{'layer':>5} {'depth':>5}  " + "  ".join(f"{q.split('_')[0]}:{r[:4]:>4}" for q in QUERIES for r in REGIONS)
    ]
    for layer, depth in enumerate(result.normalized_depth):
        cells = "  ".join(f"{result.query(q).layer.at(layer).of(r):>11.3f}" for q in QUERIES for r in REGIONS)
        lines.append(f"{layer:>5} {depth:>5.2f}  {cells}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Storage with the model's atlas
# --------------------------------------------------------------------------------------------------


def store_o3_result(result: O3Record, atlas_root: Path) -> list[Path]:
    """Write ``result`` as ``o3.json`` into every atlas under ``atlas_root`` built from the same
    weights (``ModelSource.same_weights``); when there is none, to ``atlas_root/<model-slug>__o3.json``,
    where ``Atlas.o3`` of a later atlas of those weights finds it. Atomic writes. Returns the paths.
    """
    atlas_root = Path(atlas_root)
    atlas_root.mkdir(parents=True, exist_ok=True)
    targets = []
    for directory in sorted(p for p in atlas_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            atlas = Atlas.open(directory)
        except AtlasError:
            continue
        if atlas.manifest.model_source.same_weights(result.model_source):
            targets.append(directory / fmt.O3)
    if not targets:
        targets.append(atlas_root / fmt.o3_sidecar_name(result.model_slug))
    for path in targets:
        write_json_atomic(path, result.to_json_dict())
    return targets
