"""What removing modes of a head did to an image (``qkatlas.ablation``), as the API answers it."""

from __future__ import annotations

import numpy as np

from backend.schemas import ClassChange, ModeAblation
from backend.services.analysis.codec import AblationRecord
from backend.services.analysis.runner import TOP_CLASSES
from qkatlas.atlas import Atlas


def _top(record: AblationRecord, names: list[str], run: int) -> list[ClassChange]:
    """The ``TOP_CLASSES`` listed classes most probable in ``run`` (0 before, 1 after), most probable first."""
    order = np.argsort(-record.probabilities[run], kind="stable")[:TOP_CLASSES]
    return [
        ClassChange(
            index=int(record.classes[k]),
            label=names[k],
            before=float(record.probabilities[0, k]),
            after=float(record.probabilities[1, k]),
        )
        for k in order
    ]


def mode_ablation(
    atlas: Atlas,
    image: str,
    layer: int,
    head: int,
    removed: tuple[int, ...],
    keep_top: int | None,
    query_patch: int,
    record: AblationRecord,
    note: str | None = None,
) -> ModeAblation:
    n_prefix, grid = len(atlas.manifest.model.prefix_kinds), atlas.grid
    names = record.class_names.tobytes().decode().split("\n") if len(record.classes) else []
    before, after = record.rows
    return ModeAblation(
        model=atlas.slug,
        image=image,
        layer=layer,
        head=head,
        removed=list(removed),
        keep_top=keep_top,
        query_patch=query_patch,
        grid=grid,
        prefix_kinds=list(atlas.manifest.model.prefix_kinds),
        row_before=before.tolist(),
        row_after=after.tolist(),
        patch_before=before[n_prefix:].reshape(grid, grid).tolist(),
        patch_after=after[n_prefix:].reshape(grid, grid).tolist(),
        moved=record.moved[n_prefix:].reshape(grid, grid).tolist(),
        moved_prefix=record.moved[:n_prefix].tolist(),
        mean_moved=float(record.moved[n_prefix:].mean()),
        embedding_cosine=float(record.embedding_cosine),
        has_classifier=len(record.classes) > 0,
        top_before=_top(record, names, 0) if names else [],
        top_after=_top(record, names, 1) if names else [],
        random_weights=atlas.manifest.model.random_init,
        note=note,
    )
