"""Decoding on the compute device with a per-file Pillow fallback (qkatlas.images.device_decoding).

On the CPU, ``decode_jpeg`` uses libjpeg (the same library as Pillow, so decoded pixels are equal);
what differs from the Pillow path is the resize, done by torchvision's tensor kernels. nvJPEG itself
is exercised only where CUDA is present (the last test).
"""

from __future__ import annotations

import gc
import io
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import skimage.data
import torch
from PIL import Image
from torchvision.io import decode_jpeg

from qkatlas.images import (
    Batch,
    DecodeCounts,
    ImageSource,
    SharedBatch,
    decode_image,
    device_decoding,
    iter_device_batches,
    iter_shared_batches,
    load_image_file,
    nvjpeg_available,
    open_image_source,
    pillow_reason,
    resolve_decode,
    to_model_input,
)
from qkatlas.images.jpeg_header import JpegHeaderError, read_jpeg_header
from qkatlas.images.preprocessing import Preprocessing

CPU = torch.device("cpu")
PREPS = (
    Preprocessing(crop=32, resize=36, resize_mode="shortest", mean=(0.5,) * 3, std=(0.5,) * 3),
    Preprocessing(crop=32, resize=32, resize_mode="exact", mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="bilinear"),
    Preprocessing(crop=48, resize=56, resize_mode="exact", mean=(0.5,) * 3, std=(0.5,) * 3),
)
#: Measured on the fixture below over the three preprocessings (libjpeg on the CPU, so the decoded
#: pixels are Pillow's; torchvision's tensor resize against Pillow's): mean absolute difference
#: 0.086 grey levels over the device-decoded images' values, at most 3, 0.03 % of values beyond 1.
MEAN_ABS_BOUND = 0.1
MAX_ABS_BOUND = 3


def _photo(name: str, size: tuple[int, int]) -> Image.Image:
    """A natural RGB photo from scikit-image (CC0) at ``size`` (w, h)."""
    image = Image.fromarray(getattr(skimage.data, name)())
    return image.convert("RGB").resize(size, Image.Resampling.BILINEAR)


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _oriented(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image, "JPEG", quality=95, exif=exif.tobytes())


def _with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming ``width × height``: a decompression bomb's header."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[sof + 9 :]


#: name → (bytes maker, what the stream must do with it: "device", a Pillow fallback reason, or "skip").
_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "a_astronaut.jpg": (lambda: _encode(_photo("astronaut", (120, 80)), "JPEG", quality=90), "device"),
    "b_chelsea.jpg": (lambda: _encode(_photo("chelsea", (40, 60)), "JPEG", quality=80), "device"),
    "c_coffee.png": (lambda: _encode(_photo("coffee", (64, 48)), "PNG"), "not a JPEG"),
    "d_truncated.jpg": (lambda: _encode(_photo("rocket", (128, 96)), "JPEG")[:1500], "no end marker (truncated?)"),
    "e_rotated.jpg": (lambda: _oriented(_photo("chelsea", (90, 60)), 6), "EXIF orientation"),
    "f_cmyk.jpg": (lambda: _encode(_photo("coffee", (70, 50)).convert("CMYK"), "JPEG", quality=95), "CMYK/YCCK"),
    "g_grey.jpg": (lambda: _encode(_photo("camera", (64, 64)).convert("L"), "JPEG"), "device"),
    "h_html.jpg": (lambda: b"<!DOCTYPE html><html><body>nope</body></html>", "not a JPEG"),
    "i_progressive.jpg": (lambda: _encode(_photo("astronaut", (50, 80)), "JPEG", progressive=True), "device"),
    "j_lossless.webp": (lambda: _encode(_photo("rocket", (60, 40)), "WEBP", lossless=True), "not a JPEG"),
    "k_bomb.jpg": (lambda: _with_frame_size(_encode(_photo("coffee", (32, 32)), "JPEG"), 20_000, 20_000), "size"),
    "l_cut_tail.jpg": (lambda: _encode(_photo("rocket", (96, 64)), "JPEG")[:-400], "no end marker (truncated?)"),
    "m_rgb_coded.jpg": (lambda: _encode(_photo("coffee", (48, 40)), "JPEG", keep_rgb=True), "RGB-coded"),
}
_EXPECTED_PILLOW = Counter(
    why.replace("size", "refused by the size guard") for _, why in _FILES.values() if why != "device"
)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> ImageSource:
    """The files of ``_FILES``, sorted by name (the dataset index is the position)."""
    root = tmp_path_factory.mktemp("device")
    for name, (make, _) in _FILES.items():
        (root / name).write_bytes(make())
    # open_image_source collects .jpg/.png/.webp only; the list keeps the order of _FILES.
    listing = root / "images.txt"
    listing.write_text("".join(f"{name}\n" for name in _FILES))
    return open_image_source(listing)


def _device_decoded(source: ImageSource) -> set[int]:
    return {i for i, (_, route) in enumerate(_FILES.values()) if route == "device"}


def _summary(batches: list[SharedBatch]) -> list[list[tuple[list[int], list[tuple[int, str, str]]]]]:
    return [[(view.indices.tolist(), view.skipped) for view in shared.views] for shared in batches]


def _pixel_differences(pillow: Batch, device: Batch, device_decoded: set[int]) -> tuple[list[torch.Tensor], bool]:
    """The absolute differences of the device-decoded images, and whether every fallback is exact."""
    diffs, fallbacks_equal = [], True
    for index, ours, theirs in zip(pillow.indices.tolist(), device.images, pillow.images, strict=True):
        diff = (ours.to(torch.int16) - theirs.to(torch.int16)).abs()
        if index in device_decoded:
            diffs.append(diff)
        else:
            fallbacks_equal &= bool(diff.max() == 0)
    return diffs, fallbacks_equal


# ---------------------------------------------------------------------------------------------- the stream


@pytest.mark.parametrize("prefetch", [0, 2])  # in line (the default), decoded ahead by a thread
@pytest.mark.parametrize("batch_size", [1, 4, 5, 13])
def test_same_batches_as_the_pillow_stream(source: ImageSource, batch_size: int, prefetch: int) -> None:
    counts = DecodeCounts()
    ours = list(
        iter_device_batches(
            source, PREPS, batch_size=batch_size, device=CPU, read_workers=3, prefetch=prefetch, counts=counts
        )
    )
    theirs = list(iter_shared_batches(source, PREPS, batch_size=batch_size))
    assert _summary(ours) == _summary(theirs)
    assert counts.device == len(_device_decoded(source)) and counts.pillow == _EXPECTED_PILLOW
    assert counts.batch_retries == 0
    diffs: list[torch.Tensor] = []
    for shared_ours, shared_theirs in zip(ours, theirs, strict=True):
        for prep, view, reference in zip(PREPS, shared_ours.views, shared_theirs.views, strict=True):
            assert view.images.dtype == torch.uint8 and view.indices.dtype == torch.int64
            assert view.images.shape == (len(view), 3, prep.crop, prep.crop) == reference.images.shape
            view_diffs, fallbacks_equal = _pixel_differences(reference, view, _device_decoded(source))
            assert fallbacks_equal  # Pillow's own path: the very same pixels
            diffs += view_diffs
    values = torch.cat([diff.flatten() for diff in diffs]).float()
    assert values.mean() <= MEAN_ABS_BOUND and values.max() <= MAX_ABS_BOUND, (values.mean(), values.max())


def test_skips_carry_pillows_reasons(source: ImageSource) -> None:
    (shared,) = iter_device_batches(source, PREPS[:1], batch_size=len(_FILES), device=CPU)
    reasons = {index: reason for index, _, reason in shared.views[0].skipped}
    names = list(_FILES)
    assert set(reasons) == {names.index(n) for n in ("d_truncated.jpg", "h_html.jpg", "k_bomb.jpg", "l_cut_tail.jpg")}
    assert "truncated" in reasons[names.index("d_truncated.jpg")]
    assert "HTML" in reasons[names.index("h_html.jpg")]
    assert "too large" in reasons[names.index("k_bomb.jpg")]
    assert "truncated" in reasons[names.index("l_cut_tail.jpg")]


def test_exif_rotated_jpeg_is_the_rotated_image(source: ImageSource) -> None:
    index = list(_FILES).index("e_rotated.jpg")
    prep = PREPS[1]  # exact: the crop shows the whole frame, so a rotation cannot hide
    (shared,) = iter_device_batches(source, [prep], batch_size=1, device=CPU, indices=[index])
    path = source.items[index].path
    rotated = to_model_input(load_image_file(path), prep)
    with Image.open(path) as stored:
        as_stored = to_model_input(stored.convert("RGB"), prep)
    assert torch.equal(shared.views[0].images[0], rotated)
    assert (shared.views[0].images[0].int() - as_stored.int()).abs().float().mean() > 20


def test_cmyk_and_png_fall_back_to_pillows_pixels(source: ImageSource) -> None:
    names = list(_FILES)
    wanted = [names.index("f_cmyk.jpg"), names.index("c_coffee.png"), names.index("m_rgb_coded.jpg")]
    (shared,) = iter_device_batches(source, PREPS, batch_size=3, device=CPU, indices=wanted)
    for prep, view in zip(PREPS, shared.views, strict=True):
        assert view.indices.tolist() == wanted
        for index, image in zip(wanted, view.images, strict=True):
            assert torch.equal(image, to_model_input(load_image_file(source.items[index].path), prep))


def test_indices_start_and_empty_batches(source: ImageSource) -> None:
    names = list(_FILES)
    failing = [names.index("h_html.jpg"), names.index("d_truncated.jpg")]
    picked = [12, 0, 4, *failing, 8]
    for start in (0, 1, 3):
        ours = list(iter_device_batches(source, PREPS, batch_size=2, device=CPU, indices=picked, start=start))
        theirs = list(iter_shared_batches(source, PREPS, batch_size=2, indices=picked, start=start))
        assert _summary(ours) == _summary(theirs)
    ours = list(iter_device_batches(source, PREPS, batch_size=2, device=CPU, indices=failing))
    assert len(ours) == 1 and all(len(view) == 0 for view in ours[0].views)
    assert [view.images.shape for view in ours[0].views] == [(0, 3, p.crop, p.crop) for p in PREPS]
    assert list(iter_device_batches(source, PREPS, batch_size=2, device=CPU, start=len(_FILES))) == []


def test_arguments_are_checked(source: ImageSource) -> None:
    for kwargs, match in [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2, "start": -1}, "start"),
        ({"batch_size": 2, "indices": [len(_FILES)]}, "out of range"),
        ({"batch_size": 2, "read_workers": 0}, "read_workers"),
        ({"batch_size": 2, "prefetch": -1}, "prefetch"),
    ]:
        with pytest.raises(ValueError, match=match):
            list(iter_device_batches(source, PREPS, device=CPU, **kwargs))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="preprocessing"):
        list(iter_device_batches(source, [], batch_size=2, device=CPU))


@pytest.fixture(scope="module")
def mangled_source(tmp_path_factory: pytest.TempPathFactory) -> ImageSource:
    """80 JPEGs with random bytes overwritten and some cut short (seeded): corrupt files of all kinds."""
    root = tmp_path_factory.mktemp("mangled")
    seed = _encode(_photo("astronaut", (48, 32)), "JPEG")
    rng = random.Random(0)
    for i in range(80):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 3 == 0:
            data = data[: rng.randrange(len(data) + 1)]
        (root / f"m{i:02d}.jpg").write_bytes(bytes(data))
    return open_image_source(root)


def test_corrupt_files_are_skipped_exactly_where_pillow_skips_them(mangled_source: ImageSource) -> None:
    counts = DecodeCounts()
    ours = list(iter_device_batches(mangled_source, PREPS[:1], batch_size=16, device=CPU, counts=counts))
    theirs = list(iter_shared_batches(mangled_source, PREPS[:1], batch_size=16))
    assert _summary(ours) == _summary(theirs)
    assert counts.device > 20 and sum(counts.pillow.values()) > 20  # both paths were taken
    # libjpeg decodes what it accepts like Pillow does; only the resize differs.
    for a, b in zip(ours, theirs, strict=True):
        assert (a.views[0].images.int() - b.views[0].images.int()).abs().max() <= MAX_ABS_BOUND


# ---------------------------------------------------------------------------------------------- fallbacks


def test_a_failed_batch_call_is_retried_one_file_at_a_time(
    source: ImageSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = source.items[list(_FILES).index("i_progressive.jpg")].path.read_bytes()

    def picky(data: torch.Tensor | list[torch.Tensor], **kwargs: object) -> object:
        if isinstance(data, list):
            raise RuntimeError("one of the batch is not supported")
        if data.numpy().tobytes() == refused:
            raise RuntimeError("not supported")
        return decode_jpeg(data, **kwargs)

    monkeypatch.setattr(device_decoding, "decode_jpeg", picky)
    counts = DecodeCounts()
    ours = list(iter_device_batches(source, PREPS, batch_size=5, device=CPU, counts=counts))
    theirs = list(iter_shared_batches(source, PREPS, batch_size=5))
    assert _summary(ours) == _summary(theirs)
    assert counts.batch_retries == 2 and counts.pillow["refused by the device decoder"] == 1
    index = list(_FILES).index("i_progressive.jpg")
    position = next(i for i, view in enumerate(ours) if index in view.views[0].indices.tolist())
    row = ours[position].views[0].indices.tolist().index(index)
    expected = to_model_input(load_image_file(source.items[index].path), PREPS[0])
    assert torch.equal(ours[position].views[0].images[row], expected)  # Pillow's pixels


def test_a_bomb_header_never_reaches_the_device_decoder(source: ImageSource, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def spy(data: torch.Tensor | list[torch.Tensor], **kwargs: object) -> object:
        seen.extend(int(d.numel()) for d in (data if isinstance(data, list) else [data]))
        return decode_jpeg(data, **kwargs)

    monkeypatch.setattr(device_decoding, "decode_jpeg", spy)
    index = list(_FILES).index("k_bomb.jpg")
    bomb = source.items[index].path.read_bytes()
    assert read_jpeg_header(bomb).width == 20_000
    (shared,) = iter_device_batches(source, PREPS[:1], batch_size=3, device=CPU, indices=[0, index, 1])
    assert shared.views[0].indices.tolist() == [0, 1] and "too large" in shared.views[0].skipped[0][2]
    assert len(seen) == 2 and len(bomb) not in seen


# ---------------------------------------------------------------------------------------------- the thread


def _stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("qkatlas-device-decode", "qkatlas-read"))]


@pytest.mark.parametrize("prefetch", [0, 1])
def test_closing_early_stops_the_threads(source: ImageSource, prefetch: int) -> None:
    stream = iter_device_batches(source, PREPS, batch_size=1, device=CPU, prefetch=prefetch)
    next(stream)
    assert _stream_threads()  # readers, and with prefetch the decoding thread blocked on the full queue
    stream.close()
    assert not _stream_threads()
    dropped = iter_device_batches(source, PREPS, batch_size=1, device=CPU, prefetch=prefetch)
    next(dropped)
    del dropped
    gc.collect()
    assert not _stream_threads()


def test_an_error_in_a_reader_reaches_the_consumer(source: ImageSource, monkeypatch: pytest.MonkeyPatch) -> None:
    real = device_decoding._ChunkDecoder.read

    def failing(self: device_decoding._ChunkDecoder, index: int) -> object:
        if index == 6:
            raise RuntimeError("disk on fire")
        return real(self, index)

    monkeypatch.setattr(device_decoding._ChunkDecoder, "read", failing)
    seen: list[SharedBatch] = []
    with pytest.raises(RuntimeError, match="disk on fire"):
        seen.extend(iter_device_batches(source, PREPS, batch_size=2, device=CPU))
    assert len(seen) == 3  # the batches before the failing chunk were delivered
    assert not _stream_threads()


# ---------------------------------------------------------------------------------------------- choosing


def test_choosing_the_decoder_on_the_cpu() -> None:
    assert not nvjpeg_available(CPU)
    assert resolve_decode("auto", CPU) == "pillow" and resolve_decode("pillow", CPU) == "pillow"
    with pytest.raises(RuntimeError, match="nvJPEG"):
        resolve_decode("nvjpeg", CPU)
    with pytest.raises(ValueError, match="unknown decoder"):
        resolve_decode("turbo", CPU)


@pytest.mark.parametrize(("name", "route"), [(name, route) for name, (_, route) in _FILES.items()])
def test_pillow_reason_of_each_file(source: ImageSource, name: str, route: str) -> None:
    data = source.items[list(_FILES).index(name)].path.read_bytes()
    expected = {"device": None, "size": "refused by the size guard"}.get(route, route)
    assert pillow_reason(data) == expected


# ---------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_header_orientation_agrees_with_pillow(orientation: int) -> None:
    data = _oriented(_photo("chelsea", (30, 20)), orientation)
    header = read_jpeg_header(data)
    with Image.open(io.BytesIO(data)) as image:
        assert header.orientation == image.getexif().get(0x0112, 1) == orientation
    assert (header.width, header.height, header.process, header.component_ids) == (30, 20, "baseline", (1, 2, 3))


@pytest.mark.parametrize("orientation", [0, 1, 9])
def test_orientations_pillow_ignores_stay_on_the_device(orientation: int) -> None:
    data = _oriented(_photo("chelsea", (30, 20)), orientation)
    assert read_jpeg_header(data).orientation == orientation and pillow_reason(data) is None
    assert decode_image(data).size == (30, 20)  # Pillow does not transpose them either


def test_xmp_orientation_counts_as_pillow_reads_it() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    data = _encode(_photo("chelsea", (30, 20)), "JPEG", xmp=xmp)
    with Image.open(io.BytesIO(data)) as image:
        assert image.getexif().get(0x0112) == 8
    assert read_jpeg_header(data).orientation == 8 and pillow_reason(data) == "EXIF orientation"


def test_header_reads_fill_bytes_and_refuses_broken_headers() -> None:
    data = _encode(_photo("chelsea", (30, 20)), "JPEG")
    assert read_jpeg_header(data[:2] + b"\xff\xff" + data[2:]).width == 30  # fill bytes before a marker
    broken_exif = _oriented(_photo("chelsea", (30, 20)), 6).replace(
        b"MM\x00*\x00\x00\x00\x08", b"MM\x00*\x00\x00\xff\xf0"
    )
    for bad in (b"", b"\xff\xd8", data[:30], data[:2] + b"\x00" + data[3:], broken_exif, b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(JpegHeaderError):
            read_jpeg_header(bad)
    assert pillow_reason(broken_exif) == "unreadable JPEG header"
    assert pillow_reason(data.replace(b"\xff\xc0", b"\xff\xc3", 1)) == "lossless JPEG"


def test_imagenet_headers_agree_with_pillow() -> None:
    """Where the optional ImageNet samples are present: every header read agrees with Pillow's."""
    from qkatlas.sample_photos import optional_sample_dir

    folder = optional_sample_dir("imagenet-samples")
    if not folder.is_dir():
        pytest.skip("no ImageNet samples on this machine")
    for path in sorted(folder.glob("*.JPEG"))[:200]:
        header = read_jpeg_header(path.read_bytes())
        with Image.open(path) as image:
            assert (header.width, header.height) == image.size
            assert header.orientation == image.getexif().get(0x0112, 1)
            assert len(header.component_ids) == len(image.getbands())


# ---------------------------------------------------------------------------------------------- CUDA


def _batches_by_index(batches: Iterator[SharedBatch]) -> dict[int, torch.Tensor]:
    return {
        i: image.cpu() for b in batches for i, image in zip(b.views[0].indices.tolist(), b.views[0].images, strict=True)
    }


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_nvjpeg_stream_matches_the_pillow_stream(source: ImageSource) -> None:
    cuda = torch.device("cuda")
    assert nvjpeg_available(cuda) and resolve_decode("auto", cuda) == "nvjpeg"
    ours = list(iter_device_batches(source, PREPS, batch_size=4, device=cuda, prefetch=1))
    theirs = list(iter_shared_batches(source, PREPS, batch_size=4))
    assert _summary(ours) == _summary(theirs)
    assert all(view.images.device.type == "cuda" for shared in ours for view in shared.views)
    got, expected = _batches_by_index(iter(ours)), _batches_by_index(iter(theirs))
    diffs = [(got[i].int() - expected[i].int()).abs().float() for i in expected]
    assert torch.cat([d.flatten() for d in diffs]).mean() < 2  # nvJPEG's IDCT differs from libjpeg's
