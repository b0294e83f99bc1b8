"""Decoding an image source on the compute device (nvJPEG on CUDA), in the batches of ``iter_shared_batches``.

``iter_device_batches`` yields exactly the batches ``iter_shared_batches`` yields (same chunks, same
skipped items and reasons), with the model inputs already on the device:

- a small thread pool reads the files' bytes and reads each JPEG's header (``jpeg_header``);
- the JPEGs that nvJPEG decodes like Pillow go to ``torchvision.io.decode_jpeg`` as one batched call
  on the device (nvJPEG on CUDA; libjpeg on the CPU, which is what the tests exercise), then every
  preprocessing's resize and centre crop runs as tensor operations there (``tensor_to_model_input``);
- every other file takes the Pillow path of ``iter_shared_batches`` (``load_image_file`` +
  ``to_model_input``), in the reader threads, and is copied to the device: non-JPEGs, JPEGs with an
  EXIF or XMP orientation that Pillow applies (2 to 8; nvJPEG ignores it), CMYK/YCCK or RGB-coded JPEGs, 12-bit,
  lossless, arithmetic or hierarchical JPEGs, files that do not end with EOI (truncated: nvJPEG may
  decode them silently), headers beyond the decode guard (``check_image_size``: a decompression bomb
  is never decoded on the GPU) and anything the device decoder refuses (a failed batch is retried one
  file at a time). So corrupt files are skipped with Pillow's reason: Pillow decides.

By default a batch decodes in line, in the consumer's thread, while the reader threads already read
the next batch's files. With ``prefetch ≥ 1`` a background thread decodes up to that many batches
ahead, on its own CUDA stream; each batch carries an event the consumer's stream waits on when it is
yielded. In line is the default because it was the faster of the two on an H200 (2,645 against 1,861
img/s end to end, ViT-B/16, one run: docs/benchmarks.md): the thread contends with the one that
launches the model's kernels for the host.

Choosing the decoder (``resolve_decode``; the job's ``--decode auto|pillow|nvjpeg``): ``auto`` takes
this path when the device is CUDA and nvJPEG works there (``nvjpeg_available``), else Pillow worker
processes (``iter_shared_batches``). On an H200 nvJPEG decoded 2.8 × faster than 16 Pillow workers
in the last run (3,612 against 1,276 img/s; 2.8-4.4 × over four runs, docs/benchmarks.md), where
decoding bounds the job; on a CPU the model bounds it (≈ 10 img/s for ViT-S/16 against a Pillow
decode ceiling of ≈ 115 img/s per worker), so ``auto`` keeps the proven Pillow workers there.
"""

from __future__ import annotations

import contextlib
import functools
import io
import queue
import threading
import warnings
from collections import Counter, deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from qkatlas.images.batches import Batch, SharedBatch, pillow_model_inputs, select_items
from qkatlas.images.decoding import (
    DEFAULT_MAX_PIXELS,
    ImageDecodeError,
    check_image_size,
    decode_image,
    load_image_file,
)
from qkatlas.images.jpeg_header import JpegHeaderError, NotAJpegError, ends_with_eoi, read_jpeg_header
from qkatlas.images.model_input import tensor_to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.images.sources import ImageSource

# torchvision 0.29 deprecated its image decoders in favour of TorchCodec, which qkatlas does not
# depend on; decode_jpeg remains the one nvJPEG binding at hand. Its warning (once per call) says
# nothing a user can act on, so it is silenced by its exact message.
warnings.filterwarnings(
    "ignore",
    message="The image decoding and encoding capabilities of TorchVision are deprecated",
    category=DeprecationWarning,
)

DecodeName = Literal["auto", "pillow", "nvjpeg"]

#: Component ids that mark an RGB-coded (not YCbCr) 3-component JPEG: "R", "G", "B".
_RGB_COMPONENT_IDS = (0x52, 0x47, 0x42)


def nvjpeg_available(device: torch.device) -> bool:
    """Whether ``decode_jpeg`` decodes on ``device`` with nvJPEG (a CUDA device, torchvision built
    with nvJPEG): tried once per device on a tiny JPEG."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return _decodes_on(str(device))


@functools.cache
def _decodes_on(device: str) -> bool:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 60)).save(buffer, "JPEG")
    try:
        decoded = decode_jpeg([_as_tensor(buffer.getvalue())], mode=ImageReadMode.RGB, device=device)
        return bool(decoded[0].shape == (3, 16, 16))
    except Exception:
        return False


def resolve_decode(name: str, device: torch.device) -> Literal["pillow", "nvjpeg"]:
    """The decoder the job uses: ``auto`` → ``nvjpeg`` where ``nvjpeg_available(device)`` (CUDA;
    faster there, docs/benchmarks.md), else ``pillow``; ``nvjpeg`` without it is a ``RuntimeError``
    (``iter_device_batches`` itself runs on any device: libjpeg on the CPU, for tests)."""
    if name == "pillow":
        return "pillow"
    if name not in ("auto", "nvjpeg"):
        raise ValueError(f"unknown decoder {name!r} (expected auto, pillow or nvjpeg)")
    if nvjpeg_available(device):
        return "nvjpeg"
    if name == "nvjpeg":
        raise RuntimeError(f"decode 'nvjpeg' was requested but nvJPEG does not decode on device {device}")
    return "pillow"


@dataclass
class DecodeCounts:
    """What a stream's files went through: ``device`` decoded on the device, ``pillow[why]`` sent to
    Pillow (and why; it may still have failed there), ``batch_retries`` batched calls that failed and
    were retried one file at a time. Updated by the stream's thread; read it when the stream ends."""

    device: int = 0
    pillow: Counter[str] = field(default_factory=Counter)
    batch_retries: int = 0


def pillow_reason(data: bytes | bytearray | memoryview, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str | None:
    """Why these file bytes must take the Pillow path (see the module docstring), or ``None`` when the
    device decoder decodes them as Pillow would (up to rounding)."""
    try:
        header = read_jpeg_header(data)
    except NotAJpegError:
        return "not a JPEG"
    except JpegHeaderError:
        return "unreadable JPEG header"
    try:
        check_image_size(header.width, header.height, max_pixels=max_pixels)
    except ImageDecodeError:
        return "refused by the size guard"
    checks = (
        (2 <= header.orientation <= 8, "EXIF orientation"),  # Pillow transposes these; others mean nothing
        (header.exif_segments > 1, "several EXIF segments"),
        (len(header.component_ids) not in (1, 3), "CMYK/YCCK"),
        (len(header.component_ids) == 3 and _rgb_coded(header.component_ids, header.adobe_transform), "RGB-coded"),
        (header.precision != 8, f"{header.precision}-bit samples"),
        (header.process not in ("baseline", "extended", "progressive"), f"{header.process} JPEG"),
        (not ends_with_eoi(data), "no end marker (truncated?)"),
    )
    return next((why for failed, why in checks if failed), None)


def _rgb_coded(component_ids: tuple[int, ...], adobe_transform: int | None) -> bool:
    """libjpeg's rule for 3 components stored as RGB rather than YCbCr (Adobe transform 0, or ids R G B)."""
    return adobe_transform == 0 or component_ids == _RGB_COMPONENT_IDS


def iter_device_batches(
    source: ImageSource,
    preps: Sequence[Preprocessing],
    *,
    batch_size: int,
    device: torch.device,
    indices: Sequence[int] | None = None,
    start: int = 0,
    read_workers: int = 4,
    prefetch: int = 0,
    counts: DecodeCounts | None = None,
) -> Generator[SharedBatch, None, None]:
    """``iter_shared_batches`` decoded on ``device``: the same chunks of ``batch_size`` selected items
    (``indices``, ``start``: as there), the same skipped items and reasons, one ``Batch`` view per
    preprocessing; ``indices [b]`` int64 on the CPU, ``images [b, 3, crop, crop]`` uint8 on ``device``.

    Files are read by ``read_workers`` threads, one batch ahead. With ``prefetch = 0`` (the default) each
    batch decodes in the consumer's thread; with ``prefetch ≥ 1`` a background thread decodes up to that
    many batches ahead (on its own CUDA stream: a yielded batch is ready on the consumer's current
    stream), whatever it raises is raised here, and closing the iterator (or dropping it) stops it.
    ``counts``, when given, collects which decoder each file went to.
    """
    selection = select_items(source, preps, batch_size=batch_size, indices=indices, start=start)
    if read_workers < 1:
        raise ValueError(f"read_workers must be >= 1, got {read_workers}")
    if prefetch < 0:
        raise ValueError(f"prefetch must be >= 0, got {prefetch}")
    if not selection:
        return
    chunks = [selection[i : i + batch_size] for i in range(0, len(selection), batch_size)]
    decoder = _ChunkDecoder(source, tuple(preps), device, counts if counts is not None else DecodeCounts())
    if prefetch == 0:
        yield from _decoded(chunks, decoder, read_workers)
        return
    producer = _Producer(chunks, decoder, read_workers, prefetch)
    try:
        while (ready := producer.next()) is not None:
            yield ready
    finally:
        producer.stop()


# ------------------------------------------------------------------------------------------------
# one chunk: read (threads), decode (device or Pillow), resize and crop


@dataclass
class _Item:
    """One selected file on its way: ``data`` (uint8 ``[n]`` bytes, CPU) while it waits for the device
    decoder; ``images``/``reasons`` (one per preprocessing) once decoded, by either path."""

    index: int
    data: torch.Tensor | None = None
    images: list[torch.Tensor | None] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    pillow: str | None = None  # why it took the Pillow path


class _ChunkDecoder:
    """Reads, decodes and crops one chunk of dataset indices into a ``SharedBatch`` on the device."""

    def __init__(
        self, source: ImageSource, preps: tuple[Preprocessing, ...], device: torch.device, counts: DecodeCounts
    ) -> None:
        self.paths = [item.path for item in source.items]
        self.sources = [item.source for item in source.items]
        self.preps = preps
        self.device = device
        self.counts = counts

    def read(self, index: int) -> _Item:
        """In a reader thread: the file's bytes if the device decodes it, else its Pillow model inputs."""
        path = self.paths[index]
        try:
            data = path.read_bytes()
        except OSError:  # missing, a directory, unreadable: Pillow's loader words the reason
            return self._pillow(index, "unreadable file", lambda: load_image_file(path))
        why = pillow_reason(data)
        if why is not None:
            return self._pillow(index, why, lambda: decode_image(data))
        return _Item(index, data=_as_tensor(data))

    def _pillow(self, index: int, why: str, load: Callable[[], Image.Image]) -> _Item:
        images, reasons = pillow_model_inputs(load, self.preps)
        return _Item(index, images=images, reasons=reasons, pillow=why)

    def decode(self, items: list[_Item]) -> SharedBatch:
        """In the producer thread: decode the waiting items on the device, crop them, build the views."""
        decoded = iter(self._decode_jpegs([item.data for item in items if item.data is not None]))
        done = [item if item.data is None else self._finish(item, next(decoded)) for item in items]
        for item in done:
            if item.pillow is None:
                self.counts.device += 1
            else:
                self.counts.pillow[item.pillow] += 1
        return SharedBatch(tuple(self._view(done, p) for p in range(len(self.preps))))

    def _finish(self, item: _Item, image: torch.Tensor | None) -> _Item:
        """A device-decoded item's crops; its Pillow inputs where the device decoder refused it."""
        crops = self._crops(image) if image is not None else None
        if crops is not None:
            return _Item(item.index, images=[*crops], reasons=[None] * len(self.preps))
        assert item.data is not None
        load = functools.partial(_decode_tensor, item.data)
        return self._pillow(item.index, "refused by the device decoder", load)

    def _decode_jpegs(self, datas: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """Batched ``decode_jpeg`` to RGB ``[3, H, W]`` on the device; if the batch call fails, one file
        at a time (a file the decoder refuses is ``None``)."""
        if not datas:
            return []
        try:
            return list(decode_jpeg(datas, mode=ImageReadMode.RGB, device=self.device))
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception:  # one file the decoder rejects fails the whole call
            self.counts.batch_retries += 1
        images: list[torch.Tensor | None] = []
        for data in datas:
            try:
                images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device))
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception:
                images.append(None)
        return images

    def _crops(self, image: torch.Tensor) -> list[torch.Tensor] | None:
        """Every preprocessing's uint8 ``[3, crop, crop]`` of a decoded ``[3, H, W]``; ``None`` if one
        fails (the file then takes the Pillow path, which words a reason)."""
        try:
            return [tensor_to_model_input(image, prep) for prep in self.preps]
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception:
            return None

    def _view(self, items: list[_Item], p: int) -> Batch:
        """Preprocessing ``p``'s ``Batch`` of a decoded chunk, images on the device."""
        crop = self.preps[p].crop
        kept = [(item.index, image) for item in items if (image := item.images[p]) is not None]
        skipped = [
            (item.index, self.sources[item.index], item.reasons[p] or "") for item in items if item.images[p] is None
        ]
        if kept:
            # Pillow's inputs come from the CPU (a copy each; they are the rare case).
            images = torch.stack([image.to(self.device) for _, image in kept])
        else:
            images = torch.empty((0, 3, crop, crop), dtype=torch.uint8, device=self.device)
        return Batch(torch.tensor([index for index, _ in kept], dtype=torch.int64), images, skipped)


def _as_tensor(data: bytes) -> torch.Tensor:
    """File bytes → uint8 ``[n]`` CPU tensor (a writable copy: ``torch.frombuffer`` warns on ``bytes``)."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def _decode_tensor(data: torch.Tensor) -> Image.Image:
    return decode_image(data.numpy().tobytes())


# ------------------------------------------------------------------------------------------------
# the background thread


@dataclass(frozen=True)
class _Ready:
    """A decoded batch and, on CUDA, the event recorded on the decoding stream after it."""

    batch: SharedBatch
    event: torch.cuda.Event | None


@dataclass(frozen=True)
class _Failure:
    """What the producer thread raised, for the consumer to raise."""

    error: BaseException


#: What the producer thread queues: a batch, its failure, or ``None`` at the end.
_Message = _Ready | _Failure | None


class _Producer:
    """Decodes the chunks in a background thread, ``prefetch`` batches ahead of the consumer.

    The reads of the next chunk are in flight while the current one decodes. On CUDA the thread works
    on its own stream and records an event after each batch; ``next`` makes the consumer's current
    stream wait on it and records the images' use on that stream, so that the caching allocator does
    not hand their memory back to the decoding stream while the consumer still reads them.
    """

    def __init__(self, chunks: list[list[int]], decoder: _ChunkDecoder, read_workers: int, prefetch: int) -> None:
        self.chunks = chunks
        self.decoder = decoder
        self.read_workers = read_workers
        self.device = decoder.device
        self.cuda = self.device.type == "cuda"
        self.ready: queue.Queue[_Message] = queue.Queue(prefetch)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="qkatlas-device-decode", daemon=True)
        self.thread.start()

    def next(self) -> SharedBatch | None:
        """The next batch, ready on the consumer's current stream; ``None`` at the end."""
        message = self.ready.get()
        if message is None:
            return None
        if isinstance(message, _Failure):
            raise message.error
        if message.event is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(message.event)
            for view in message.batch.views:
                view.images.record_stream(stream)
        return message.batch

    def stop(self) -> None:
        """Stop the thread (early close, an error, or the end) and wait for it."""
        self.stopping.set()
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a put() waiting for room
                self.ready.get(timeout=0.05)
        self.thread.join()

    def _put(self, message: _Message) -> bool:
        """Queue a value unless the consumer has stopped; whether it was queued."""
        while not self.stopping.is_set():
            try:
                self.ready.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            with self._device_context():
                self._produce()
            self._put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(_Failure(error))

    def _device_context(self) -> contextlib.AbstractContextManager[object]:
        if not self.cuda:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(torch.cuda.device(self.device))
        stream = torch.cuda.Stream(self.device)  # type: ignore[no-untyped-call]  # unannotated in torch
        stack.enter_context(torch.cuda.stream(stream))
        return stack

    def _produce(self) -> None:
        batches = _decoded(self.chunks, self.decoder, self.read_workers)
        try:
            for batch in batches:
                if self.stopping.is_set():
                    return
                event = None
                if self.cuda:
                    event = torch.cuda.Event()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
                    event.record()
                if not self._put(_Ready(batch, event)):
                    return
        finally:
            batches.close()


def _decoded(chunks: list[list[int]], decoder: _ChunkDecoder, read_workers: int) -> Generator[SharedBatch, None, None]:
    """The chunks decoded one by one, in the calling thread; ``read_workers`` threads read the files,
    the next chunk's while one decodes."""
    pool = ThreadPoolExecutor(read_workers, thread_name_prefix="qkatlas-read")
    try:
        reads: deque[list[Future[_Item]]] = deque()
        for chunk in chunks:
            reads.append([pool.submit(decoder.read, index) for index in chunk])
            if len(reads) == 2:
                yield decoder.decode([future.result() for future in reads.popleft()])
        while reads:
            yield decoder.decode([future.result() for future in reads.popleft()])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
