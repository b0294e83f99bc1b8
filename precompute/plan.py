"""Which models stream together: groups whose weights and top-K states fit the device at once.

Every model of a group stays resident on the device (weights, mode projector, running top-K with the
winners' maps) for the whole stream, while the activations of a forward pass exist for one model at a
time. A group therefore fits when the sum of its models' resident bytes plus the largest transient
need stays within the budget. Models are grouped greedily in the order given, so the plan is a pure
function of the models and the budget (identical on every rank of a distributed run).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from qkatlas.mode_effects import EFFECT_TOP_K
from qkatlas.mode_statistics import N_BINS, STATISTICS_CHUNK
from qkatlas.models.base import ViTAdapter
from qkatlas.scoring import candidate_buffer_bytes, merge_window_layers

#: Part of the device's free memory the plan may use: allocator fragmentation and the CUDA context
#: need the rest.
DEVICE_MEMORY_FRACTION = 0.85
_GIB = 1024**3


@dataclass(frozen=True)
class MemoryNeed:
    """Estimated device bytes of one model in the stream."""

    resident: int
    transient: int


def estimate_memory(
    adapter: ViTAdapter,
    *,
    n_bases: int,
    top_k: int,
    batch_size: int,
    dtype: torch.dtype,
    device: torch.device,
    statistics_classes: int | None = None,
    effects_chunk: int | None = None,
) -> MemoryNeed:
    """``resident``: weights + mode projector + top-K (scores, indices and the maps of K + 1 slots per
    column; on the CPU also the buffers its merges collect candidates in) + statistics when kept
    (``statistics_classes``: the number of classes, else ``None``), on ``device`` (where the model will
    stream, wherever it is now);
    ``transient``: one batch's forward pass (tokens, attention, MLP) and projections, the maps of the
    layers one top-K merge takes together (``qkatlas.scoring.merge_window_layers``), and the
    statistics' per-batch buffers, a generous upper estimate since the pass keeps only a few layers'
    tensors alive at once. With ``effects_chunk`` (the attention moved by each mode is measured, in chunks of that many
    elements: ``qkatlas.mode_effects.default_chunk``): their per-mode state, and per batch one layer's
    logits and attention, its maps over every token and a chunk's temporaries."""
    spec = adapter.spec
    weights = sum(p.numel() * p.element_size() for p in adapter.module.parameters())
    n_columns = n_bases * spec.n_layers * spec.n_heads * spec.d_head * 2
    topk = n_columns * top_k * (4 + 8) + n_columns * (top_k + 1) * 2 * spec.n_patches * 2
    element = torch.finfo(dtype).bits // 8
    projector = spec.n_layers * spec.d_model * 2 * spec.n_heads * spec.d_head * element
    n_tokens = spec.n_patches + spec.n_prefix
    hidden = batch_size * n_tokens * spec.d_model * 4
    attention = batch_size * spec.n_heads * n_tokens * n_tokens * 4
    projections = n_bases * batch_size * spec.n_patches * 2 * spec.n_heads * spec.d_head * 4
    # The top-K merges a window of layers at once, holding their maps until then (qkatlas.scoring).
    window = merge_window_layers(
        spec.n_layers, spec.n_patches, spec.n_heads * spec.d_head, n_bases, batch_size, dtype, device
    )
    held_maps = window * n_bases * batch_size * spec.n_patches * 2 * spec.n_heads * spec.d_head * element
    resident, transient = weights + topk + projector, 16 * hidden + 3 * attention + 2 * projections + held_maps
    if device.type == "cpu":  # the CPU's compact merges collect a batch's candidates in buffers they keep
        resident += candidate_buffer_bytes(spec.n_heads * spec.d_head * 2, batch_size, spec.n_patches)
    if statistics_classes is not None:
        # sums, extremes and bins (8 × 8 bytes), histogram, class sums; per batch: scores, firing and
        # the float64 temporaries of one chunk of columns
        resident += n_columns * (64 + (N_BINS + 2) * 8 + statistics_classes * 8)
        transient += batch_size * n_columns * 5 + 6 * 8 * batch_size * min(n_columns, STATISTICS_CHUNK)
    if effects_chunk is not None:
        n_modes = spec.n_layers * spec.n_heads * spec.d_head
        resident += n_modes * (64 + (N_BINS + 2) * 8 + EFFECT_TOP_K * 12)
        maps = 2 * batch_size * n_tokens * spec.n_heads * spec.d_head * 4
        transient += 2 * attention + maps + 4 * effects_chunk * 4
    return MemoryNeed(resident=resident, transient=transient)


def device_memory_budget(device: torch.device) -> int:
    """Bytes the plan may use: ``DEVICE_MEMORY_FRACTION`` of the free memory of a CUDA device, or of
    the host's available memory on the CPU."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * DEVICE_MEMORY_FRACTION)
    return int(_available_host_memory() * DEVICE_MEMORY_FRACTION)


def _available_host_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Group:
    """Models (positions in the job's model list) that stream together, and their estimated need."""

    members: tuple[int, ...]
    bytes: int


def plan_groups(needs: Sequence[MemoryNeed], budget: int) -> list[Group]:
    """Greedy, in order: a model joins the current group while the group still fits ``budget``; a
    model that does not fit even alone gets a group of its own (and may run out of memory)."""
    groups: list[Group] = []
    members: list[int] = []
    resident = transient = 0

    def close() -> None:
        if members:
            groups.append(Group(tuple(members), resident + transient))

    for position, need in enumerate(needs):
        if members and resident + need.resident + max(transient, need.transient) > budget:
            close()
            members, resident, transient = [], 0, 0
        members.append(position)
        resident += need.resident
        transient = max(transient, need.transient)
    close()
    return groups


def describe_plan(groups: Sequence[Group], names: Sequence[str], budget: int, device: torch.device) -> str:
    """The plan as printed before the stream starts."""
    lines = [
        f"plan: {len(names)} model(s) in {len(groups)} group(s) on {device} "
        f"(budget {budget / _GIB:.1f} GiB); the images are decoded once per group"
    ]
    for number, group in enumerate(groups, 1):
        models = ", ".join(names[position] for position in group.members)
        lines.append(f"  group {number}: {len(group.members)} model(s), ≈ {group.bytes / _GIB:.2f} GiB: {models}")
    return "\n".join(lines)
