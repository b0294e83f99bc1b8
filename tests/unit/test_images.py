"""Decoding, preprocessing, image sources and batch loading (qkatlas.images)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import skimage.data
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from qkatlas.images import (
    DEFAULT_MAX_PIXELS,
    Batch,
    ImageDecodeError,
    ImageSource,
    count_batches,
    decode_image,
    item_path,
    iter_batches,
    load_image_file,
    open_image_source,
    to_model_input,
)
from qkatlas.images.preprocessing import Preprocessing

PREP_SHORTEST = Preprocessing(crop=32, resize=36, resize_mode="shortest", mean=(0.5,) * 3, std=(0.5,) * 3)
PREP_EXACT = Preprocessing(crop=32, resize=32, resize_mode="exact", mean=(0.5,) * 3, std=(0.5,) * 3)


# ---------------------------------------------------------------------------------------------- helpers


def _photo(name: str = "astronaut", size: tuple[int, int] | None = (96, 64)) -> Image.Image:
    """A natural RGB photo from scikit-image (CC0), optionally shrunk to ``size`` (w, h) for speed."""
    image = Image.fromarray(getattr(skimage.data, name)())
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image.resize(size, Image.Resampling.BILINEAR) if size else image


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int32)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``width × height`` zeros, compressed without building it in memory."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _assert_refused(data: bytes, *needles: str) -> str:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data)
    reason = caught.value.reason
    assert reason and str(caught.value) == reason
    assert "BytesIO" not in reason and "/tmp" not in reason and "<" not in reason
    assert any(needle in reason for needle in needles), reason
    return reason


# ---------------------------------------------------------------------------------------------- decoding


def test_loading_truncated_images_stays_disabled() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "TIFF"])
def test_lossless_rgb_round_trips(fmt: str) -> None:
    photo = _photo()
    params = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode_image(_encode(photo, fmt, **params))
    assert decoded.mode == "RGB" and decoded.size == photo.size
    np.testing.assert_array_equal(_pixels(decoded), _pixels(photo))


def test_jpeg_decodes_close_to_the_photo() -> None:
    photo = _photo("chelsea")
    decoded = decode_image(_encode(photo, "JPEG", quality=95))
    assert decoded.mode == "RGB" and decoded.size == photo.size
    assert np.abs(_pixels(decoded) - _pixels(photo)).mean() < 4


def test_greyscale_becomes_three_equal_channels() -> None:
    camera = skimage.data.camera()  # type: ignore[no-untyped-call]  # skimage.data is unannotated
    grey = Image.fromarray(camera).resize((64, 64))
    decoded = decode_image(_encode(grey, "PNG"))
    assert decoded.mode == "RGB"
    rgb = _pixels(decoded)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], _pixels(grey))


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped() -> None:
    camera = skimage.data.camera()[::8, ::8]  # type: ignore[no-untyped-call]  # skimage.data is unannotated
    sixteen = Image.fromarray(camera.astype(np.uint16) * 257)
    data = _encode(sixteen, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    decoded = decode_image(data)
    np.testing.assert_array_equal(_pixels(decoded)[..., 0], camera)  # not all white


def test_sixteen_bit_rgb_png_decodes() -> None:
    # Pillow cannot write 48-bit PNGs; build one by hand: 16-bit samples, big-endian, filter 0.
    photo = np.asarray(_photo(size=(16, 8))).astype(">u2") * 257
    raw = b"".join(b"\x00" + row.tobytes() for row in photo)
    header = struct.pack(">IIBBBBB", 16, 8, 16, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    decoded = decode_image(data)
    np.testing.assert_array_equal(_pixels(decoded), (photo // 257).astype(np.int32))


def test_float_tiff_in_unit_range_is_scaled_to_eight_bits() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 32, dtype=np.float32), (8, 1))
    decoded = decode_image(_encode(Image.fromarray(ramp), "TIFF"))
    grey = _pixels(decoded)[..., 0]
    assert grey[0, 0] == 0 and grey[0, -1] == 255 and np.all(np.diff(grey[0]) >= 0)


def test_cmyk_jpeg_converts_to_rgb() -> None:
    photo = _photo("coffee")
    data = _encode(photo.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    decoded = decode_image(data)
    assert decoded.mode == "RGB"
    assert np.abs(_pixels(decoded) - _pixels(photo)).mean() < 8


def test_rgba_is_composited_over_white() -> None:
    photo = _photo(size=(40, 20))
    alpha = np.zeros((20, 40), dtype=np.uint8)
    alpha[:, 20:] = 255  # right half opaque, left half transparent
    alpha[:, 19] = 128
    rgba = photo.copy()
    rgba.putalpha(Image.fromarray(alpha))
    decoded = _pixels(decode_image(_encode(rgba, "PNG")))
    assert np.all(decoded[:, :19] == 255)
    np.testing.assert_array_equal(decoded[:, 20:], _pixels(photo)[:, 20:])
    half = (_pixels(photo)[:, 19] * 128 + 255 * 127) / 255
    assert np.abs(decoded[:, 19] - half).max() <= 1


def test_greyscale_with_alpha_is_composited() -> None:
    la = Image.merge("LA", [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 0)])
    assert np.all(_pixels(decode_image(_encode(la, "PNG"))) == 255)


@pytest.mark.parametrize("transparency", ["index", "bytes"])
def test_palette_png_with_transparency(transparency: str) -> None:
    palette = Image.new("P", (20, 10))
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    palette.paste(1, (10, 0, 20, 10))  # left half index 0 (red), right half index 1 (green)
    params: dict[str, object] = {"transparency": 0 if transparency == "index" else b"\x00\xff"}
    data = _encode(palette, "PNG", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "convert palette to RGBA" warnings either
        decoded = _pixels(decode_image(data))
    assert np.all(decoded[:, :10] == 255)  # transparent red → white background
    assert np.all(decoded[:, 10:] == [0, 255, 0])


def test_palette_png_without_transparency() -> None:
    quantized = _photo().quantize(32)
    decoded = decode_image(_encode(quantized, "PNG"))
    np.testing.assert_array_equal(_pixels(decoded), _pixels(quantized.convert("RGB")))


def test_exif_orientation_is_applied() -> None:
    photo = _photo("chelsea", size=(60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = _encode(photo, "JPEG", quality=95, exif=exif.tobytes())
    stored = Image.open(io.BytesIO(data)).convert("RGB")  # pixels as stored, orientation ignored
    reference = stored.transpose(Image.Transpose.ROTATE_270)
    decoded = decode_image(data)
    assert stored.size == (60, 40) and decoded.size == (40, 60)
    np.testing.assert_array_equal(_pixels(decoded), _pixels(reference))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_gives_first_frame(fmt: str) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (16, 16), colour) for colour in colours]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}
    if fmt == "WEBP":
        params["lossless"] = True
    data = _encode(frames[0], fmt, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    decoded = _pixels(decode_image(data))
    assert np.abs(decoded - np.array([255, 0, 0])).max() <= 2


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = _encode(_photo(size=(128, 96)), fmt)
    _assert_refused(data[: len(data) // 2], "truncated", "corrupt")


def test_corrupt_png_checksum_is_refused() -> None:
    data = bytearray(_encode(_photo(), "PNG"))
    data[200] ^= 0xFF  # inside the first IDAT chunk's compressed data
    _assert_refused(bytes(data), "corrupt", "truncated")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (np.random.default_rng(0).bytes(4096), "not a recognised image"),
        (b"<!DOCTYPE html><html><body>hello</body></html>", "HTML"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b'<svg width="10" height="10"><rect width="10" height="10"/></svg>', "SVG"),
        (b"just some words\n", "text"),
        (b"\x89PNG\r\n\x1a\n", "not a recognised image"),
    ],
)
def test_non_images_are_refused(data: bytes, needle: str) -> None:
    _assert_refused(data, needle)


_SEEDS = {fmt: _encode(_photo(size=(24, 16)), fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(sorted(_SEEDS)),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10_000) | st.none(),
)
def test_mangled_files_decode_or_raise_only_image_decode_error(
    fmt: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_SEEDS[fmt])
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        image = decode_image(bytes(data))
    except ImageDecodeError as error:
        assert error.reason
    else:
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


def test_formats_outside_the_allowed_list_are_refused() -> None:
    _assert_refused(_encode(_photo(), "PPM"), "not a recognised image")


def test_zero_size_image_is_refused() -> None:
    header = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")
    _assert_refused(png, "zero width or height")


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_decompression_bomb_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch, side: int) -> None:
    # 10k² sits between our limit and Pillow's hard limit (Pillow only warns); 20k² is above both.
    data = _png_bomb(side, side)
    assert len(data) < 100_000 and side * side > DEFAULT_MAX_PIXELS
    loads: list[object] = []
    original_load = ImageFile.ImageFile.load

    def spy_load(self: ImageFile.ImageFile) -> object:
        loads.append(self)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not escape either
        _assert_refused(data, "too large")
    assert loads == []  # refused before a single pixel was decoded


def test_max_pixels_is_configurable() -> None:
    data = _encode(_photo(size=(40, 30)), "PNG")
    assert decode_image(data, max_pixels=1200).size == (40, 30)
    reason = _assert_refused_with_limit(data, 1199)
    assert "40×30" in reason


def _assert_refused_with_limit(data: bytes, max_pixels: int) -> str:
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, max_pixels=max_pixels)
    return caught.value.reason


def test_load_image_file(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(_encode(_photo("chelsea"), "PNG"))
    assert load_image_file(path).size == (96, 64)
    for bad, needle in [(tmp_path / "missing.jpg", "not found"), (tmp_path, "directory")]:
        with pytest.raises(ImageDecodeError) as caught:
            load_image_file(bad)
        assert needle in caught.value.reason and str(tmp_path) not in caught.value.reason


# ---------------------------------------------------------------------------------------------- model input


def test_model_input_shape_dtype_and_determinism() -> None:
    photo = _photo(size=(120, 80))
    for prep in (PREP_SHORTEST, PREP_EXACT):
        first = to_model_input(photo, prep)
        assert first.shape == (3, 32, 32) and first.dtype == torch.uint8 and first.is_contiguous()
        assert torch.equal(first, to_model_input(photo, prep))


def test_model_input_converts_non_rgb() -> None:
    camera = skimage.data.camera()  # type: ignore[no-untyped-call]  # skimage.data is unannotated
    grey = Image.fromarray(camera).resize((50, 40))
    tensor = to_model_input(grey, PREP_EXACT)
    assert tensor.shape == (3, 32, 32)
    assert torch.equal(tensor[0], tensor[1]) and torch.equal(tensor[1], tensor[2])


def _red_fraction(tensor: torch.Tensor) -> float:
    row = tensor[:, tensor.shape[1] // 2, :]
    red = (row[0] > 128) & (row[2] < 128)
    return float(red.float().mean())


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest"])
def test_shortest_side_resize_then_centre_crop_vs_exact(
    interpolation: Literal["bilinear", "bicubic", "nearest"],
) -> None:
    # 400×100, red for x < 225, blue elsewhere.
    canvas = np.zeros((100, 400, 3), dtype=np.uint8)
    canvas[:, :225] = (255, 0, 0)
    canvas[:, 225:] = (0, 0, 255)
    image = Image.fromarray(canvas)
    shortest = Preprocessing(50, 50, "shortest", (0.5,) * 3, (0.5,) * 3, interpolation)
    exact = Preprocessing(50, 50, "exact", (0.5,) * 3, (0.5,) * 3, interpolation)
    # shortest: 400×100 → 200×50, crop columns 75..125, red up to 112.5 → 37.5 / 50 = 75 %.
    assert _red_fraction(to_model_input(image, shortest)) == pytest.approx(0.75, abs=0.03)
    # exact: squashed to 50×50, red up to 28.1 → 56 %.
    assert _red_fraction(to_model_input(image, exact)) == pytest.approx(225 / 400, abs=0.03)


def test_shortest_keeps_aspect_on_tall_images() -> None:
    canvas = np.zeros((200, 100, 3), dtype=np.uint8)  # tall: top quarter green
    canvas[:50] = (0, 255, 0)
    prep = Preprocessing(40, 50, "shortest", (0.5,) * 3, (0.5,) * 3)
    tensor = to_model_input(Image.fromarray(canvas), prep)
    # 100×200 → 50×100, crop rows 30..70: green rows (<25) are all cropped away.
    assert int(tensor[1].max()) < 50
    tensor_exact = to_model_input(Image.fromarray(canvas), PREP_EXACT)
    assert (tensor_exact[1, :, 16] > 128).float().mean() == pytest.approx(0.25, abs=0.05)


# ---------------------------------------------------------------------------------------------- sources


def _write_image(path: Path, colour: tuple[int, int, int] = (10, 200, 30), size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[path.suffix.lower()]
    path.write_bytes(_encode(Image.new("RGB", size, colour), fmt))
    return path


def test_tree_layout_uses_folder_names_as_labels(tmp_path: Path) -> None:
    root = tmp_path / "My Photos"
    _write_image(root / "dogs" / "b.jpg")
    _write_image(root / "cats" / "z.PNG")
    _write_image(root / "cats" / "a.webp")
    _write_image(root / "dogs" / "a.JPEG")
    _write_image(root / ".cache" / "hidden.jpg")
    _write_image(root / "cats" / ".hidden.jpg")
    (root / "cats" / "notes.txt").write_text("not an image")
    source = open_image_source(root)
    assert source.layout == "tree" and source.name == "my-photos" and source.root == str(root.resolve())
    assert [item.source for item in source.items] == [
        "cats/a.webp",
        "cats/z.PNG",
        "dogs/a.JPEG",
        "dogs/b.jpg",
    ]
    assert [item.label for item in source.items] == ["cats", "cats", "dogs", "dogs"]
    assert all(item.path == root.resolve() / item.source for item in source.items)


def test_mixed_depth_tree_has_no_labels(tmp_path: Path) -> None:
    _write_image(tmp_path / "top.jpg")
    _write_image(tmp_path / "a" / "b" / "deep.png")
    source = open_image_source(tmp_path)
    assert source.layout == "tree"
    assert [(item.source, item.label) for item in source.items] == [("a/b/deep.png", None), ("top.jpg", None)]


def test_flat_layout_with_synset_filenames(tmp_path: Path) -> None:
    for filename in [
        "n01484850_great_white_shark.JPEG",
        "n01440764_tench.JPEG",
        "n01443537_10026.jpeg",
        "holiday.png",
    ]:
        _write_image(tmp_path / filename)
    source = open_image_source(tmp_path, name="val")
    assert source.layout == "flat" and source.name == "val"
    assert [(item.source, item.label) for item in source.items] == [
        ("holiday.png", None),
        ("n01440764_tench.JPEG", "tench"),
        ("n01443537_10026.jpeg", "n01443537"),
        ("n01484850_great_white_shark.JPEG", "great white shark"),
    ]


def test_flat_layout_with_imagenet_solution_file(tmp_path: Path) -> None:
    _write_image(tmp_path / "ILSVRC2012_val_00000001.JPEG")
    _write_image(tmp_path / "ILSVRC2012_val_00000002.JPEG")
    _write_image(tmp_path / "ILSVRC2012_val_00000003.JPEG")
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000002,n01440764 1 2 3 4 n01440764 5 6 7 8\n"
        "ILSVRC2012_val_00000001,n01443537 1 2 3 4\n"
    )
    (tmp_path / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\n")
    labels = [item.label for item in open_image_source(tmp_path).items]
    assert labels == ["n01443537", "tench", None]  # unmapped synset kept, unlisted file unlabelled


def test_flat_layout_with_labels_txt(tmp_path: Path) -> None:
    _write_image(tmp_path / "a.jpg")
    _write_image(tmp_path / "b.jpg")
    (tmp_path / "labels.txt").write_text("a.jpg golden retriever\n# comment\nb sports car\n")
    labels = [item.label for item in open_image_source(tmp_path).items]
    assert labels == ["golden retriever", "sports car"]


def test_list_file(tmp_path: Path) -> None:
    elsewhere = _write_image(tmp_path / "elsewhere" / "abs.png")
    _write_image(tmp_path / "lists" / "imgs" / "one.jpg")
    _write_image(tmp_path / "lists" / "two.webp")
    list_file = tmp_path / "lists" / "My Set.txt"
    list_file.write_text(
        f"# a hand-picked set\n\nimgs/one.jpg\tgolden retriever\n{elsewhere}\n  two.webp  \t  cat \nmissing.jpg\n"
    )
    source = open_image_source(list_file)
    assert source.layout == "list" and source.name == "my-set"
    assert [(item.source, item.label) for item in source.items] == [
        ("imgs/one.jpg", "golden retriever"),
        (str(elsewhere), None),
        ("two.webp", "cat"),
        ("missing.jpg", None),
    ]
    assert source.items[0].path.resolve() == (tmp_path / "lists" / "imgs" / "one.jpg").resolve()
    assert source.items[1].path == elsewhere


def test_an_items_file_is_found_again_from_what_an_atlas_records(tmp_path: Path) -> None:
    """``item_path(root, layout, source)``: the file an atlas's dataset record and image record name."""
    tree = tmp_path / "tree"
    _write_image(tree / "cats" / "a.jpg")
    elsewhere = _write_image(tmp_path / "elsewhere" / "abs.png")
    _write_image(tmp_path / "lists" / "imgs" / "one.jpg")
    list_file = tmp_path / "lists" / "set.txt"
    list_file.write_text(f"imgs/one.jpg\n{elsewhere}\n")
    single = _write_image(tmp_path / "Photo 1.jpg")
    resolved = tmp_path.resolve()
    expected = {
        str(tree): [resolved / "tree" / "cats" / "a.jpg"],
        str(list_file): [resolved / "lists" / "imgs" / "one.jpg", elsewhere],
        str(single): [resolved / "Photo 1.jpg"],
    }
    for spec, paths in expected.items():
        source = open_image_source(spec)
        assert [item_path(source.root, source.layout, item.source) for item in source.items] == paths


def test_single_image_file_is_a_source(tmp_path: Path) -> None:
    path = _write_image(tmp_path / "Photo 1.jpg")
    source = open_image_source(path)
    assert source.layout == "list" and len(source) == 1 and source.name == "photo-1"


def test_limit_keeps_the_first_items(tmp_path: Path) -> None:
    for i in range(5):
        _write_image(tmp_path / f"img{i}.png")
    source = open_image_source(tmp_path, limit=3)
    assert [item.source for item in source.items] == ["img0.png", "img1.png", "img2.png"]
    with pytest.raises(ValueError, match="limit"):
        open_image_source(tmp_path, limit=0)


def test_empty_or_missing_sources_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "readme.txt").write_text("hi")
    _write_image(tmp_path / "hidden_only" / ".secret.jpg")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    for spec in ["empty", "no_images", "hidden_only", "empty.txt"]:
        with pytest.raises(ValueError, match="empty image source"):
            open_image_source(tmp_path / spec)
    with pytest.raises(ValueError, match="not found"):
        open_image_source(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------- batches


@pytest.fixture(scope="module")
def mixed_source(tmp_path_factory: pytest.TempPathFactory) -> ImageSource:
    """Ten photos ``img00..img09``; img04 is truncated and img07 is not an image at all."""
    root = tmp_path_factory.mktemp("mixed")
    photo = _photo("astronaut", size=(48, 40))
    for i in range(10):
        path = root / f"img{i:02d}.png"
        variant = photo.rotate(36 * i)
        if i == 4:
            path.write_bytes(_encode(variant, "PNG")[:300])
        elif i == 7:
            path.write_bytes(b"<html>nope</html>")
        else:
            path.write_bytes(_encode(variant, "PNG"))
    return open_image_source(root)


def _summary(batches: list[Batch]) -> list[tuple[list[int], list[int]]]:
    return [(batch.indices.tolist(), [skip[0] for skip in batch.skipped]) for batch in batches]


def test_batches_skip_failures_with_fixed_boundaries(mixed_source: ImageSource) -> None:
    batches = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=3))
    assert len(batches) == count_batches(10, 3) == 4
    assert _summary(batches) == [([0, 1, 2], []), ([3, 5], [4]), ([6, 8], [7]), ([9], [])]
    assert batches[1].skipped[0][:2] == (4, "img04.png") and "truncated" in batches[1].skipped[0][2]
    assert batches[2].skipped[0][:2] == (7, "img07.png")
    for batch in batches:
        assert batch.images.dtype == torch.uint8 and batch.indices.dtype == torch.int64
        assert batch.images.shape == (len(batch), 3, 32, 32)
        for index, image in zip(batch.indices.tolist(), batch.images, strict=True):
            expected = to_model_input(load_image_file(mixed_source.items[index].path), PREP_SHORTEST)
            assert torch.equal(image, expected)


def test_workers_give_the_same_batches(mixed_source: ImageSource) -> None:
    in_process = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=4, workers=0))
    parallel = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=4, workers=2))
    assert _summary(in_process) == _summary(parallel) == [([0, 1, 2, 3], []), ([5, 6], [4, 7]), ([8, 9], [])]
    for a, b in zip(in_process, parallel, strict=True):
        assert torch.equal(a.images, b.images) and a.skipped == b.skipped


def test_batch_boundaries_do_not_depend_on_failures(mixed_source: ImageSource, tmp_path: Path) -> None:
    for i, item in enumerate(mixed_source.items):  # same names, every file healthy
        _write_image(tmp_path / item.source, colour=(i, 0, 0))
    healthy = open_image_source(tmp_path)

    def chunks(source: ImageSource) -> list[list[int]]:
        batches = iter_batches(source, PREP_EXACT, batch_size=3)
        return [sorted(done + skipped) for done, skipped in _summary(list(batches))]

    assert chunks(mixed_source) == chunks(healthy) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_indices_selection_and_start(mixed_source: ImageSource) -> None:
    selected = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=2, indices=[9, 0, 4, 5, 7]))
    assert _summary(selected) == [([9, 0], []), ([5], [4]), ([], [7])]
    assert selected[2].images.shape == (0, 3, 32, 32)
    resumed = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=2, indices=[9, 0, 4, 5, 7], start=2))
    assert _summary(resumed) == _summary(selected)[1:]
    tail = list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=3, start=6))
    assert _summary(tail) == [([6, 8], [7]), ([9], [])]
    assert list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=3, start=10)) == []
    with pytest.raises(ValueError, match="out of range"):
        list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=3, indices=[10]))
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_batches(mixed_source, PREP_SHORTEST, batch_size=0))


def test_count_batches() -> None:
    assert [count_batches(n, 4) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]


def test_exact_mode_squashes_to_resize_then_centre_crops_like_hf_deit() -> None:
    rng = np.random.default_rng(4)
    image = Image.fromarray(rng.integers(0, 256, size=(90, 200, 3), dtype=np.uint8))
    prep = Preprocessing(crop=48, resize=56, resize_mode="exact", mean=(0.5,) * 3, std=(0.5,) * 3)
    expected = np.asarray(image.resize((56, 56), Image.Resampling.BICUBIC).crop((4, 4, 52, 52)))
    np.testing.assert_array_equal(to_model_input(image, prep).permute(1, 2, 0).numpy(), expected)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported"),
        (b"hello, plain text", "unsupported"),
        (None, "corrupt"),  # a truncated JPEG
    ],
)
def test_decode_errors_say_what_kind_of_problem(data: bytes | None, kind: str) -> None:
    if data is None:
        buffer = io.BytesIO()
        astronaut = skimage.data.astronaut()  # type: ignore[no-untyped-call]  # skimage.data is unannotated
        Image.fromarray(astronaut).save(buffer, format="JPEG")
        data = buffer.getvalue()[:3000]
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data)
    assert caught.value.kind == kind


def test_extreme_aspect_ratios_are_refused_from_the_header() -> None:
    buffer = io.BytesIO()
    Image.new("L", (20_000, 10)).save(buffer, format="PNG")
    with pytest.raises(ImageDecodeError, match="too narrow"):
        decode_image(buffer.getvalue())
