"""The precompute job: weights → SVD → stream images once → running top-K with the winners' maps → atlas.

Every image is streamed once through the model; the scoring kernel (``qkatlas.scoring``) projects each
block's tokens onto all heads' modes with one matmul per basis, and ``TopKScorer`` merges the batch's
scores into a running top-K that lives on the device. Each top-K slot carries its image's query and
key maps (float16), taken from the projections that scored it, and an image's thumbnail is written
when it first enters a top-K, so the winners need no second pass (on small datasets almost every
image wins some mode, so a second pass would cost about as much as the first). Memory is flat in the
number of images. The job checkpoints the top-K state (with the maps) as it goes; ``resume``
continues from the last checkpoint and, because the ranking is a pure function of the scores seen,
reproduces the uninterrupted result.

This module is orchestration only: configuration, sharding under ``torchrun``, checkpoints and
publishing. The atlas's files are typed in ``qkatlas.atlas.contract``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from qkatlas.atlas import AtlasWriter
from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    AtlasManifest,
    AtlasSummary,
    DatasetRecord,
    ImageRecord,
    ModelInfo,
    RunInfo,
    ScoringRule,
    SkippedImage,
)
from qkatlas.conventions import BASES, SIGNS, Basis
from qkatlas.device import resolve_device
from qkatlas.images import ImageSource, iter_batches, open_image_source
from qkatlas.models import load_model, model_slug, model_source
from qkatlas.models.base import ViTAdapter
from qkatlas.progress import Phase
from qkatlas.scoring import ModeKernel, TopKScorer
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE, decompose
from qkatlas.topk import RunningTopK

CHECKPOINT = "checkpoint.pt"

#: ``(phase, done, total)``: ``"stream"`` while scoring, ``"thumbnails"`` while writing the thumbnails
#: of winners that another node scored (distributed runs only). Used for Redis progress reports.
ProgressFn = Callable[[Phase, int, int], None]


@dataclass(frozen=True)
class JobConfig:
    model_id: str
    images: str
    out: Path
    top_k: int = 16
    batch_size: int = 64
    device: str = "auto"
    workers: int = 0
    limit: int | None = None
    resume: bool = False
    random_init: bool = False
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    dataset_name: str | None = None
    bases: tuple[Basis, ...] = BASES
    checkpoint_every_s: float = 30.0
    show_progress: bool = True


@dataclass
class JobResult:
    atlas_dir: Path
    n_images: int
    n_skipped: int
    skipped: list[SkippedImage]
    wall_seconds: float
    images_per_second: float


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("qkatlas", "torch", "timm", "transformers", "numpy", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


class _Thumbnails:
    """Thumbnails of the images that entered some top-K, written as they enter.

    Resumed runs reuse the files already written (each is written atomically); thumbnails of images
    that later dropped out of every top-K are removed when the atlas is finished.
    """

    def __init__(self, writer: AtlasWriter) -> None:
        self.writer = writer
        self.written = writer.thumbnail_indices()

    def add(self, index: int, image: torch.Tensor) -> None:
        """``image``: uint8 ``[3, S, S]`` as the model saw it."""
        if index not in self.written:
            self.writer.write_thumbnail(index, image.permute(1, 2, 0).cpu().numpy())
            self.written.add(index)


def _fingerprint(config: JobConfig, source: ImageSource, adapter: ViTAdapter, world: int) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed."""
    return {
        "model_source": model_source(adapter).model_dump(),
        "images": [item.source for item in source.items],
        "batch_size": config.batch_size,
        "top_k": config.top_k,
        "bases": [basis.value for basis in config.bases],
        "world_size": world,
    }


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, weights_only=False)
    if state["fingerprint"] != fingerprint:
        raise RuntimeError(
            f"the checkpoint in {path.parent} was made with different settings (model, images, batch size, "
            "top-k, bases or number of processes); rerun without --resume to start over"
        )
    return state


@contextlib.contextmanager
def _progress(config: JobConfig, total: int, initial: int, desc: str, enabled: bool = True) -> Iterator[tqdm]:
    bar = tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="img",
        dynamic_ncols=True,
        disable=not (config.show_progress and enabled),
    )
    try:
        yield bar
    finally:
        bar.close()


@dataclass(frozen=True)
class _Shard:
    """This process's share of the images under ``torchrun``: whole batches, round-robin.

    Sharding by whole batches means every image is scored in exactly the batch it would share in a
    single-process run, so the merged top-K is bit-identical to the single-process one.
    """

    rank: int
    world: int

    @classmethod
    def from_environment(cls) -> _Shard:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(rank=int(os.environ.get("RANK", "0")), world=world)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def items(self, n_items: int, batch_size: int) -> list[int]:
        n_batches = -(-n_items // batch_size)
        return [
            i
            for batch in range(self.rank, n_batches, self.world)
            for i in range(batch * batch_size, min((batch + 1) * batch_size, n_items))
        ]

    def device(self, requested: str) -> torch.device:
        device = resolve_device(requested)
        if device.type == "cuda" and self.world > 1:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device


def _gather_top_k(topk: RunningTopK, skipped: list[SkippedImage], shard: _Shard) -> list[SkippedImage]:
    """Merge every rank's top-K (with the winners' maps) into this rank's; associative, so order-free."""
    import torch.distributed as dist

    state = topk.state_dict()
    gathered: dict[str, list[torch.Tensor]] = {}
    for name, tensor in state.items():
        local = tensor.to(topk.scores.device).contiguous()
        gathered[name] = [torch.empty_like(local) for _ in range(shard.world)]
        dist.all_gather(gathered[name], local)
    all_skipped: list[list[SkippedImage]] = [[] for _ in range(shard.world)]
    dist.all_gather_object(all_skipped, skipped)
    payload_shape = tuple(state["payload"].shape[2:]) if "payload" in state else ()
    for rank in range(shard.world):
        if rank != shard.rank:
            other = RunningTopK(topk.scores.shape[0], topk.k, topk.scores.device, payload_shape=payload_shape)
            other.load_state_dict({name: parts[rank] for name, parts in gathered.items()})
            topk.merge(other)
    return sorted((entry for part in all_skipped for entry in part), key=lambda entry: entry.index)


@dataclass
class _StreamRun:
    """One process's pass over its share of the images, checkpointed as it goes.

    ``position`` counts the selected images consumed so far (the resume point); ``skipped`` lists the
    images that could not be decoded.
    """

    config: JobConfig
    source: ImageSource
    adapter: ViTAdapter
    scorer: TopKScorer
    topk: RunningTopK
    thumbnails: _Thumbnails
    selection: list[int]
    checkpoint: Path
    fingerprint: dict[str, Any]
    on_progress: ProgressFn | None
    show_progress: bool
    position: int = 0
    skipped: list[SkippedImage] = field(default_factory=list)

    def restore(self, state: dict[str, Any]) -> None:
        self.topk.load_state_dict(state["topk"])
        self.position = state["position"]
        self.skipped = [SkippedImage.model_validate(entry) for entry in state["skipped"]]

    def save(self) -> None:
        state = {
            "fingerprint": self.fingerprint,
            "topk": self.topk.state_dict(),
            "position": self.position,
            "skipped": [entry.model_dump() for entry in self.skipped],  # plain data: readable by any version
        }
        _save_checkpoint(self.checkpoint, state)

    def stream(self) -> float:
        """Score the images from ``position`` on; return this session's scoring rate (images/s)."""
        config, n_selected = self.config, len(self.selection)
        last_checkpoint = time.monotonic()
        clock, start_position = time.perf_counter(), self.position
        with _progress(config, n_selected, self.position, "scoring", self.show_progress) as bar:
            for batch in iter_batches(
                self.source,
                self.adapter.preprocessing,
                batch_size=config.batch_size,
                workers=config.workers,
                indices=self.selection,
                start=self.position,
                pin_memory=self.adapter.device.type == "cuda",
            ):
                if len(batch.indices):
                    entered = self.scorer.score(batch.images, batch.indices, self.topk).cpu()  # the batch's one sync
                    for row in entered.nonzero().flatten().tolist():
                        self.thumbnails.add(int(batch.indices[row]), batch.images[row])
                self.skipped.extend(SkippedImage(index=i, source=s, reason=r) for i, s, r in batch.skipped)
                consumed = min(config.batch_size, n_selected - self.position)
                self.position += consumed
                bar.update(consumed)
                if self.on_progress:
                    self.on_progress("stream", self.position, n_selected)
                if time.monotonic() - last_checkpoint >= config.checkpoint_every_s:
                    self.save()
                    last_checkpoint = time.monotonic()
        seconds = time.perf_counter() - clock
        self.save()
        return (self.position - start_position) / seconds if seconds > 0 else 0.0


def _finish_winners(
    config: JobConfig,
    source: ImageSource,
    adapter: ViTAdapter,
    topk: RunningTopK,
    writer: AtlasWriter,
    thumbnails: _Thumbnails,
    on_progress: ProgressFn | None,
) -> list[int]:
    """Write the top-K, the winners' maps and thumbnails; return the winners' dataset indices.

    Thumbnails are normally all written during the stream; images scored by another node of a
    distributed run are decoded here (no model) to write theirs.
    """
    spec = adapter.spec
    ranked_shape = (len(config.bases), spec.n_layers, spec.n_heads, spec.d_head, 2, config.top_k)
    scores, indices, payload = topk.ranked()
    winner_ids: list[int] = torch.unique(indices[indices >= 0]).cpu().tolist()
    missing = sorted(set(winner_ids) - thumbnails.written)
    for batch in iter_batches(
        source, adapter.preprocessing, batch_size=config.batch_size, workers=config.workers, indices=missing
    ):
        if batch.skipped:
            _, name, reason = batch.skipped[0]
            raise RuntimeError(f"image {name} decoded when it was scored but not now ({reason}); was it changed?")
        for index, image in zip(batch.indices.tolist(), batch.images, strict=True):
            thumbnails.add(index, image)
        if on_progress:
            on_progress("thumbnails", len(set(missing) & thumbnails.written), len(missing))
    writer.remove_thumbnails_except(set(winner_ids))
    assert payload is not None
    maps = payload.view(*ranked_shape, 2, spec.grid, spec.grid).cpu().numpy()
    writer.write_maps(maps[..., 0, :, :], maps[..., 1, :, :])
    writer.write_topk(indices.view(ranked_shape).cpu().numpy(), scores.view(ranked_shape).float().cpu().numpy())
    return winner_ids


def run_job(config: JobConfig, on_progress: ProgressFn | None = None) -> JobResult | None:
    """Build (or resume) one atlas. Raises ``ValueError``/``RuntimeError`` with a clear message.

    Under ``torchrun`` every rank scores its shard and rank 0 merges, writes and returns the result;
    the other ranks return ``None``.
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    shard = _Shard.from_environment()
    source = open_image_source(config.images, name=config.dataset_name, limit=config.limit)
    device = shard.device(config.device)
    if shard.world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    adapter = load_model(
        config.model_id, random_init=config.random_init, seed=config.seed, overrides=config.overrides or None
    ).to(device)
    adapter.module.eval()
    dec = decompose(adapter.weights())
    spec = adapter.spec
    slug = fmt.atlas_slug(model_slug(config.model_id), source.name)
    partial = config.out / fmt.PARTIAL_DIR / slug
    checkpoint = partial / (CHECKPOINT if shard.world == 1 else f"checkpoint-rank{shard.rank}.pt")
    fingerprint = _fingerprint(config, source, adapter, shard.world)
    state = _load_checkpoint(checkpoint, fingerprint) if config.resume else None
    if state is None and shard.is_main and partial.exists():
        shutil.rmtree(partial)
    if shard.world > 1:
        dist.barrier()
    writer = AtlasWriter(partial)
    thumbnails = _Thumbnails(writer)

    n_items = len(source.items)
    scorer = TopKScorer(ModeKernel(adapter, dec, config.bases))
    run = _StreamRun(
        config=config,
        source=source,
        adapter=adapter,
        scorer=scorer,
        topk=scorer.new_top_k(config.top_k),
        thumbnails=thumbnails,
        selection=shard.items(n_items, config.batch_size),
        checkpoint=checkpoint,
        fingerprint=fingerprint,
        on_progress=on_progress,
        show_progress=shard.is_main,
    )
    if state is not None:
        run.restore(state)
    rate = run.stream()
    skipped = run.skipped
    if shard.world > 1:
        skipped = _gather_top_k(run.topk, skipped, shard)
        rate *= shard.world  # every rank streams at about the same rate
        dist.destroy_process_group()
        if not shard.is_main:
            return None
    if len(skipped) == n_items:
        raise RuntimeError(f"none of the {n_items} images in {config.images} could be decoded")

    winner_ids = _finish_winners(config, source, adapter, run.topk, writer, thumbnails, on_progress)
    writer.write_decomposition(dec)
    writer.write_summary(AtlasSummary.from_decomposition(dec))
    items = source.items
    writer.write_images({i: ImageRecord(source=items[i].source, label=items[i].label) for i in winner_ids})
    for stale in partial.glob("checkpoint*.pt"):
        stale.unlink()
    wall = time.perf_counter() - clock
    manifest = AtlasManifest(
        format_version=FORMAT_VERSION,
        slug=slug,
        model_slug=model_slug(config.model_id),
        model=ModelInfo.from_spec(spec),
        model_source=model_source(adapter),
        preprocessing=adapter.preprocessing,
        bases=config.bases,
        signs=SIGNS,
        scoring=ScoringRule(),
        sign_rule=SIGN_RULE,
        degeneracy_rtol=DEGENERACY_RTOL,
        top_k=config.top_k,
        dataset=DatasetRecord(
            name=source.name,
            source=str(source.root),
            layout=source.layout,
            n_images=n_items,
            n_skipped=len(skipped),
        ),
        skipped=tuple(skipped),
        run=RunInfo(
            device=str(device),
            dtype=str(scorer.kernel.dtype).removeprefix("torch."),
            batch_size=config.batch_size,
            workers=config.workers,
            processes=shard.world,
            started=started.isoformat(),
            finished=datetime.now(UTC).isoformat(),
            wall_seconds=wall,
            images_per_second=rate,
            resumed=config.resume,
        ),
        versions=_versions(),
    )
    final = writer.publish(manifest, config.out / slug)
    return JobResult(final, n_items, len(skipped), skipped, wall, rate)
