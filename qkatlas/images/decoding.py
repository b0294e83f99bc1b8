"""Bytes or a file → a fully loaded RGB ``PIL.Image``, or an ``ImageDecodeError`` with a short reason.

Never anything else, never a half-decoded image: uploads and dataset files go through the same
decoder, so the service and the precompute job refuse (and accept) exactly the same inputs.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Decompression-bomb guard: images whose header declares more pixels than this are refused before
#: a single pixel is decoded (64 MP covers every real camera photo; a bomb is a tiny file that claims
#: billions). Pillow additionally refuses anything above ``2 * Image.MAX_IMAGE_PIXELS`` on its own.
DEFAULT_MAX_PIXELS = 64_000_000

#: The only decoders Pillow may use. Restricting them keeps exotic plugins (EPS runs Ghostscript,
#: for example) out of reach of uploaded bytes; these cover what photo collections and browsers use.
_ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF")

#: Background that transparent pixels are composited over. White, because images with transparency
#: (logos, product shots, stickers) are authored to be seen on a white page.
ALPHA_BACKGROUND = (255, 255, 255)

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
    check_image_size(*image.size, max_pixels=max_pixels)
    try:
        # Decode every pixel now, so truncation and corruption surface here and not in a later
        # resize. This relies on Pillow's default ImageFile.LOAD_TRUNCATED_IMAGES = False, which
        # qkatlas never changes (a test pins it).
        image.load()
    except Exception as exc:
        raise ImageDecodeError(_corrupt_reason(exc)) from None
    try:
        return to_rgb(_apply_exif_orientation(image))
    except Exception as exc:
        raise ImageDecodeError(f"cannot convert {image.mode} image to RGB ({type(exc).__name__})") from None


def check_image_size(width: int, height: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """The checks ``decode_image`` makes on a header's size before decoding a pixel (shared with the
    GPU decoder, which must refuse the same bombs).

    Raises:
        ImageDecodeError: zero width or height, more than ``max_pixels`` pixels, or an aspect ratio
            beyond ``MAX_ASPECT_RATIO``.
    """
    if width <= 0 or height <= 0:
        raise ImageDecodeError("image has zero width or height")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"image too large ({width}×{height} = {width * height:,} pixels, limit {max_pixels:,})", "too_large"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageDecodeError(f"image too narrow ({width}×{height}; aspect ratio limit {MAX_ASPECT_RATIO}:1)")


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
        return 0 in struct.unpack(">II", head[16:24])
    if head.startswith((b"GIF87a", b"GIF89a")) and len(head) >= 10:
        return 0 in struct.unpack("<HH", head[6:10])
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


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB (alpha composited over white, high bit depths scaled down)."""
    mode = image.mode
    if mode in ("P", "L", "RGB") and "transparency" in image.info:
        # A transparent palette entry or colour key (PNG tRNS, GIF) lives in info, not in the mode.
        return to_rgb(image.convert("RGBA"))
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
