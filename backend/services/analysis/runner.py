"""Image analysis: run an atlas's model on an uploaded (or dataset) image, off the event loop, once per key.

One analysis (both bases, every layer, head and mode) runs per (image, atlas) with the atlas's own
model (``analyzers``); concurrent requests share it (``flight``: single flight, across worker processes
and replicas too when they share Redis), and its results go to the cache (``codec``): per (layer, head)
everything about that head, and once for the whole model every mode's scores (what ranking the model's
modes needs, without reading every head's maps). The image is an ``AnalysisSubject``: an upload (its
results live as long as it does), or a dataset image of the atlas (``backend.services.dataset_images``).

Analyses run in a few threads behind a bounded queue (``queue``: per process and, with Redis, across the
deployment): when it is full a new one is refused at once (``AnalysisBusy``, 503 with ``Retry-After``)
rather than queued for ever, so a burst of uploads neither piles up work nor slows browsing, which never
waits for these threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from backend.core.cache import Cache
from backend.services.analysis.analyzers import AnalyzerRegistry
from backend.services.analysis.codec import (
    ABLATION_CODEC,
    ATTENTION_CODEC,
    HEAD_CODEC,
    MODEL_SCORES_CODEC,
    AblationRecord,
    AttentionRow,
    HeadAnalysis,
    ModelScores,
    RecordCodec,
)
from backend.services.analysis.flight import Flights
from backend.services.analysis.queue import AnalysisQueue, SharedSlots
from backend.services.uploads import UploadInfo, UploadStore
from qkatlas.ablation import ablate
from qkatlas.analysis import attention_edge_split
from qkatlas.atlas import Atlas
from qkatlas.images import to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.render import encode_png

T = TypeVar("T")
R = TypeVar("R")

#: How many classes an ablation lists, before and after.
TOP_CLASSES = 5


class UploadGone(Exception):
    """The upload expired (or was evicted) between the request's check and the computation."""


@dataclass(frozen=True)
class AnalysisSubject:
    """What an analysis runs on. ``name`` names it in cache and single-flight keys (with the atlas's
    revision); ``ttl_s()`` is how long its results are kept from now; ``data()`` its encoded bytes
    (``UploadGone`` when they are gone); ``model_input(data, preprocessing)`` the uint8 ``[3, S, S]`` image
    as the model sees it (CPU-bound: run off the event loop)."""

    name: str
    ttl_s: Callable[[], int]
    data: Callable[[], Awaitable[bytes]]
    model_input: Callable[[bytes, Preprocessing], torch.Tensor]


@dataclass(frozen=True)
class UploadAnalysis:
    """What one analysis of an upload yields: every head's results, and every mode's scores."""

    heads: dict[tuple[int, int], HeadAnalysis]
    model: ModelScores


def _subject_key(kind: str, name: str, atlas: Atlas) -> str:
    """Cache and single-flight keys of results derived from an image (``AnalysisSubject.name``) and an
    atlas: with the atlas's revision, so nothing computed with a replaced atlas's model is served for its
    successor."""
    return f"qk:{kind}:{name}:{atlas.slug}:{atlas.revision}"


def _analysis_key(name: str, atlas: Atlas, layer: int, head: int) -> str:
    return f"{_subject_key('analysis', name, atlas)}:{layer}:{head}"


def _model_scores_key(name: str, atlas: Atlas) -> str:
    return _subject_key("model-scores", name, atlas)


class AnalysisRunner:
    def __init__(
        self,
        cache: Cache,
        uploads: UploadStore,
        analyzers: AnalyzerRegistry,
        *,
        workers: int,
        queue_size: int,
        lock_s: float,
        lease_s: float,
        shared_slots: SharedSlots | None = None,
    ) -> None:
        self._cache = cache
        self._uploads = uploads
        self._analyzers = analyzers
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._flights = Flights(cache, lock_s=lock_s, lease_s=lease_s)
        self.queue = AnalysisQueue(queue_size, shared=shared_slots)

    def close(self) -> None:
        """Stop the worker threads (a later request starts new ones: the app may be restarted)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # --- running in the executor -----------------------------------------------------------------

    @staticmethod
    def _model_input(subject: AnalysisSubject, data: bytes, atlas: Atlas) -> torch.Tensor:
        return subject.model_input(data, atlas.manifest.preprocessing)

    def _analyze(self, subject: AnalysisSubject, data: bytes, atlas: Atlas) -> UploadAnalysis:
        result = self._analyzers.get(atlas).analyze(self._model_input(subject, data, atlas))
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

    def _attention(
        self, subject: AnalysisSubject, data: bytes, atlas: Atlas, layer: int, head: int, query_patch: int
    ) -> AttentionRow:
        analyzer = self._analyzers.get(atlas)
        split = attention_edge_split(
            analyzer.adapter, analyzer.dec, self._model_input(subject, data, atlas), layer, head, query_patch
        )
        return AttentionRow(
            attention=np.asarray(split.attention, np.float32),
            mode_logits=np.asarray(split.mode_logits, np.float32),
            key_term=np.asarray(split.key_term, np.float32),
            reconstructed=np.asarray(split.reconstructed, np.float32),
        )

    def _ablation(
        self,
        subject: AnalysisSubject,
        data: bytes,
        atlas: Atlas,
        layer: int,
        head: int,
        removed: tuple[int, ...],
        query_patch: int,
    ) -> AblationRecord:
        analyzer = self._analyzers.get(atlas)
        image = self._model_input(subject, data, atlas)
        result = ablate(analyzer.adapter, analyzer.dec, image, layer, head, removed, query_patch)
        classes = np.zeros(0, np.int64)
        probabilities = np.zeros((2, 0), np.float32)
        names = ""
        if result.probabilities_before is not None and result.probabilities_after is not None:
            both = np.stack([result.probabilities_before, result.probabilities_after])  # [2, C]
            top = np.argsort(-both, axis=1, kind="stable")[:, :TOP_CLASSES]
            classes = np.unique(top).astype(np.int64)
            probabilities = both[:, classes].astype(np.float32)
            class_names = analyzer.adapter.class_names or ()
            names = "\n".join(class_names[c] for c in classes)
        return AblationRecord(
            rows=np.stack([result.row_before, result.row_after]).astype(np.float32),
            moved=result.moved.astype(np.float32),
            embedding_cosine=np.array(result.embedding_cosine, np.float64),
            classes=classes,
            probabilities=probabilities,
            class_names=np.frombuffer(names.encode(), np.uint8),
        )

    # --- on the event loop -----------------------------------------------------------------------

    def upload_subject(self, upload: UploadInfo) -> AnalysisSubject:
        """An upload as what an analysis runs on: its results live as long as it does."""

        async def data() -> bytes:
            found = await self._uploads.data(upload.id)
            if found is None:
                raise UploadGone
            return found

        def model_input(encoded: bytes, preprocessing: Preprocessing) -> torch.Tensor:
            return to_model_input(self._uploads.decode(encoded), preprocessing)

        return AnalysisSubject(upload.id, upload.expires_in_s, data, model_input)

    async def _in_executor(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in an analysis thread, holding a slot of the queue (``AnalysisBusy`` if full)."""
        async with self.queue.slot():
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="qk-analysis")
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _cached_or_run(self, key: str, codec: RecordCodec[R], run: Callable[[bool], Awaitable[R | None]]) -> R:
        """The result cached under ``key``, else ``run(shared=True)``'s, which is None when another process
        computed it: then it is read from the cache, or, gone meanwhile (Redis went away while this
        process waited) or unreadable, computed here by ``run(shared=False)``, which always returns it."""
        for shared in (True, False):
            raw = await self._cache.get(key)
            cached = None if raw is None else codec.decode(raw)
            if cached is not None:
                return cached
            result = await run(shared)
            if result is not None:
                return result
        raise AssertionError("run(shared=False) computes the result here")

    async def _analysis(self, subject: AnalysisSubject, atlas: Atlas, shared: bool) -> UploadAnalysis | None:
        """Run the analysis (or join the one running) and cache all it yields; None when another process
        ran it."""
        done_key = _model_scores_key(subject.name, atlas)

        async def compute() -> UploadAnalysis:
            analysis = await self._in_executor(self._analyze, subject, await subject.data(), atlas)
            blobs = {
                _analysis_key(subject.name, atlas, *at): HEAD_CODEC.encode(result)
                for at, result in analysis.heads.items()
            }
            # Written last (one pipeline, in order): once it is there, every head's entry is too.
            blobs[done_key] = MODEL_SCORES_CODEC.encode(analysis.model)
            await self._cache.set_many(blobs, max(1, subject.ttl_s()))
            return analysis

        return await self._flights.run(_subject_key("analysis", subject.name, atlas), done_key, shared, compute)

    async def head(self, upload: UploadInfo, atlas: Atlas, layer: int, head: int) -> HeadAnalysis:
        return await self.subject_head(self.upload_subject(upload), atlas, layer, head)

    async def subject_head(self, subject: AnalysisSubject, atlas: Atlas, layer: int, head: int) -> HeadAnalysis:
        """One head's analysis of any image (an upload's: ``head``)."""

        async def run(shared: bool) -> HeadAnalysis | None:
            analysis = await self._analysis(subject, atlas, shared)
            return None if analysis is None else analysis.heads[layer, head]

        return await self._cached_or_run(_analysis_key(subject.name, atlas, layer, head), HEAD_CODEC, run)

    async def model_scores(self, upload: UploadInfo, atlas: Atlas) -> ModelScores:
        """Every mode's scores and contribution, from the same analysis as the heads'."""
        subject = self.upload_subject(upload)

        async def run(shared: bool) -> ModelScores | None:
            analysis = await self._analysis(subject, atlas, shared)
            return None if analysis is None else analysis.model

        return await self._cached_or_run(_model_scores_key(upload.id, atlas), MODEL_SCORES_CODEC, run)

    async def attention(
        self, upload: UploadInfo, atlas: Atlas, layer: int, head: int, query_patch: int
    ) -> AttentionRow:
        subject = self.upload_subject(upload)
        key = f"{_subject_key('attention', upload.id, atlas)}:{layer}:{head}:{query_patch}"

        async def compute() -> AttentionRow:
            data = await subject.data()
            row = await self._in_executor(self._attention, subject, data, atlas, layer, head, query_patch)
            await self._cache.set(key, ATTENTION_CODEC.encode(row), max(1, upload.expires_in_s()))
            return row

        async def run(shared: bool) -> AttentionRow | None:
            return await self._flights.run(key, key, shared, compute)

        return await self._cached_or_run(key, ATTENTION_CODEC, run)

    async def ablation(
        self,
        subject: AnalysisSubject,
        atlas: Atlas,
        layer: int,
        head: int,
        removed: tuple[int, ...],
        query_patch: int,
    ) -> AblationRecord:
        """The image run as it is and with modes ``removed`` (ascending, checked) of one head taken out
        (``qkatlas.ablation``): once per removed set and query patch, cached with the subject's TTL."""
        modes = ",".join(str(n) for n in removed)
        key = f"{_subject_key('ablation', subject.name, atlas)}:{layer}:{head}:{modes}:{query_patch}"

        async def compute() -> AblationRecord:
            data = await subject.data()
            record = await self._in_executor(self._ablation, subject, data, atlas, layer, head, removed, query_patch)
            await self._cache.set(key, ABLATION_CODEC.encode(record), max(1, subject.ttl_s()))
            return record

        async def run(shared: bool) -> AblationRecord | None:
            return await self._flights.run(key, key, shared, compute)

        return await self._cached_or_run(key, ABLATION_CODEC, run)

    async def model_image(self, upload: UploadInfo, atlas: Atlas) -> bytes:
        """The upload as the atlas's model sees it (after its resize and centre crop), as PNG.

        Cheap (a resize and a PNG): neither queued nor shared between processes."""
        key = _subject_key("upload-image", upload.id, atlas)
        png = await self._cache.get(key)
        if png is not None:
            return png
        subject = self.upload_subject(upload)

        async def compute() -> bytes:
            data = await subject.data()
            crop = await asyncio.to_thread(self._model_input, subject, data, atlas)
            encoded = await asyncio.to_thread(encode_png, crop.permute(1, 2, 0).numpy())
            await self._cache.set(key, encoded, max(1, upload.expires_in_s()))
            return encoded

        return await self._flights.here.run(key, compute)
