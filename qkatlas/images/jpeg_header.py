"""What a JPEG's header says, read from its bytes without decoding a pixel.

The GPU decoder (``device_decoding``) sends a file to nvJPEG only when its header shows nothing that
nvJPEG would decode differently from Pillow or should not decode at all; this module reads those
facts: the frame (size, components, precision, coding process), the EXIF and XMP orientation and
the Adobe colour transform. It stops at the first scan (SOS), so it reads a few hundred bytes to a
few dozen kilobytes (the EXIF thumbnail) of a file and costs microseconds.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

#: Start-of-frame markers and the coding process they announce (ITU T.81, table B.1). The DHT (C4),
#: JPG (C8) and DAC (CC) markers share the range but are not frames.
_SOF_MARKERS = {
    0xC0: "baseline",
    0xC1: "extended",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "hierarchical",
    0xC6: "hierarchical",
    0xC7: "hierarchical",
    0xC9: "arithmetic",
    0xCA: "arithmetic",
    0xCB: "arithmetic",
    0xCD: "hierarchical",
    0xCE: "hierarchical",
    0xCF: "hierarchical",
}
_SOS = 0xDA
_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_ADOBE = b"Adobe"
#: Pillow's own pattern for an XMP orientation (``Image.getexif``), so that both read the same value.
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class JpegHeader:
    """The facts of a JPEG header that decide who decodes it.

    ``process``: the coding process of the frame (``baseline``, ``extended``, ``progressive``, or one
    nvJPEG does not handle); ``component_ids``: one id per colour component (3 for YCbCr or RGB, 1 for
    greyscale, 4 for CMYK/YCCK); ``orientation``: the EXIF orientation (Pillow's reading: EXIF first,
    else XMP; 1 when neither has one); ``adobe_transform``: the APP14 Adobe colour transform (0: none,
    i.e. RGB or CMYK; 1: YCbCr; 2: YCCK), ``None`` without an Adobe segment; ``exif_segments``: how many
    EXIF segments the file has (Pillow joins several into one block).
    """

    width: int
    height: int
    precision: int
    process: str
    component_ids: tuple[int, ...]
    orientation: int = 1
    adobe_transform: int | None = None
    exif_segments: int = 0


class JpegHeaderError(ValueError):
    """The bytes are not a JPEG, or its header cannot be read up to the first scan."""


class NotAJpegError(JpegHeaderError):
    """The bytes do not start with a JPEG's SOI marker."""


def read_jpeg_header(data: bytes | bytearray | memoryview) -> JpegHeader:
    """Read the header of a JPEG file's bytes, up to its first scan.

    Raises:
        NotAJpegError: no SOI marker.
        JpegHeaderError: a header that ends or breaks before the frame and the first scan (a malformed
            EXIF block counts: its orientation is unknown).
    """
    view = memoryview(data)
    if bytes(view[:3]) != b"\xff\xd8\xff":
        raise NotAJpegError("not a JPEG")
    frame: tuple[int, int, int, str, tuple[int, ...]] | None = None
    exif_orientation: int | None = None
    xmp_orientation: int | None = None
    adobe_transform: int | None = None
    exif_segments = 0
    for marker, payload in _segments(view):
        if marker in _SOF_MARKERS and frame is None:
            frame = _frame(marker, payload)
        elif marker == 0xE1 and payload[: len(_EXIF)] == _EXIF:
            exif_segments += 1
            if exif_segments == 1:
                exif_orientation = _exif_orientation(payload[len(_EXIF) :])
        elif marker == 0xE1 and payload[: len(_XMP)] == _XMP:
            match = _XMP_ORIENTATION.search(payload[len(_XMP) :])
            xmp_orientation = int(match[2]) if match else xmp_orientation
        elif marker == 0xEE and payload[: len(_ADOBE)] == _ADOBE and len(payload) >= 12:
            adobe_transform = payload[11]
    if frame is None:
        raise JpegHeaderError("no frame before the first scan")
    width, height, precision, process, component_ids = frame
    orientation = exif_orientation if exif_orientation is not None else xmp_orientation
    return JpegHeader(
        width=width,
        height=height,
        precision=precision,
        process=process,
        component_ids=component_ids,
        orientation=1 if orientation is None else orientation,
        adobe_transform=adobe_transform,
        exif_segments=exif_segments,
    )


def ends_with_eoi(data: bytes | bytearray | memoryview) -> bool:
    """Whether the file ends with the EOI marker (trailing zero padding allowed). A truncated JPEG does
    not; libjpeg and Pillow refuse it, but nvJPEG may decode it to a half-grey image without a word."""
    tail = bytes(memoryview(data)[-64:]).rstrip(b"\x00")
    return tail.endswith(b"\xff\xd9")


def _segments(view: memoryview) -> Iterator[tuple[int, memoryview]]:
    """The ``(marker, payload)`` of every segment after SOI, up to the first SOS (excluded); raises
    ``JpegHeaderError`` where the header breaks or ends before that scan."""
    position, size = 2, len(view)
    while True:
        if position >= size or view[position] != 0xFF:
            raise JpegHeaderError("broken marker")
        # Markers may be preceded by any number of 0xFF fill bytes (T.81 B.1.1.2).
        while position < size and view[position] == 0xFF:
            position += 1
        if position + 3 > size:
            raise JpegHeaderError("header ends inside a segment")
        marker = view[position]
        if 0xD0 <= marker <= 0xD9 or marker in (0x00, 0x01):  # RSTn, SOI, EOI, TEM, stuffing: no segment
            raise JpegHeaderError(f"unexpected marker 0xFF{marker:02X} before the first scan")
        (length,) = struct.unpack_from(">H", view, position + 1)
        end = position + 1 + length
        if length < 2 or end > size:
            raise JpegHeaderError("header ends inside a segment")
        if marker == _SOS:
            return
        yield marker, view[position + 3 : end]
        position = end


def _frame(marker: int, payload: memoryview) -> tuple[int, int, int, str, tuple[int, ...]]:
    """SOF payload → ``(width, height, precision, process, component ids)``."""
    if len(payload) < 6:
        raise JpegHeaderError("short frame header")
    precision, height, width, n_components = struct.unpack_from(">BHHB", payload)
    if len(payload) < 6 + 3 * n_components:
        raise JpegHeaderError("short frame header")
    component_ids = tuple(payload[6 + 3 * i] for i in range(n_components))
    return width, height, precision, _SOF_MARKERS[marker], component_ids


def _exif_orientation(tiff: memoryview) -> int | None:
    """The orientation tag (0x0112) of IFD0 of an EXIF block (a TIFF structure), ``None`` without one.

    Reads the first IFD only, where the tag lives; a block that cannot be read raises
    ``JpegHeaderError`` (the caller cannot know the orientation then).
    """
    magic = bytes(tiff[:4])
    if magic == b"II*\x00":
        endian = "<"
    elif magic == b"MM\x00*":
        endian = ">"
    else:
        raise JpegHeaderError("EXIF block without a TIFF header")
    try:
        (ifd,) = struct.unpack_from(endian + "I", tiff, 4)
        (n_entries,) = struct.unpack_from(endian + "H", tiff, ifd)
        for entry in range(ifd + 2, ifd + 2 + 12 * n_entries, 12):
            tag, kind = struct.unpack_from(endian + "HH", tiff, entry)
            if tag != _ORIENTATION_TAG:
                continue
            if kind == 3:  # SHORT, as the standard says
                return int(struct.unpack_from(endian + "H", tiff, entry + 8)[0])
            if kind == 4:  # LONG, written by some tools
                return int(struct.unpack_from(endian + "I", tiff, entry + 8)[0])
            raise JpegHeaderError("EXIF orientation of an unexpected type")
    except struct.error:
        raise JpegHeaderError("EXIF block ends early") from None
    return None
