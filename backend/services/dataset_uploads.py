"""A dataset image of an atlas turned into an upload, so that every upload view can analyse it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from backend.schemas import DatasetImageUpload
from backend.services.dataset_images import original_file
from backend.services.uploads import UploadInfo, UploadRejected, UploadStore
from qkatlas.atlas import Atlas
from qkatlas.atlas.contract import ImageRecord


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
    original = await asyncio.to_thread(original_file, atlas, record.source, max_bytes)
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
