"""Image collections: a folder tree, a flat ImageNet-val style folder or a list file → an ordered,
labelled ``ImageSource`` (an item's position is its dataset index)."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qkatlas.slugs import slugify

#: File extensions (lower case) collected from folder sources.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})


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

    @property
    def classes(self) -> tuple[str, ...]:
        """The distinct class labels, sorted; a class's id is its position here."""
        return tuple(sorted({item.label for item in self.items if item.label is not None}))

    def class_ids(self) -> list[int]:
        """Every item's class id (its label's position in ``classes``), −1 for an item without a label."""
        position = {label: i for i, label in enumerate(self.classes)}
        return [-1 if item.label is None else position[item.label] for item in self.items]


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
        items.append(ImageItem(source=listed, path=_listed_path(list_file, listed), label=label.strip() or None))
    return items


def _listed_path(list_file: Path, listed: str) -> Path:
    """A path as a list file names it: absolute, or relative to the list file's folder."""
    path = Path(listed).expanduser()
    return path if path.is_absolute() else list_file.parent / path


def item_path(root: str, layout: Literal["tree", "flat", "list"], source: str) -> Path:
    """Where an item of a source opened at ``root`` (``ImageSource.root``, ``layout``) with ``source``
    (``ImageItem.source``) lies: ``ImageItem.path`` again, from what an atlas records of the two."""
    if layout == "list":
        # ``root`` is the list file, or the one image a single-image source holds (then ``source`` is its name).
        return _listed_path(Path(root), source)
    return Path(root) / source
