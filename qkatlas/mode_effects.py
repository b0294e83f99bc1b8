"""Attention moved by each mode over a whole dataset (docs/method.md#attention-moved-by-a-mode).

For an image, layer ``ℓ``, head ``h`` and mode ``n`` (exact basis): ``A = softmax_j(L)`` is the head's
real attention of the patch queries ``i`` over every key ``j`` (prefix tokens first, then patches),
with the logits ``L`` computed from the head's own weights, and ``A⁻ⁿ = softmax_j(L − δ_n)`` the same
with mode ``n``'s logits ``δ_n[i, j] = σ_n P_U[i, n] P_V[j, n] / √d_h`` removed. The mode's effect is
``mean_i ½ Σ_j |A_ij − A⁻ⁿ_ij|`` ∈ [0, 1]: 0 when removing it changes nothing, 1 when the attention
moves entirely. It is one number per (layer, head, mode): removing the mode removes both signs.

``EffectKernel`` computes it for every mode of a layer from the block's LayerNorm output (float32,
whatever precision the forward pass ran in); ``RunningEffects`` keeps, per mode, what the scores keep
(count, mean, std, extremes, a histogram with calibrated bins: the same ``RunningDistribution``) and the
images with the largest effect (a ``RunningTopK`` without payload). All of it is a sum, an extreme or a
top-K, so shards and sessions merge exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.mode_statistics import BINNING_RULE, HistogramBins, RunningDistribution
from qkatlas.models.base import ViTAdapter
from qkatlas.svd import Decomposition
from qkatlas.topk import RunningTopK

#: Images with the largest effect kept per mode.
EFFECT_TOP_K = 8
#: Elements of the ``[modes, B, P, N]`` float32 tensor of one chunk of modes, by device type; bounds the
#: memory. On a CPU a chunk that stays in cache (2 MiB) is several times faster than a large one; on a GPU a
#: large one (256 MiB) keeps the number of kernel launches down.
CHUNK_ELEMENTS = {"cpu": 1 << 19, "cuda": 1 << 26}


def default_chunk(device: torch.device) -> int:
    """The elements of one chunk on ``device`` (``CHUNK_ELEMENTS``; a CPU's for any other device type)."""
    return CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS["cpu"])


EFFECT_DEFINITION = (
    "attention moved by a mode on an image: with A the head's real attention of each patch query over every "
    "key (prefix tokens and patches; logits from the head's own weights on the block's LayerNorm output) and "
    "A⁻ⁿ the attention recomputed with the mode's logits σ_n·P_U[i]·P_V[j]/√d_h removed (every other term kept, "
    "the key-only term included), the mean over the patch queries of the total-variation distance "
    "½·Σ_j |A_ij − A⁻ⁿ_ij|, in [0, 1] (0: nothing moves, 1: all attention moves); exact basis, float32; one "
    "value per mode (removing a mode removes both signs)"
)

EFFECT_BINNING_RULE = (
    f"each mode's effects binned by the scores' rule, lo and hi taken from its effects on the same calibration "
    f"sample: {BINNING_RULE}"
)


class EffectKernel:
    """Every mode's effect on a batch, layer by layer, on the adapter's device in float32.

    Resident: each layer's ``W_q, W_k [H, d_h, d]``, ``b_q, b_k [H, d_h]``, ``u, v [H·M, d]``, σ and the
    query offset ``[H·M]``.
    """

    def __init__(self, adapter: ViTAdapter, dec: Decomposition, chunk_elements: int | None = None) -> None:
        spec = adapter.spec
        device = adapter.device
        self.n_prefix, self.n_heads, self.n_modes = spec.n_prefix, spec.n_heads, spec.d_head
        self.n_layers = spec.n_layers
        self.scale = 1.0 / math.sqrt(spec.d_head)
        self.chunk_elements = default_chunk(device) if chunk_elements is None else chunk_elements
        weights = adapter.weights()

        def stacked(name: str) -> torch.Tensor:
            return torch.stack([getattr(w, name) for w in weights]).to(device, torch.float32)

        self.w_q, self.w_k = stacked("w_q"), stacked("w_k")  # [L, H, d_h, d]
        self.b_q, self.b_k = stacked("b_q"), stacked("b_k")  # [L, H, d_h]
        n_layers, n_heads, n_modes, d_model = dec.shape
        columns = n_heads * n_modes

        def flat(values: np.ndarray, *shape: int) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(values)).reshape(n_layers, *shape).to(device, torch.float32)

        self.u, self.v = flat(dec.U, columns, d_model), flat(dec.V, columns, d_model)  # [L, H·M, d]
        self.sigma = flat(dec.sigma, n_heads, n_modes)  # [L, H, M]
        self.query_offset = flat(dec.query_offset, columns)  # [L, H·M]
        # Each head's active modes, on the device once (inactive modes, σ = 0, move nothing: never computed).
        self.active_modes = [
            [torch.from_numpy(np.flatnonzero(active)).to(device) for active in layer] for layer in dec.active
        ]

    @property
    def n_columns(self) -> int:
        """Modes of the model, ``L·H·M``, column ``(ℓ·H + h)·M + n``."""
        return self.n_layers * self.n_heads * self.n_modes

    def layer_effects(self, layer: int, normed: torch.Tensor) -> torch.Tensor:
        """``normed [B, N, d]``: the block's LayerNorm output, every token (prefix first) → each mode's
        effect ``[B, H·M]`` float32, column ``h·M + n``."""
        x = normed.float()
        patches = x[:, self.n_prefix :]  # [B, P, d]: the queries
        queries = torch.einsum("bpd,hed->bhpe", patches, self.w_q[layer]) + self.b_q[layer][:, None]
        keys = torch.einsum("bnd,hed->bhne", x, self.w_k[layer]) + self.b_k[layer][:, None]
        logits = (queries @ keys.transpose(-1, -2)) * self.scale  # [B, H, P, N]
        attention = torch.softmax(logits, dim=-1)
        query_maps = patches @ self.u[layer].T + self.query_offset[layer]  # [B, P, H·M] (P_U)
        key_maps = x @ self.v[layer].T  # [B, N, H·M] (P_V over every key)
        n_images, n_patches, n_keys = logits.shape[0], logits.shape[2], logits.shape[3]
        effects = torch.zeros((n_images, self.n_heads * self.n_modes), dtype=torch.float32, device=x.device)
        per_image = n_patches * n_keys
        block = max(1, min(n_images, self.chunk_elements // per_image))  # images per chunk
        chunk = max(1, self.chunk_elements // (block * per_image))  # modes per chunk
        for head in range(self.n_heads):
            modes = self.active_modes[layer][head]
            for start in range(0, len(modes), chunk):
                picked = modes[start : start + chunk]
                columns = head * self.n_modes + picked
                weight = self.sigma[layer, head, picked] * self.scale  # [c]
                query_side = query_maps[:, :, columns].permute(2, 0, 1) * weight[:, None, None]  # [c, B, P]
                key_side = key_maps[:, :, columns].permute(2, 0, 1)  # [c, B, N]
                for first in range(0, n_images, block):
                    rows = slice(first, first + block)
                    removed = torch.sub(
                        logits[rows, head], query_side[:, rows].unsqueeze(-1) * key_side[:, rows].unsqueeze(-2)
                    )
                    moved = torch.softmax(removed, dim=-1).sub_(attention[rows, head]).abs_()  # [c, b, P, N]
                    effects[rows, columns] = (moved.sum(dim=-1).mean(dim=-1) * 0.5).T
        return effects


@dataclass(frozen=True)
class EffectsSummary:
    """The finished effects (numpy, on the host), one entry per mode column ``(ℓ·H + h)·M + n``:
    ``count [C]`` int64; ``mean, std [C]`` float64 (NaN where ``count`` is 0); ``minimum, maximum [C]``
    float32; ``low, width [C]`` float64 (the bins); ``histogram [C, N_BINS + 2]`` int64 (underflow, bins,
    overflow); ``top_indices [C, K]`` int64 (−1: none) and ``top_values [C, K]`` float32, largest first,
    ties by lower index."""

    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    low: np.ndarray
    width: np.ndarray
    histogram: np.ndarray
    top_indices: np.ndarray
    top_values: np.ndarray


class RunningEffects:
    """Every mode's effect over the images seen so far, on the compute device: its ``distribution``
    (count, shifted sums, extremes and histogram, as the scores keep theirs: ``RunningDistribution``) and
    the images with the largest effect (no host synchronization unless the top-K is ``compact``, as on the
    CPU)."""

    #: The top-K's tensors go under this prefix in the state (the distribution's keep their names).
    TOP_PREFIX = "top_"

    def __init__(self, bins: HistogramBins, device: torch.device | str, top_k: int = EFFECT_TOP_K) -> None:
        self.distribution = RunningDistribution(bins, device)
        self.top = RunningTopK(self.distribution.n_columns, top_k, device)

    @property
    def bins(self) -> HistogramBins:
        return self.distribution.bins

    @property
    def n_columns(self) -> int:
        return self.distribution.n_columns

    def update(self, effects: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """Add one batch: ``effects [B, C]`` float32, ``indices [B]`` the images' dataset indices. Returns
        ``[B]`` bool: the rows that entered some mode's top images (whose thumbnails the atlas needs)."""
        self.distribution.add(slice(None), effects)
        return self.top.update(effects, indices.to(effects.device))

    def merge(self, other: RunningEffects) -> None:
        """Add another shard's or session's (same bins)."""
        self.distribution.merge(other.distribution)
        self.top.merge(other.top)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the state on the host (the stream can go on while it is saved)."""
        state = self.distribution.state_dict()
        return state | {self.TOP_PREFIX + name: tensor for name, tensor in self.top.state_dict().items()}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: torch.device | str) -> RunningEffects:
        distribution = RunningDistribution.from_state_dict(state, device)
        top_k = int(state[cls.TOP_PREFIX + "scores"].shape[1])
        effects = cls(distribution.bins, device, top_k)
        effects.distribution = distribution
        effects.top.load_state_dict(
            {name.removeprefix(cls.TOP_PREFIX): t for name, t in state.items() if name.startswith(cls.TOP_PREFIX)}
        )
        return effects

    def summary(self) -> EffectsSummary:
        """The effects as they stand (copied to the host)."""
        distribution = self.distribution
        count, mean, std = distribution.moments()
        values, indices, _ = self.top.ranked()
        minimum, maximum = distribution.minimum.cpu().numpy(), distribution.maximum.cpu().numpy()
        return EffectsSummary(
            count=count,
            mean=np.clip(mean, minimum, maximum),  # rounding of the shifted sums kept in range
            std=std,
            minimum=minimum,
            maximum=maximum,
            low=distribution.bins.low.cpu().numpy(),
            width=distribution.bins.width.cpu().numpy(),
            histogram=distribution.histogram.cpu().numpy(),
            top_indices=indices.cpu().numpy(),
            top_values=values.cpu().numpy(),
        )
