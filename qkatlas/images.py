"""Image sources, robust decoding, model-input preprocessing and parallel batch loading.

Everything that turns files on disk (or uploaded bytes) into the uint8 crops a model sees lives here,
so that the precompute job and the service decode and crop photos in exactly the same way.

- ``decode_image`` / ``load_image_file``: bytes or a file → an RGB ``PIL.Image``, or an
  ``ImageDecodeError`` with a short reason. Never anything else, never a half-decoded image.
- ``to_model_input``: RGB image → uint8 ``[3, crop, crop]``, the image *as the model sees it* (its own
  resize and centre crop; normalization happens later, on the device).
- ``open_image_source``: a folder tree, a flat ImageNet-val style folder or a list file → an ordered,
  labelled ``ImageSource``.
- ``iter_batches``: decodes a source in worker processes and yields fixed-boundary ``Batch`` es.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import re
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from qkatlas.atlas.format import slugify
from qkatlas.models.base import Preprocessing

__all__ = [
    "ALPHA_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "Batch",
    "ImageDecodeError",
    "ImageItem",
    "ImageSource",
    "count_batches",
    "decode_image",
    "iter_batches",
    "load_image_file",
    "open_image_source",
    "to_model_input",
]

#: Decompression-bomb guard: images whose header declares more pixels than this are refused before
#: a single pixel is decoded (64 MP covers every real camera photo; a bomb is a tiny file that claims
#: billions). Pillow additionally refuses anything above ``2 * Image.MAX_IMAGE_PIXELS`` on its own.
DEFAULT_MAX_PIXELS = 64_000_000

#: File extensions (lower case) collected from folder sources.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})

#: The only decoders Pillow may use. Restricting them keeps exotic plugins (EPS runs Ghostscript,
#: for example) out of reach of uploaded bytes; these cover what photo collections and browsers use.
_ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF")

#: Background that transparent pixels are composited over. White, because images with transparency
#: (logos, product shots, stickers) are authored to be seen on a white page.
ALPHA_BACKGROUND = (255, 255, 255)

_INTERPOLATION = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


#: Past this aspect ratio, resizing the shorter side to a model's ~224 px would allocate gigabytes
#: (a 100000 × 1 strip), so such images are refused from their header.
MAX_ASPECT_RATIO = 100

DecodeErrorKind = Literal["unsupported", "too_large", "corrupt"]


class ImageDecodeError(ValueError):
    """The bytes are not an image qkatlas can use. ``reason`` is short, human and never a path;
    ``kind`` says why: not a supported raster image, too many pixels, or broken data."""

    def __init__(self, reason: str, kind: DecodeErrorKind = "corrupt") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def decode_image(data: bytes | bytearray | memoryview, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode encoded image bytes into a fully loaded RGB image.

    Applies the EXIF orientation; converts greyscale (1, L, LA, I;16, I, F), CMYK, YCbCr and palette
    images to RGB; scales 16-bit and float data to 8 bits; composites alpha over ``ALPHA_BACKGROUND``
    (white); takes the first frame of animations. Refuses empty data, non-images (SVG, HTML, text),
    formats outside JPEG/PNG/WebP/GIF/BMP/TIFF, zero-size images, truncated or corrupt data, and images
    whose header declares more than ``max_pixels`` pixels (checked before any pixel is decoded).

    Raises:
        ImageDecodeError: with a short ``reason``; no other exception escapes for bad input.
    """
    if len(data) == 0:
        raise ImageDecodeError("empty file")
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below replaces Pillow's bomb *warning*; its hard limit
            # (DecompressionBombError) is caught and reported like any oversized image.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_allowed_formats())
    except Image.DecompressionBombError:
        # Pillow's own hard limit (2 × Image.MAX_IMAGE_PIXELS) also applies when max_pixels is larger.
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or max_pixels)
        limit = min(max_pixels, pillow_limit)
        raise ImageDecodeError(f"image too large (more than {limit:,} pixels)", "too_large") from None
    except UnidentifiedImageError:
        raise _unidentified_error(bytes(data[:512])) from None
    except Exception as exc:  # Pillow's plugins raise many types on malformed headers
        raise ImageDecodeError(_corrupt_reason(exc)) from None

    # The header alone gives the size: refuse bombs before a single pixel is allocated.
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError("image has zero width or height")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image too large ({width}×{height} = {width * height:,} pixels, limit {max_pixels:,})", "too_large"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageDecodeError(f"image too narrow ({width}×{height}; aspect ratio limit {MAX_ASPECT_RATIO}:1)")
    try:
        # Decode every pixel now, so truncation and corruption surface here and not in a later
        # resize. This relies on Pillow's default ImageFile.LOAD_TRUNCATED_IMAGES = False, which
        # qkatlas never changes (a test pins it).
        image.load()
    except Exception as exc:
        raise ImageDecodeError(_corrupt_reason(exc)) from None
    try:
        return _to_rgb(_apply_exif_orientation(image))
    except Exception as exc:
        raise ImageDecodeError(f"cannot convert {image.mode} image to RGB ({type(exc).__name__})") from None


def load_image_file(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """``decode_image`` of a file's bytes; an unreadable file is an ``ImageDecodeError`` too."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError("file not found") from None
    except IsADirectoryError:
        raise ImageDecodeError("is a directory, not a file") from None
    except OSError as exc:
        # strerror is the OS message without the path ("Permission denied").
        raise ImageDecodeError(f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    return decode_image(data, max_pixels=max_pixels)


@functools.cache
def _allowed_formats() -> tuple[str, ...]:
    # Image.open looks each named format up in Image.OPEN, which only lists plugins already imported.
    Image.init()
    return tuple(fmt for fmt in _ALLOWED_FORMATS if fmt in Image.OPEN)


def _unidentified_error(head: bytes) -> ImageDecodeError:
    if _declares_zero_size(head):
        return ImageDecodeError("image has zero width or height", "corrupt")
    return ImageDecodeError(_unrecognised_reason(head), "unsupported")


def _unrecognised_reason(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) or b"<svg" in text:
        return "not a raster image (SVG/XML)"
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return "not an image (HTML page)"
    if text and all(32 <= byte < 127 or byte in b"\t\r\n" for byte in text[:256]):
        return "not an image (text)"
    return "not a recognised image format (expected JPEG, PNG, WebP, GIF, BMP or TIFF)"


def _declares_zero_size(head: bytes) -> bool:
    """Whether a PNG or GIF header declares a zero dimension (Pillow just fails to identify those)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return width == 0 or height == 0
    if head.startswith((b"GIF87a", b"GIF89a")) and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return width == 0 or height == 0
    return False


def _corrupt_reason(exc: Exception) -> str:
    message = str(exc).lower()
    if isinstance(exc, MemoryError):
        return "not enough memory to decode image"
    if "truncated" in message or isinstance(exc, EOFError):
        return "truncated image data"
    return "corrupt image data"


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    try:
        # In place: the default returns a full copy even when there is nothing to rotate.
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except Exception:
        # A broken EXIF block should not cost the image: keep the pixels as stored.
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB (alpha composited over white, high bit depths scaled down)."""
    mode = image.mode
    if mode in ("P", "L", "RGB") and "transparency" in image.info:
        # A transparent palette entry or colour key (PNG tRNS, GIF) lives in info, not in the mode.
        return _to_rgb(image.convert("RGBA"))
    if mode == "RGB":
        return image
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith(("I", "F")):
        # Pillow's own I/F → L conversion clips at 255, which turns 16-bit photos white.
        grey = Image.fromarray(_to_uint8(np.asarray(image)))  # uint8 2-D → mode L
        return grey.convert("RGB")
    return image.convert("RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale single-channel integer or float pixels to uint8 by their nominal range.

    uint16 data (and int32 data within 0..65535) is 16-bit: divide by 257. Int data within 0..255 is
    already 8-bit. Floats within [0, 1] are fractions. Anything else is stretched from its min to max.
    """
    is_float = np.issubdtype(values.dtype, np.floating)
    values = values.astype(np.float64, copy=False)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if is_float and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = values
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0
    else:
        scaled = (values - low) / max(high - low, 1e-12) * 255.0
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# Model input
# --------------------------------------------------------------------------------------------------


def to_model_input(image: Image.Image, prep: Preprocessing) -> torch.Tensor:
    """The image as the model sees it: uint8 ``[3, prep.crop, prep.crop]`` (not normalized).

    ``resize_mode="shortest"``: the shorter side is resized to ``prep.resize`` (aspect kept; the long
    side truncated like torchvision/timm do), then a centre ``crop × crop`` is cut. ``"exact"``: resized
    to ``resize × resize`` ignoring aspect (Hugging Face processors, timm's "squash"), then centre-cropped
    to ``crop × crop`` (a no-op when ``resize == crop``). Both use ``prep.interpolation`` with
    Pillow's antialiased resampling, so the result matches the timm/transformers eval pipelines and is
    deterministic.
    """
    if image.mode != "RGB":
        image = _to_rgb(image)
    interpolation = _INTERPOLATION[prep.interpolation]
    if prep.resize_mode == "shortest":
        size = [prep.resize]
    elif prep.resize_mode == "exact":
        size = [prep.resize, prep.resize]
    else:
        raise ValueError(f"unknown resize_mode {prep.resize_mode!r}")
    resized = tvf.resize(image, size, interpolation=interpolation, antialias=True)
    tensor = tvf.pil_to_tensor(tvf.center_crop(resized, [prep.crop, prep.crop]))
    return tensor.contiguous()


# --------------------------------------------------------------------------------------------------
# Image sources
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageItem:
    """One image of a source. ``source`` is what users see: the path relative to the source root
    (folders) or the path as written in the list file."""

    source: str
    path: Path
    label: str | None


@dataclass(frozen=True)
class ImageSource:
    """An ordered image collection. The position of an item in ``items`` is its dataset index."""

    name: str
    root: str
    layout: Literal["tree", "flat", "list"]
    items: tuple[ImageItem, ...]

    def __len__(self) -> int:
        return len(self.items)


_SYNSET_FILENAME = re.compile(r"^(n\d{8})_(.+)$")
_SYNSET_ID = re.compile(r"^n\d{8}$")
_SYNSET_MAPPING_FILES = ("LOC_synset_mapping.txt", "synset_words.txt")
_LABEL_FILES = ("labels.txt", "val_labels.txt")
_LOC_SOLUTION_FILE = "LOC_val_solution.csv"


def open_image_source(spec: str | Path, *, name: str | None = None, limit: int | None = None) -> ImageSource:
    """Open a folder tree, a flat (ImageNet-val style) folder or a list file as an ``ImageSource``.

    - Folder: every ``.jpg .jpeg .png .webp`` file (any case) below it, recursively, hidden files and
      folders skipped, sorted by relative path. All files directly in the folder → layout ``flat``,
      labels from ``LOC_val_solution.csv`` / ``labels.txt`` / ``val_labels.txt`` in the folder, else
      from synset-style names (``n01440764_tench.JPEG`` → ``tench``). Otherwise layout ``tree``; when
      every image sits exactly one level down, its folder name is the label.
      ImageNet synset ids (``n01440764``) are turned into names when ``LOC_synset_mapping.txt`` or
      ``synset_words.txt`` lies in the folder or its parent.
    - A text file: one path per line (relative paths resolve against the file's folder), optionally
      followed by a tab and a label; blank lines and ``#`` comments are skipped; the listed order is
      kept (it is the user's explicit order). Listed files are not checked here: a missing one is
      reported as skipped when decoded. A single image file is a list of one.

    ``name`` defaults to the slugified folder or file stem; ``limit`` keeps the first N items.

    Raises:
        ValueError: the path does not exist, ``limit`` is not positive, or the source holds no images.
    """
    path = Path(spec).expanduser()
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    if not path.exists():
        raise ValueError(f"image source not found: {spec}")
    root = path.resolve()
    layout: Literal["tree", "flat", "list"]
    if root.is_dir():
        items, layout = _folder_items(root)
    elif root.suffix.lower() in IMAGE_EXTENSIONS:
        items, layout = [ImageItem(source=root.name, path=root, label=None)], "list"
    else:
        items, layout = _list_file_items(root), "list"
    if not items:
        kinds = "/".join(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS))
        what = f"no image files ({kinds}) under {root}" if layout != "list" else f"no paths listed in {root}"
        raise ValueError(f"empty image source: {what}")
    if limit is not None:
        items = items[:limit]
    return ImageSource(
        name=name if name is not None else default_source_name(root),
        root=str(root),
        layout=layout,
        items=tuple(items),
    )


def default_source_name(spec: str | Path) -> str:
    """The dataset name of a source when none is given: its folder name or file stem, slugified."""
    path = Path(spec).expanduser().resolve()
    return slugify(path.name if path.is_dir() else path.stem)


def _folder_items(root: Path) -> tuple[list[ImageItem], Literal["tree", "flat"]]:
    relative = sorted(_walk_images(root))
    synsets = _read_synset_mapping(root)
    depths = {rel.count("/") for rel in relative}
    if depths == {0} or not relative:
        labels = _read_flat_labels(root)
        items = []
        for rel in relative:
            label = labels.get(rel) or labels.get(rel.rsplit(".", 1)[0]) or _label_from_filename(rel)
            items.append(ImageItem(source=rel, path=root / rel, label=_synset_name(label, synsets)))
        return items, "flat"
    class_structured = depths == {1}
    return [
        ImageItem(
            source=rel,
            path=root / rel,
            label=_synset_name(rel.split("/", 1)[0], synsets) if class_structured else None,
        )
        for rel in relative
    ], "tree"


def _walk_images(root: Path) -> Iterator[str]:
    """Relative posix paths of the image files below ``root`` (hidden entries skipped).

    Symlinked folders are followed (datasets are often assembled from links), each real folder once.
    """
    seen: set[str] = set()
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_folder = Path(folder).relative_to(root).as_posix()
        for filename in filenames:
            if filename.startswith(".") or os.path.splitext(filename)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            if not os.path.isfile(os.path.join(folder, filename)):  # broken links, sockets, ...
                continue
            yield filename if rel_folder == "." else f"{rel_folder}/{filename}"


def _label_from_filename(filename: str) -> str | None:
    match = _SYNSET_FILENAME.match(filename.rsplit(".", 1)[0])
    if match is None:
        return None
    synset, rest = match.groups()
    # ImageNet *train* names are "<synset>_<number>": the synset itself is the label then.
    return synset if rest.isdigit() else rest.replace("_", " ").strip() or synset


def _read_flat_labels(root: Path) -> dict[str, str]:
    """Labels keyed by file name and by stem, from the label files ImageNet-val copies ship with."""
    labels: dict[str, str] = {}
    solution = root / _LOC_SOLUTION_FILE
    if solution.is_file():
        with solution.open(newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.reader(handle):
                if len(row) < 2 or row[0] == "ImageId" or not row[1].split():
                    continue
                labels[row[0].strip()] = row[1].split()[0]
    for label_file in _LABEL_FILES:
        path = root / label_file
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.strip().split(maxsplit=1)
            if len(parts) == 2 and not parts[0].startswith("#"):
                labels[parts[0]] = parts[1].strip()
        break
    return labels


def _read_synset_mapping(root: Path) -> dict[str, str]:
    """``n01440764`` → ``tench`` from a Kaggle/Caffe ImageNet synset list next to the images."""
    for folder in (root, root.parent):
        for filename in _SYNSET_MAPPING_FILES:
            path = folder / filename
            if not path.is_file():
                continue
            mapping = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.strip().split(maxsplit=1)
                if len(parts) == 2 and _SYNSET_ID.match(parts[0]):
                    mapping[parts[0]] = parts[1].split(",")[0].strip()
            return mapping
    return {}


def _synset_name(label: str | None, synsets: dict[str, str]) -> str | None:
    if label is None:
        return None
    return synsets.get(label, label)


def _list_file_items(list_file: Path) -> list[ImageItem]:
    try:
        text = list_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"image source {list_file} is neither a folder, an image nor a text list") from None
    items = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        listed, _, label = raw_line.partition("\t")
        listed = listed.strip()
        path = Path(listed).expanduser()
        if not path.is_absolute():
            path = list_file.parent / path
        items.append(ImageItem(source=listed, path=path, label=label.strip() or None))
    return items


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """One chunk of ``batch_size`` selected items, decoded.

    ``indices``: int64 ``[b]`` dataset indices of the images that decoded, in order; ``images``: uint8
    ``[b, 3, crop, crop]`` those images as the model sees them; ``skipped``: ``(index, source, reason)``
    of the chunk's items that failed. ``b`` may be smaller than the chunk (even 0) when items failed.
    """

    indices: torch.Tensor
    images: torch.Tensor
    skipped: list[tuple[int, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def pin_memory(self) -> Batch:
        """Called by the DataLoader's pinning thread (``pin_memory=True``)."""
        return Batch(self.indices.pin_memory(), self.images.pin_memory(), self.skipped)


# (dataset index, image or None, reason or None): what one worker returns for one item.
_Decoded = tuple[int, torch.Tensor | None, str | None]


class _DecodeDataset(Dataset[_Decoded]):
    """Maps a dataset index to its model input; failures become a reason instead of an exception."""

    def __init__(self, source: ImageSource, prep: Preprocessing) -> None:
        self.items = source.items
        self.prep = prep

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> _Decoded:
        try:
            image = load_image_file(self.items[index].path)
            return index, to_model_input(image, self.prep), None
        except ImageDecodeError as exc:
            return index, None, exc.reason
        except Exception as exc:  # one bad image must never abort a run over a million
            return index, None, f"unexpected {type(exc).__name__}: {exc}"


class _Collate:
    """Stacks the decoded images of a chunk and lists the failed ones (picklable for workers)."""

    def __init__(self, source: ImageSource, crop: int) -> None:
        self.sources = [item.source for item in source.items]
        self.crop = crop

    def __call__(self, decoded: list[_Decoded]) -> Batch:
        indices = [index for index, image, _ in decoded if image is not None]
        images = [image for _, image, _ in decoded if image is not None]
        skipped = [(index, self.sources[index], reason or "") for index, image, reason in decoded if image is None]
        stacked = torch.stack(images) if images else torch.empty((0, 3, self.crop, self.crop), dtype=torch.uint8)
        return Batch(torch.tensor(indices, dtype=torch.int64), stacked, skipped)


def count_batches(n_items: int, batch_size: int) -> int:
    """Number of batches ``iter_batches`` yields for ``n_items`` selected items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return math.ceil(max(n_items, 0) / batch_size)


def iter_batches(
    source: ImageSource,
    prep: Preprocessing,
    *,
    batch_size: int,
    workers: int = 0,
    indices: Sequence[int] | None = None,
    start: int = 0,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """Decode the selected images of ``source`` in ``workers`` processes, in order, batch by batch.

    The selection is ``indices`` (dataset indices, in the given order) or all items; ``start`` skips
    the first ``start`` selected items (resume). Batches are consecutive chunks of ``batch_size``
    *selected* items, so their boundaries never depend on which images fail to decode: a failed image
    is listed in its chunk's ``Batch.skipped`` and the batch is simply smaller (possibly empty — it is
    still yielded, so progress and skip lists stay complete). ``workers=0`` decodes in-process. At most
    ``2 × workers`` batches are in flight, so memory does not grow with the number of images.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    n_items = len(source.items)
    if indices is None:
        selection: list[int] = list(range(start, n_items))
    else:
        selection = [int(index) for index in indices][start:]
        bad = [index for index in selection if not 0 <= index < n_items]
        if bad:
            raise ValueError(f"indices out of range for a source of {n_items} images: {bad[:5]}")
    if not selection:
        return
    loader = DataLoader(
        _DecodeDataset(source, prep),
        batch_size=batch_size,
        sampler=selection,  # a plain sequence: iterated in order, so chunks are fixed
        num_workers=workers,
        collate_fn=_Collate(source, prep.crop),
        pin_memory=pin_memory and torch.cuda.is_available(),
        drop_last=False,
    )
    yield from loader
