"""Image sources, robust decoding, model-input preprocessing and parallel batch loading.

Everything that turns files on disk (or uploaded bytes) into the uint8 crops a model sees lives here,
so that the precompute job and the service decode and crop photos in exactly the same way. One
module per concern:

- ``decoding``: ``decode_image`` / ``load_image_file``: bytes or a file → an RGB ``PIL.Image``, or an
  ``ImageDecodeError`` with a short reason. Never anything else, never a half-decoded image.
- ``model_input``: ``to_model_input``: RGB image → uint8 ``[3, crop, crop]``, the image *as the model
  sees it* (its own resize and centre crop; normalization happens later, on the device).
- ``sources``: ``open_image_source``: a folder tree, a flat ImageNet-val style folder or a list file →
  an ordered, labelled ``ImageSource``; ``item_path`` finds an item's file again from an atlas's records.
- ``batches``: ``iter_batches`` decodes a source in worker processes and yields fixed-boundary
  ``Batch`` es; ``iter_shared_batches`` decodes each image once for several preprocessings (one
  ``SharedBatch`` of views per chunk), so several models can share one stream.
- ``device_decoding``: ``iter_device_batches``: the same batches decoded on the compute device
  (nvJPEG on CUDA, batched; per-file Pillow fallback for what nvJPEG would decode differently),
  prefetched by a background thread; ``resolve_decode`` chooses between the two (``auto``: nvJPEG
  on CUDA, else Pillow workers). ``jpeg_header`` reads what a JPEG's header says about it.
"""

from qkatlas.images.batches import Batch, SharedBatch, count_batches, iter_batches, iter_shared_batches
from qkatlas.images.decoding import (
    ALPHA_BACKGROUND,
    DEFAULT_MAX_PIXELS,
    MAX_ASPECT_RATIO,
    DecodeErrorKind,
    ImageDecodeError,
    check_image_size,
    decode_image,
    load_image_file,
    to_rgb,
)
from qkatlas.images.device_decoding import (
    DecodeCounts,
    DecodeName,
    iter_device_batches,
    nvjpeg_available,
    pillow_reason,
    resolve_decode,
)
from qkatlas.images.model_input import tensor_to_model_input, to_model_input
from qkatlas.images.sources import (
    IMAGE_EXTENSIONS,
    ImageItem,
    ImageSource,
    default_source_name,
    item_path,
    open_image_source,
)

__all__ = [
    "ALPHA_BACKGROUND",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "MAX_ASPECT_RATIO",
    "Batch",
    "DecodeCounts",
    "DecodeErrorKind",
    "DecodeName",
    "ImageDecodeError",
    "ImageItem",
    "ImageSource",
    "SharedBatch",
    "check_image_size",
    "count_batches",
    "decode_image",
    "default_source_name",
    "item_path",
    "iter_batches",
    "iter_device_batches",
    "iter_shared_batches",
    "load_image_file",
    "nvjpeg_available",
    "open_image_source",
    "pillow_reason",
    "resolve_decode",
    "tensor_to_model_input",
    "to_model_input",
    "to_rgb",
]
