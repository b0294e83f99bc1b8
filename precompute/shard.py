"""This process's share of the images under ``torchrun``, and merging the shares' top-Ks and statistics."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch

from qkatlas.atlas.contract import SkippedImage
from qkatlas.device import resolve_device
from qkatlas.distribution_samples import RunningSamples
from qkatlas.mode_effects import RunningEffects
from qkatlas.mode_statistics import HistogramBins, RunningDistribution, RunningStatistics
from qkatlas.topk import RunningTopK

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """This process's share of the images: whole batches, round-robin.

    Sharding by whole batches means every image is scored in exactly the batch it would share in a
    single-process run, so the merged top-K is bit-identical to the single-process one.
    """

    rank: int
    world: int

    @classmethod
    def from_environment(cls) -> Shard:
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

    def barrier(self) -> None:
        """Wait for every rank (nothing to wait for in a single process)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def smallest(self, value: int, device: torch.device) -> int:
        """The smallest ``value`` over all ranks (so that every rank makes the same plan)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
        return int(tensor.item())

    def object_from_main(self, value: T, device: torch.device) -> T:
        """The main process's ``value`` (any picklable object) on every rank (``value`` itself in a single process)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        box: list[T] = [value]
        dist.broadcast_object_list(box, src=0, device=device)
        return box[0]

    def share_from_main(self, bins: HistogramBins, device: torch.device) -> HistogramBins:
        """The main process's ``bins`` on every rank (``bins`` itself in a single process)."""
        if self.world == 1:
            return bins
        import torch.distributed as dist

        shared = torch.stack([bins.low, bins.width]).to(device)
        dist.broadcast(shared, src=0)
        return HistogramBins(shared[0].clone(), shared[1].clone(), bins.calibration_images)


def gather_statistics(statistics: RunningStatistics, shard: Shard) -> None:
    """Add every rank's statistics into this rank's: sums add, extremes take the extreme, the distribution
    samples keep the smallest keys of all ranks' (merging is associative, so the order does not matter)."""
    import torch.distributed as dist

    _reduce_distribution(statistics.distribution)
    for name in RunningStatistics.SUMS:
        dist.all_reduce(getattr(statistics, name), op=dist.ReduceOp.SUM)
    samples = statistics.samples
    gathered = {}
    for name in RunningSamples.STATE:
        tensor = getattr(samples, name)
        local = (tensor.to(torch.uint8) if tensor.dtype == torch.bool else tensor).contiguous()  # gloo has no bool
        gathered[name] = [torch.empty_like(local) for _ in range(shard.world)]
        dist.all_gather(gathered[name], local)
    for rank in range(shard.world):
        if rank != shard.rank:
            other = {name: parts[rank].to(getattr(samples, name).dtype) for name, parts in gathered.items()}
            samples.merge(RunningSamples.from_state_dict(other, samples.n_bins, samples.keys.device))


def gather_effects(effects: RunningEffects, shard: Shard) -> None:
    """Add every rank's effects into this rank's: sums add, extremes take the extreme, the top images
    merge like the scores' top-K."""

    _reduce_distribution(effects.distribution)
    _merge_top_k(effects.top, shard)


def _reduce_distribution(distribution: RunningDistribution) -> None:
    """Every rank's distribution into this rank's: sums add, extremes take the extreme."""
    import torch.distributed as dist

    for name in RunningDistribution.SUMS:
        dist.all_reduce(getattr(distribution, name), op=dist.ReduceOp.SUM)
    dist.all_reduce(distribution.minimum, op=dist.ReduceOp.MIN)
    dist.all_reduce(distribution.maximum, op=dist.ReduceOp.MAX)


def gather_top_k(topk: RunningTopK, skipped: list[SkippedImage], shard: Shard) -> list[SkippedImage]:
    """Merge every rank's top-K (with the winners' maps) into this rank's; associative, so order-free."""
    import torch.distributed as dist

    _merge_top_k(topk, shard)
    all_skipped: list[list[SkippedImage]] = [[] for _ in range(shard.world)]
    dist.all_gather_object(all_skipped, skipped)
    return sorted((entry for part in all_skipped for entry in part), key=lambda entry: entry.index)


def _merge_top_k(topk: RunningTopK, shard: Shard) -> None:
    """Merge every rank's ``topk`` (and payload) into this rank's."""
    import torch.distributed as dist

    state = topk.state_dict()
    gathered: dict[str, list[torch.Tensor]] = {}
    for name, tensor in state.items():
        local = tensor.to(topk.scores.device).contiguous()
        gathered[name] = [torch.empty_like(local) for _ in range(shard.world)]
        dist.all_gather(gathered[name], local)
    payload_shape = tuple(state["payload"].shape[2:]) if "payload" in state else ()
    for rank in range(shard.world):
        if rank != shard.rank:
            other = RunningTopK(topk.scores.shape[0], topk.k, topk.scores.device, payload_shape=payload_shape)
            other.load_state_dict({name: parts[rank] for name, parts in gathered.items()})
            topk.merge(other)
