"""Upload analysis: run an atlas's model on an uploaded image, off the event loop, once per key.

The model of an atlas is rebuilt lazily from its manifest on the best device (CUDA when present) and
checked against the atlas's own spectrum, so an upload is never analysed with different weights than
the atlas shows. One analysis (both bases, every layer, head and mode) runs per (upload, atlas);
concurrent requests share it (single flight, across worker processes and replicas too when they share
Redis), and its results go to the cache with the upload's remaining TTL: per (layer, head) everything
about that head, and once for the whole model every mode's scores (what ranking the model's modes
needs, without reading every head's maps).

Analyses run in a few threads behind a bounded queue (``AnalysisQueue``): when it is full a new one is
refused at once (``AnalysisBusy``, 503 with ``Retry-After``) rather than queued for ever, so a burst of
uploads neither piles up work nor slows browsing, which never waits for these threads.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from backend.core.cache import Cache
from backend.core.clock import Clock
from backend.services.singleflight import SharedFlight, SingleFlight
from backend.services.uploads import UploadInfo, UploadStore
from qkatlas.analysis import ImageAnalyzer, attention_edge_split
from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis
from qkatlas.device import DeviceName, resolve_device
from qkatlas.images import to_model_input
from qkatlas.models import load_model_from_source
from qkatlas.models.base import ViTAdapter
from qkatlas.render import encode_png
from qkatlas.svd import Decomposition, decompose

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class UploadGone(Exception):
    """The upload expired (or was evicted) between the request's check and the computation."""


class ModelUnavailable(Exception):
    """The atlas's model cannot be rebuilt here, or its weights do not match the atlas."""


class AnalysisBusy(Exception):
    """The analysis queue is full; ``retry_after_s``: when trying again is likely to find room."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy analysing other images; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class AnalysisQueue:
    """At most ``size`` analyses running or waiting for one of the ``threads``, in this process.

    Only a new computation takes a slot: requests that join one in flight (single flight) do not.
    The wait suggested to a refused request is the mean time recent jobs spent in the queue (a moving
    average): when the queue is full, that is about how long it takes to drain, so the refused request
    (and those refused with it) come back to a queue with room rather than all at once into a full one.
    """

    #: The guess before any job has finished (an analysis of a ViT-B on a CPU takes about this long).
    PRIOR_S = 2.0
    MAX_RETRY_AFTER_S = 300

    def __init__(self, size: int, *, clock: Clock = time.monotonic) -> None:
        self.size = size
        self.jobs = 0
        self._mean_s = self.PRIOR_S
        self._clock = clock

    def retry_after_s(self) -> int:
        return min(self.MAX_RETRY_AFTER_S, max(1, math.ceil(self._mean_s)))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body's duration, or raise ``AnalysisBusy`` at once if none is free."""
        if self.jobs >= self.size:
            raise AnalysisBusy(self.retry_after_s())
        self.jobs += 1
        started = self._clock()
        try:
            yield
        finally:
            self.jobs -= 1
            self._mean_s += 0.3 * (self._clock() - started - self._mean_s)


def _to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: **arrays might fill the bool allow_pickle
    return buffer.getvalue()


def _from_bytes(raw: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


PerBasis = dict[Basis, np.ndarray]


def _per_basis_to_bytes(fields: dict[str, PerBasis], **plain: np.ndarray) -> bytes:
    """Arrays kept per basis (stored as ``<field>.<basis>``) and plain ones, as one blob."""
    arrays = dict(plain)
    for name, by_basis in fields.items():
        for basis, value in by_basis.items():
            arrays[f"{name}.{basis}"] = value
    return _to_bytes(arrays)


def _per_basis_from_bytes(raw: bytes, names: tuple[str, ...]) -> tuple[dict[str, PerBasis], dict[str, np.ndarray]]:
    """The inverse of ``_per_basis_to_bytes``: the per-basis ``names`` and the plain arrays."""
    fields: dict[str, PerBasis] = {name: {} for name in names}
    plain = {}
    for name, value in _from_bytes(raw).items():
        if "." in name:
            field, basis = name.split(".", 1)
            fields[field][Basis(basis)] = value
        else:
            plain[name] = value
    return fields, plain


@dataclass(frozen=True)
class HeadAnalysis:
    """One head of one upload under one atlas's model, for every basis of the atlas.

    ``query[basis]``, ``key[basis]``: ``[M, T, T]`` maps of the *pos* modes (the neg maps are their
    negatives); ``scores[basis]``: ``[M, 2]`` (pos, neg); ``contribution[basis]``: ``[M]``;
    ``key_salience``: ``[T, T]`` (exact basis).
    """

    query: PerBasis
    key: PerBasis
    scores: PerBasis
    contribution: PerBasis
    key_salience: np.ndarray

    _PER_BASIS = ("query", "key", "scores", "contribution")

    def to_bytes(self) -> bytes:
        fields = {name: getattr(self, name) for name in self._PER_BASIS}
        return _per_basis_to_bytes(fields, key_salience=self.key_salience)

    @classmethod
    def from_bytes(cls, raw: bytes) -> HeadAnalysis:
        fields, plain = _per_basis_from_bytes(raw, cls._PER_BASIS)
        return cls(key_salience=plain["key_salience"], **fields)


@dataclass(frozen=True)
class ModelScores:
    """Every mode of one atlas's model scored on one upload, for every basis of the atlas:
    ``scores[basis]``: ``[L, H, M, 2]`` (pos, neg); ``contribution[basis]``: ``[L, H, M]``."""

    scores: PerBasis
    contribution: PerBasis

    _PER_BASIS = ("scores", "contribution")

    def to_bytes(self) -> bytes:
        return _per_basis_to_bytes({name: getattr(self, name) for name in self._PER_BASIS})

    @classmethod
    def from_bytes(cls, raw: bytes) -> ModelScores:
        fields, _ = _per_basis_from_bytes(raw, cls._PER_BASIS)
        return cls(**fields)


@dataclass(frozen=True)
class UploadAnalysis:
    """What one analysis of an upload yields: every head's results, and every mode's scores."""

    heads: dict[tuple[int, int], HeadAnalysis]
    model: ModelScores


@dataclass(frozen=True)
class AttentionRow:
    """``qkatlas.analysis.EdgeSplit`` as stored: arrays over all key tokens (``mode_logits [M, N]``)."""

    attention: np.ndarray
    mode_logits: np.ndarray
    key_term: np.ndarray
    reconstructed: np.ndarray


def _upload_key(kind: str, upload_id: str, atlas: Atlas) -> str:
    """Cache and single-flight keys of results derived from an upload and an atlas: with the atlas's
    revision, so nothing computed with a replaced atlas's model is served for its successor."""
    return f"qk:{kind}:{upload_id}:{atlas.slug}:{atlas.revision}"


def _analysis_key(upload_id: str, atlas: Atlas, layer: int, head: int) -> str:
    return f"{_upload_key('analysis', upload_id, atlas)}:{layer}:{head}"


def _model_scores_key(upload_id: str, atlas: Atlas) -> str:
    return _upload_key("model-scores", upload_id, atlas)


class AnalysisRunner:
    def __init__(
        self,
        cache: Cache,
        uploads: UploadStore,
        *,
        device: DeviceName,
        workers: int,
        queue_size: int,
        lock_s: float,
    ) -> None:
        self._cache = cache
        self._uploads = uploads
        self.device = resolve_device(device)
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._models: dict[str, tuple[str, ImageAnalyzer]] = {}
        self._models_lock = threading.Lock()
        self._flights = SingleFlight()
        self._shared = SharedFlight(cache, lock_s=lock_s)
        self.queue = AnalysisQueue(queue_size)

    def close(self) -> None:
        """Stop the worker threads (a later request starts new ones: the app may be restarted)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- running in the executor -----------------------------------------------------------------

    def _model(self, atlas: Atlas) -> ImageAnalyzer:
        """The atlas's model, rebuilt from its manifest when first needed or when the atlas was rebuilt
        (the replaced atlas's model is dropped)."""
        with self._models_lock:
            loaded = self._models.get(atlas.slug)
            if loaded is None or loaded[0] != atlas.revision:
                self._models.pop(atlas.slug, None)
                loaded = (atlas.revision, ImageAnalyzer(*self._load_model(atlas)))
                self._models[atlas.slug] = loaded
            return loaded[1]

    def _load_model(self, atlas: Atlas) -> tuple[ViTAdapter, Decomposition]:
        log.info("loading the model of %s on %s", atlas.slug, self.device)
        try:
            adapter = load_model_from_source(atlas.manifest.model_source).to(self.device)
        except Exception as error:  # missing checkpoint, unsupported layout, out of memory ...
            log.exception("cannot load the model of %s", atlas.slug)
            raise ModelUnavailable(f"the model of this atlas cannot be loaded ({type(error).__name__})") from None
        adapter.module.eval()
        dec = decompose(adapter.weights())
        if dec.sigma.shape != atlas.sigma_all.shape or not np.allclose(
            dec.sigma, atlas.sigma_all, rtol=1e-4, atol=1e-6
        ):
            raise ModelUnavailable("the model's weights do not match this atlas; refusing to analyse")
        return adapter, dec

    def _model_input(self, data: bytes, atlas: Atlas) -> torch.Tensor:
        image = self._uploads.decode(data)
        return to_model_input(image, atlas.manifest.preprocessing)

    def _analyze(self, data: bytes, atlas: Atlas) -> UploadAnalysis:
        result = self._model(atlas).analyze(self._model_input(data, atlas))
        # float32 for the whole model as for each head, so both rank a head's modes alike.
        model = ModelScores(
            scores={b: s.astype(np.float32) for b, s in result.scores.items()},
            contribution={b: c.astype(np.float32) for b, c in result.contribution.items()},
        )
        heads = {}
        for layer in range(atlas.n_layers):
            for head in range(atlas.n_heads):
                heads[layer, head] = HeadAnalysis(
                    query={b: m[layer, head].astype(np.float16) for b, m in result.query.items()},
                    key={b: m[layer, head].astype(np.float16) for b, m in result.key.items()},
                    scores={b: s[layer, head] for b, s in model.scores.items()},
                    contribution={b: c[layer, head] for b, c in model.contribution.items()},
                    key_salience=result.key_salience[layer, head].astype(np.float32),
                )
        return UploadAnalysis(heads, model)

    def _attention(self, data: bytes, atlas: Atlas, layer: int, head: int, query_patch: int) -> AttentionRow:
        analyzer = self._model(atlas)
        split = attention_edge_split(
            analyzer.adapter, analyzer.dec, self._model_input(data, atlas), layer, head, query_patch
        )
        return AttentionRow(
            attention=np.asarray(split.attention, np.float32),
            mode_logits=np.asarray(split.mode_logits, np.float32),
            key_term=np.asarray(split.key_term, np.float32),
            reconstructed=np.asarray(split.reconstructed, np.float32),
        )

    # --- on the event loop -----------------------------------------------------------------------

    async def _data(self, upload: UploadInfo) -> bytes:
        data = await self._uploads.data(upload.id)
        if data is None:
            raise UploadGone
        return data

    async def _in_executor(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in an analysis thread, holding a slot of the queue (``AnalysisBusy`` if full)."""
        async with self.queue.slot():
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="qk-analysis")
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _once(self, key: str, done_key: str, shared: bool, compute: Callable[[], Awaitable[T]]) -> T | None:
        """``compute()`` once for every caller of ``key`` in this process and, if ``shared``, in every
        process sharing the cache; None when another process computed it (and stored ``done_key``)."""
        if not shared:
            return await self._flights.run(f"{key}:here", compute)
        return await self._flights.run(key, lambda: self._shared.run(key, done_key, compute))

    async def _cached_or_run(
        self, key: str, decode: Callable[[bytes], R], run: Callable[[bool], Awaitable[R | None]]
    ) -> R:
        """The result cached under ``key``, else ``run(shared=True)``'s, which is None when another process
        computed it: then it is read from the cache, or, gone meanwhile (Redis went away while this
        process waited), computed here by ``run(shared=False)``, which always returns it."""
        for shared in (True, False):
            raw = await self._cache.get(key)
            if raw is not None:
                return decode(raw)
            result = await run(shared)
            if result is not None:
                return result
        raise AssertionError("run(shared=False) computes the result here")

    async def _analysis(self, upload: UploadInfo, atlas: Atlas, shared: bool) -> UploadAnalysis | None:
        """Run the analysis (or join the one running) and cache all it yields; None when another process
        ran it."""
        done_key = _model_scores_key(upload.id, atlas)

        async def compute() -> UploadAnalysis:
            analysis = await self._in_executor(self._analyze, await self._data(upload), atlas)
            blobs = {_analysis_key(upload.id, atlas, *at): result.to_bytes() for at, result in analysis.heads.items()}
            # Written last (one pipeline, in order): once it is there, every head's entry is too.
            blobs[done_key] = analysis.model.to_bytes()
            await self._cache.set_many(blobs, max(1, upload.expires_in_s()))
            return analysis

        return await self._once(_upload_key("analysis", upload.id, atlas), done_key, shared, compute)

    async def head(self, upload: UploadInfo, atlas: Atlas, layer: int, head: int) -> HeadAnalysis:
        async def run(shared: bool) -> HeadAnalysis | None:
            analysis = await self._analysis(upload, atlas, shared)
            return None if analysis is None else analysis.heads[layer, head]

        return await self._cached_or_run(_analysis_key(upload.id, atlas, layer, head), HeadAnalysis.from_bytes, run)

    async def model_scores(self, upload: UploadInfo, atlas: Atlas) -> ModelScores:
        """Every mode's scores and contribution, from the same analysis as the heads'."""

        async def run(shared: bool) -> ModelScores | None:
            analysis = await self._analysis(upload, atlas, shared)
            return None if analysis is None else analysis.model

        return await self._cached_or_run(_model_scores_key(upload.id, atlas), ModelScores.from_bytes, run)

    async def attention(
        self, upload: UploadInfo, atlas: Atlas, layer: int, head: int, query_patch: int
    ) -> AttentionRow:
        key = f"{_upload_key('attention', upload.id, atlas)}:{layer}:{head}:{query_patch}"

        async def compute() -> AttentionRow:
            row = await self._in_executor(self._attention, await self._data(upload), atlas, layer, head, query_patch)
            await self._cache.set(key, _to_bytes(vars(row)), max(1, upload.expires_in_s()))
            return row

        async def run(shared: bool) -> AttentionRow | None:
            return await self._once(key, key, shared, compute)

        return await self._cached_or_run(key, lambda raw: AttentionRow(**_from_bytes(raw)), run)

    async def model_image(self, upload: UploadInfo, atlas: Atlas) -> bytes:
        """The upload as the atlas's model sees it (after its resize and centre crop), as PNG.

        Cheap (a resize and a PNG): neither queued nor shared between processes."""
        key = _upload_key("upload-image", upload.id, atlas)
        png = await self._cache.get(key)
        if png is not None:
            return png

        async def compute() -> bytes:
            data = await self._data(upload)
            crop = await asyncio.to_thread(self._model_input, data, atlas)
            encoded = await asyncio.to_thread(encode_png, crop.permute(1, 2, 0).numpy())
            await self._cache.set(key, encoded, max(1, upload.expires_in_s()))
            return encoded

        return await self._flights.run(key, compute)
