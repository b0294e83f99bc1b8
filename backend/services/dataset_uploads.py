"""A dataset image of an atlas turned into an upload, so that every upload view can analyse it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from backend.schemas import DatasetImageUpload
from backend.services.uploads import UploadInfo, UploadRejected, UploadStore
from qkatlas.atlas import Atlas
from qkatlas.atlas.contract import ImageRecord
from qkatlas.images import item_path


def _original_file(atlas: Atlas, source: str, max_bytes: int) -> bytes | str:
    """The image's original file as the dataset record and image record locate it, or why it cannot be used
    (in words without the server's paths)."""
    dataset = atlas.manifest.dataset
    path = item_path(dataset.source, dataset.layout, source)
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError:
        return f"the original file of {source!r} can no longer be read where the atlas was built"
    if len(data) > max_bytes:
        return f"the original file of {source!r} is larger than the upload limit ({max_bytes:,} bytes)"
    return data


async def upload_dataset_image(
    uploads: UploadStore,
    atlas: Atlas,
    image_id: str,
    record: ImageRecord,
    *,
    thumbnail: Callable[[], Awaitable[bytes | None]],
    max_bytes: int,
) -> DatasetImageUpload | None:
    """The image stored as an upload: its original file when it can still be read where the atlas was
    built, else ``thumbnail()`` (the crop the model saw); None when there is neither."""
    original = await asyncio.to_thread(_original_file, atlas, record.source, max_bytes)
    info: UploadInfo | None = None
    note = original if isinstance(original, str) else None
    if isinstance(original, bytes):
        try:
            info = await uploads.add(original)
        except UploadRejected as rejected:
            note = f"the original file of {record.source!r} cannot be used: {rejected.reason}"
    from_original_file = info is not None
    if info is None:
        data = await thumbnail()
        if data is None:
            return None
        info = await uploads.add(data)
    return DatasetImageUpload(
        upload=info.to_response(),
        image_id=image_id,
        label=record.label,
        source=record.source,
        from_original_file=from_original_file,
        note=note,
    )
