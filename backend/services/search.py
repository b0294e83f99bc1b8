"""Search over every served atlas: by name ("dino-vitb16 L6 H2 M3") and by class ("retriever").

Names are parsed, not matched as text: a query is split into words; ``L6``, ``H2``, ``M3`` (or glued,
``L6H2M3``; ``layer 6`` too) name a layer, head and mode, ``pos``/``neg`` a sign, and the other words
must all occur in a model's slug or id. A query that names no layer, head or mode is also looked up
as part of a class label, case-insensitive with ``_`` read as a space; each matching class brings
the signed modes most selective for it (``stats/class_modes.npy``, precomputed per class), across
every served model, best first. Everything is read from memory maps already open: a query costs a
few small reads per atlas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from backend.schemas import (
    Basis,
    ClassAcrossModels,
    ClassEntry,
    ClassImage,
    ClassList,
    ClassMatch,
    ClassModeMatch,
    ImageRef,
    LabelledDataset,
    ModelClassModes,
    ModeRefOut,
    NameMatch,
    SearchResults,
    Sign,
)
from backend.services.atlases import image_id, source_name, thumbnail_url
from backend.services.pages import short_name
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import SignedMode
from qkatlas.mode_statistics import RELIABLE_CLASS_IMAGES

#: Best images shown with each mode found.
IMAGES_PER_MODE = 4
#: The class's own images listed with each model on the class page (shown under each of its modes).
CLASS_IMAGES = 6
#: Classes a class query expands to, at most.
MAX_CLASSES = 12

_PART = re.compile(r"^(?:l(?:ayer)?(\d+))?(?:h(?:ead)?(\d+))?(?:m(?:ode)?(\d+))?$")
_SIGNS = {"pos": Sign.pos, "+": Sign.pos, "neg": Sign.neg, "-": Sign.neg, "−": Sign.neg}


@dataclass(frozen=True)
class NameQuery:
    """A query read as a name: the model words and the layer, head, mode and sign it gives."""

    model_words: tuple[str, ...]
    layer: int | None
    head: int | None
    mode: int | None
    sign: Sign | None

    @property
    def names_a_part(self) -> bool:
        return self.layer is not None or self.head is not None or self.mode is not None

    @classmethod
    def parse(cls, query: str) -> NameQuery:
        words = re.sub(r"\b(layer|head|mode)\s+(\d+)", r"\1\2", query.lower()).split()
        parts: dict[str, int] = {}
        model_words, sign = [], None
        for word in words:
            if word in _SIGNS:
                sign = _SIGNS[word]
                continue
            match = _PART.match(word) if any(ch.isdigit() for ch in word) else None
            if match and any(match.groups()):
                for name, value in zip(("layer", "head", "mode"), match.groups(), strict=True):
                    if value is not None:
                        parts[name] = int(value)
                continue
            model_words.append(word)
        return cls(tuple(model_words), parts.get("layer"), parts.get("head"), parts.get("mode"), sign)


def _matches_model(atlas: Atlas, words: tuple[str, ...]) -> bool:
    haystack = f"{atlas.slug} {atlas.model_slug} {atlas.model_id}".lower()
    return all(word in haystack for word in words)


def _name_matches(atlases: list[Atlas], query: NameQuery, limit: int) -> list[NameMatch]:
    found: list[NameMatch] = []
    for atlas in atlases:
        if not _matches_model(atlas, query.model_words):
            continue
        if not query.names_a_part:
            if query.model_words:
                found.append(_name(atlas, "model", None, None, None, None))
            continue
        layer, head, mode = query.layer, query.head, query.mode
        if layer is None or layer >= atlas.n_layers:
            continue
        if head is None:
            found.append(_name(atlas, "layer", layer, None, None, None))
        elif head < atlas.n_heads:
            if mode is None:
                found.append(_name(atlas, "head", layer, head, None, None))
            elif mode < atlas.n_modes:
                found.append(_name(atlas, "mode", layer, head, mode, query.sign))
    return found[:limit]


def _name(
    atlas: Atlas,
    kind: Literal["model", "layer", "head", "mode"],
    layer: int | None,
    head: int | None,
    mode: int | None,
    sign: Sign | None,
) -> NameMatch:
    title = " ".join(
        [short_name(atlas.model_id)]
        + [f"{letter}{value}" for letter, value in (("L", layer), ("H", head), ("M", mode)) if value is not None]
        + ([sign.value] if sign else [])
    )
    return NameMatch(
        kind=kind,
        model=atlas.slug,
        model_id=atlas.model_id,
        dataset=atlas.manifest.dataset.name,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        title=title,
    )


def mode_ref(atlas: Atlas, basis: Basis, mode: SignedMode) -> ModeRefOut:
    winners = atlas.evidence(basis, mode.layer, mode.head, mode.mode, mode.sign).winners[:IMAGES_PER_MODE]
    return ModeRefOut(
        model=atlas.slug,
        model_id=atlas.model_id,
        basis=basis,
        layer=mode.layer,
        head=mode.head,
        mode=mode.mode,
        sign=mode.sign,
        sigma=float(atlas.sigma(mode.layer, mode.head)[mode.mode]),
        cos=float(atlas.cos(mode.layer, mode.head)[mode.mode]),
        top_images=[
            ImageRef(image_id=image_id(atlas, w.dataset_index), thumbnail_url=thumbnail_url(atlas, w.dataset_index))
            for w in winners
        ],
    )


def _basis_of(atlas: Atlas, basis: Basis | None) -> Basis | None:
    """The basis to answer in: the one asked for when the atlas has it, else the atlas's first."""
    if basis is None:
        return atlas.bases[0]
    return basis if basis in atlas.bases else None


def _class_mode(atlas: Atlas, basis: Basis, class_id: int, mode: SignedMode, selectivity: float) -> ClassModeMatch:
    statistics = atlas.statistics
    assert statistics is not None
    score = statistics.class_score(atlas.basis_axis(basis), mode, class_id)
    return ClassModeMatch(
        mode=mode_ref(atlas, basis, mode),
        label=statistics.classes[class_id],
        selectivity=selectivity,
        class_mean=score.mean,
        n_images=score.n_images,
    )


def _class_modes(atlas: Atlas, basis: Basis, class_id: int, limit: int) -> list[ClassModeMatch]:
    assert atlas.statistics is not None
    found = atlas.statistics.class_modes(atlas.basis_axis(basis), class_id)[:limit]
    return [_class_mode(atlas, basis, class_id, mode, selectivity) for mode, selectivity in found]


@dataclass(frozen=True, order=True)
class _Candidate:
    """A signed mode found for a class, before it is looked up: sorts exact class first, then by
    selectivity (descending)."""

    inexact: bool
    negated_selectivity: float
    atlas: int
    class_id: int
    column: int


def search(atlases: list[Atlas], text: str, basis: Basis | None, limit: int) -> SearchResults:
    query = NameQuery.parse(text)
    names = _name_matches(atlases, query, limit)
    classes: dict[str, int] = {}
    candidates: list[_Candidate] = []
    hits: list[ClassModeMatch] = []
    missing = [atlas.slug for atlas in atlases if atlas.statistics is None]
    chosen_bases: dict[int, Basis] = {}
    if not query.names_a_part:
        for number, atlas in enumerate(atlases):
            chosen = _basis_of(atlas, basis)
            if atlas.statistics is None or chosen is None:
                continue
            chosen_bases[number] = chosen
            found = atlas.statistics.find_classes(text)[:MAX_CLASSES]
            for class_id in found:
                label = atlas.statistics.classes[class_id]
                classes[label] = classes.get(label, 0) + 1
            candidates.extend(_candidates(atlas, number, atlas.basis_axis(chosen), found, text, limit))
    # The class named exactly comes first ("red blue": red_blue before red_blue_green), then by selectivity;
    # only the modes shown are looked up.
    for candidate in sorted(candidates)[:limit]:
        atlas = atlases[candidate.atlas]
        assert atlas.statistics is not None
        mode = atlas.statistics.signed_mode(candidate.column)
        hits.append(
            _class_mode(atlas, chosen_bases[candidate.atlas], candidate.class_id, mode, -candidate.negated_selectivity)
        )
    return SearchResults(
        query=text,
        names=names,
        classes=[ClassMatch(label=label, n_models=n) for label, n in list(classes.items())[:MAX_CLASSES]],
        class_modes=hits,
        missing_statistics=missing,
    )


def _candidates(atlas: Atlas, number: int, axis: int, class_ids: list[int], text: str, limit: int) -> list[_Candidate]:
    """The best ``limit`` of the classes' precomputed modes in one atlas."""
    if not class_ids:
        return []
    assert atlas.statistics is not None
    columns, selectivities = atlas.statistics.class_mode_columns(axis, class_ids)  # [n, N]
    exact = atlas.statistics.class_id(text)
    inexact = np.array([class_id != exact for class_id in class_ids])[:, None].repeat(columns.shape[1], axis=1)
    rows = np.arange(len(class_ids))[:, None].repeat(columns.shape[1], axis=1)
    valid = columns >= 0
    order = np.lexsort((-selectivities[valid], inexact[valid]))[:limit]
    return [
        _Candidate(bool(flag), -float(selectivity), number, class_ids[row], int(column))
        for flag, selectivity, row, column in zip(
            inexact[valid][order], selectivities[valid][order], rows[valid][order], columns[valid][order], strict=True
        )
    ]


def _class_image(atlas: Atlas, index: int) -> ClassImage:
    record = atlas.image_meta(index)
    assert record is not None
    return ClassImage(
        image_id=image_id(atlas, index),
        dataset_index=index,
        source=source_name(record.source),
        thumbnail_url=thumbnail_url(atlas, index),
    )


def class_across_models(atlases: list[Atlas], label: str, basis: Basis | None, limit: int) -> ClassAcrossModels:
    """Each served model's most selective modes for the class named ``label`` (exact, case-insensitive)."""
    models, missing, without, no_basis = [], [], [], []
    for atlas in atlases:
        statistics, chosen = atlas.statistics, _basis_of(atlas, basis)
        if statistics is None:
            missing.append(atlas.slug)
            continue
        if chosen is None:
            no_basis.append(atlas.slug)
            continue
        class_id = statistics.class_id(label)
        if class_id is None:
            without.append(atlas.slug)
            continue
        listed = atlas.class_images(statistics.classes[class_id])
        models.append(
            ModelClassModes(
                model=atlas.slug,
                model_id=atlas.model_id,
                revision=atlas.revision,
                dataset=atlas.manifest.dataset.name,
                n_images=statistics.class_size(class_id),
                largest_class_images=int(statistics.class_sizes().max()),
                modes=_class_modes(atlas, chosen, class_id, limit),
                images=[_class_image(atlas, index) for index in listed[:CLASS_IMAGES]],
                n_images_listed=len(listed),
            )
        )
    return ClassAcrossModels(
        label=label,
        basis=basis,
        models=models,
        missing_statistics=missing,
        without_class=without,
        without_basis=no_basis,
        reliable_class_images=RELIABLE_CLASS_IMAGES,
    )


def unknown_class(result: ClassAcrossModels) -> str | None:
    """Why ``result`` answers nothing about its class (no served dataset has it; the API's 404), or None."""
    if result.models or result.without_basis:
        return None
    missing = result.missing_statistics
    cannot_say = f" ({len(missing)} without statistics cannot say)" if missing else ""
    return f"no served model's dataset has a class {result.label!r}{cannot_say}"


def list_classes(atlases: list[Atlas]) -> ClassList:
    """Every class of every served dataset with labels and its image count in each; atlases over one
    dataset (same name, classes and counts) share a column."""
    datasets: dict[tuple[str, tuple[str, ...], tuple[int, ...]], LabelledDataset] = {}
    missing, unlabelled = [], []
    for atlas in atlases:
        statistics = atlas.statistics
        if statistics is None:
            missing.append(atlas.slug)
            continue
        if not statistics.has_classes:
            unlabelled.append(atlas.slug)
            continue
        sizes = statistics.class_sizes()
        key = (atlas.manifest.dataset.name, statistics.classes, tuple(int(n) for n in sizes))
        if key not in datasets:
            datasets[key] = LabelledDataset(
                name=key[0],
                atlases=[],
                n_classes=len(key[1]),
                n_images=int(sizes.sum()),
                largest_class_images=int(sizes.max()),
            )
        datasets[key].atlases.append(atlas.slug)
    counts: dict[str, list[int | None]] = {}
    for column, (_, labels, counted) in enumerate(datasets):
        for label, size in zip(labels, counted, strict=True):
            counts.setdefault(label, [None] * len(datasets))[column] = size
    return ClassList(
        datasets=list(datasets.values()),
        classes=[ClassEntry(label=label, n_images=counts[label]) for label in sorted(counts, key=str.lower)],
        reliable_class_images=RELIABLE_CLASS_IMAGES,
        missing_statistics=missing,
        without_labels=unlabelled,
    )
