"""The scoring kernel: capture → every mode's maps in each basis → score both signs.

One implementation, used by the precompute stream (``TopKScorer``: merge every batch into a running
top-K) and by the analysis of one uploaded image (``qkatlas.analysis``). For block ``ℓ`` the faithful
basis projects the residual onto the ``U`` and ``V`` of all heads stacked into one ``[d, 2·H·M]``
matrix (one matmul); the exact basis turns the model's own queries and keys into the same maps with
one ``[d_h, M]`` matrix per head and side (docs/method.md#exact-basis-from-the-models-queries-and-keys).
Maps: docs/method.md#maps; the score: docs/method.md#ranking-rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.columns import ColumnLayout
from qkatlas.conventions import Basis
from qkatlas.device import autocast, compute_dtype
from qkatlas.mode_effects import EffectKernel, RunningEffects
from qkatlas.mode_statistics import RunningStatistics
from qkatlas.models.base import BlockCapture, LayerWeights, ViTAdapter
from qkatlas.svd import Decomposition
from qkatlas.topk import RunningTopK

#: Heads whose ``W_q`` or ``W_k`` has a condition number above this keep the direct projection in the
#: exact basis: the path from the model's own q/k multiplies their rounding by up to that number
#: (docs/method.md#exact-basis-from-the-models-queries-and-keys).
QK_PATH_COND_LIMIT = 1e3


def _from_projection(weight: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head, the matrix ``A [d_h, M]`` with ``(W x)·A_n = directions_n · x`` for every ``x``, and the
    condition number of ``W``: ``weight [H, d_h, d]`` (``W`` of each head), ``directions [H, M, d]``
    (in the row space of ``W``), float64 → ``(A [H, d_h, M], cond [H])``. ``A = (Wᵀ)⁺ · directionsᵀ``,
    i.e. ``R⁻¹ u'`` of the factored SVD (docs/method.md#factored-svd)."""
    solution = torch.linalg.lstsq(weight.transpose(1, 2), directions.transpose(1, 2)).solution
    singular = torch.linalg.svdvals(weight)  # [H, d_h], descending
    smallest = singular[:, -1]
    cond = torch.where(smallest > 0, singular[:, 0] / smallest.clamp_min(1e-300), torch.inf)
    return solution, cond


class ModeProjector:
    """Every mode's ``u`` and ``v`` of every layer, resident on ``device`` in ``dtype``, and what turns the
    model's own queries and keys into exact-basis maps.

    ``faithful`` projects the residual entering the block; ``exact`` maps are ``u_n · (x + c)`` and
    ``v_n · x`` of the LayerNorm output ``x`` (``c = W_q⁺ b_q``), so that
    ``Σ_n σ_n P_U[i,n] P_V[j,n] = √d_h · logit_ij + (terms constant in j)``. They are taken from the
    model's queries and keys, ``u_n·(x + c) = q·(R_a⁻¹u'_n)`` and ``v_n·x = (k − b_k)·(R_b⁻¹v'_n)``
    (``d·d_h`` multiply-adds per token and side instead of ``d²``), except in heads whose ``W_q`` or
    ``W_k`` is singular or has a condition number above ``cond_limit``, which project ``x`` directly
    (``cond_limit=0``: every head, what the benchmarks compare the route through q/k against).
    """

    def __init__(
        self,
        dec: Decomposition,
        weights: Sequence[LayerWeights],
        device: torch.device | str,
        dtype: torch.dtype,
        cond_limit: float = QK_PATH_COND_LIMIT,
    ) -> None:
        n_layers, n_heads, n_modes, d_model = dec.shape
        self.n_layers, self.n_heads, self.n_modes = n_layers, n_heads, n_modes
        self.n_columns = n_heads * n_modes
        stacked = np.concatenate(
            [
                dec.U.reshape(n_layers, self.n_columns, d_model),
                dec.V.reshape(n_layers, self.n_columns, d_model),
            ],
            axis=1,
        )  # [L, 2D, d]
        self.weights = torch.from_numpy(stacked).to(device, dtype)  # [L, 2D, d]
        query_offset = torch.tensor(dec.query_offset, dtype=torch.float64)  # [L, H, M], a copy: edited below
        from_query, from_key, key_offset, direct = [], [], [], []
        for layer, layer_weights in enumerate(weights):
            a_query, cond_query = _from_projection(layer_weights.w_q, torch.from_numpy(dec.U[layer]).double())
            a_key, cond_key = _from_projection(layer_weights.w_k, torch.from_numpy(dec.V[layer]).double())
            direct_heads = (cond_query > cond_limit) | (cond_key > cond_limit)  # [H]
            keep = (~direct_heads).double()
            from_query.append(a_query * keep[:, None, None])
            from_key.append(a_key * keep[:, None, None])
            # The key side subtracts b_k: a constant per mode, added to the extremes like the query offset.
            key_offset.append(-torch.einsum("he,hem->hm", layer_weights.b_k, a_key) * keep[:, None])
            query_offset[layer] *= direct_heads.double()[:, None]  # the path from q already includes u_n·c
            direct.append(direct_heads.nonzero().flatten().tolist())
        # Stored transposed, ``[L, H, M, d_h]``: the maps come out of one product per side with the tokens
        # as the innermost (contiguous) axis.
        self.from_query = torch.stack(from_query).transpose(2, 3).contiguous().to(device, dtype)
        self.from_key = torch.stack(from_key).transpose(2, 3).contiguous().to(device, dtype)
        #: ``[L, H, M]`` float32: what the exact basis adds to every query / key map value beyond the projection
        #: (``u_n·c`` for directly projected heads, ``−b_k·R_b⁻¹v'_n`` on the key side of the others).
        self.exact_query_offset = query_offset.to(device, torch.float32)
        self.exact_key_offset = torch.stack(key_offset).to(device, torch.float32)
        #: Per layer, the heads the exact basis projects directly (singular or ill-conditioned ``W_q``/``W_k``).
        self.direct_heads: list[list[int]] = direct

    def qk_route_summary(self) -> str:
        """In words, how many heads take the exact basis from the model's queries and keys."""
        n_heads = self.n_layers * self.n_heads
        direct = sum(len(heads) for heads in self.direct_heads)
        summary = f"from the model's queries and keys in {n_heads - direct} of {n_heads} heads"
        if direct:
            summary += f"; {direct} projected directly (singular or ill-conditioned W_q or W_k)"
        return summary

    def project_direct(
        self, layer: int, tokens: torch.Tensor, out: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``tokens [B, N, d]`` → ``(X·u, X·v)``, each ``[B, N, H, M]`` in the projector's dtype: what the
        faithful basis shows of the residual. Both are views of one ``[2D, d] × [d, B·N]`` product, laid
        out ``[H, M, B, N]`` in memory (``_maps_view``), written into ``out`` when given (``maps_buffer``)."""
        n_images, n_tokens, width = tokens.shape
        flat = tokens.to(self.weights.dtype).reshape(-1, width).T  # [d, B·N]
        projected = torch.mm(self.weights[layer], flat, out=None if out is None else out.view(-1, flat.shape[1]))
        query, key = projected.view(2, self.n_heads, self.n_modes, n_images, n_tokens).unbind(0)
        return _maps_view(query), _maps_view(key)

    def project_exact(
        self,
        layer: int,
        normed: torch.Tensor,
        query: torch.Tensor,
        key: torch.Tensor,
        out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact basis's maps without the offsets ``exact_query_offset`` / ``exact_key_offset`` (better
        added to what is taken from the maps): ``normed [B, N, d]``, the model's ``query, key [B, N, H, d_h]``
        of the same tokens → ``[B, N, H, M]`` each, in the projector's dtype, laid out ``[H, M, B, N]``
        in memory (``_maps_view``), written into ``out`` when given (``maps_buffer``)."""
        query_out, key_out = (None, None) if out is None else out.unbind(0)
        query_maps = self._from_heads(self.from_query[layer], query, query_out)
        key_maps = self._from_heads(self.from_key[layer], key, key_out)
        direct = self.direct_heads[layer]
        if direct:
            direct_query, direct_key = self.project_direct(layer, normed)
            query_maps[:, :, direct] = direct_query[:, :, direct]
            key_maps[:, :, direct] = direct_key[:, :, direct]
        return query_maps, key_maps

    def maps_buffer(self, n_images: int, n_tokens: int) -> torch.Tensor:
        """A buffer that ``project_direct`` and ``project_exact`` can write one layer's maps of ``n_images``
        images of ``n_tokens`` tokens into: ``[2, H, M, B, N]`` (query side first)."""
        shape = (2, self.n_heads, self.n_modes, n_images, n_tokens)
        return torch.empty(shape, dtype=self.weights.dtype, device=self.weights.device)

    def _from_heads(self, matrices: torch.Tensor, heads: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """``matrices [H, M, d_h]`` (one per head), ``heads [B, N, H, d_h]`` (the model's queries or keys,
        usually a view of its projection's output) → ``[B, N, H, M]`` (into ``out [H, M, B, N]`` when
        given): one batched product over ``[d_h, B·N]`` views of the heads, which need no copy when ``B``
        and ``N`` are contiguous in them."""
        n_images, n_tokens, n_heads, width = heads.shape
        per_head = heads.to(matrices.dtype).permute(2, 3, 0, 1).reshape(n_heads, width, n_images * n_tokens)
        maps = torch.bmm(matrices, per_head, out=None if out is None else out.view(n_heads, self.n_modes, -1))
        return _maps_view(maps.view(n_heads, self.n_modes, n_images, n_tokens))


def _maps_view(maps: torch.Tensor) -> torch.Tensor:
    """``maps [H, M, B, N]`` → the ``[B, N, H, M]`` view every consumer indexes. The tokens stay the
    innermost axis in memory: the extremes reduce along contiguous rows, and a winner's map is one
    contiguous row to copy (on the CPU, reducing and gathering across ``H·M``-strided tokens cost
    more than the products that make the maps)."""
    return maps.permute(2, 3, 0, 1)


def _token_rows(maps: torch.Tensor) -> torch.Tensor | None:
    """``maps [B, P, H, M]`` laid out ``[H, M, B, ·]`` with the tokens contiguous (``_maps_view``, patch
    tokens sliced or not) → the ``[H·M·B, P]`` view whose row ``(h·M + m)·B + b`` is one map; None for
    any other layout."""
    n_images, n_tokens, n_heads, n_modes = maps.shape
    image_stride, token_stride, head_stride, mode_stride = maps.stride()
    if token_stride != 1 or mode_stride != n_images * image_stride or head_stride != n_modes * mode_stride:
        return None
    rows = (n_heads * n_modes * n_images, n_tokens)
    return maps.as_strided(rows, (image_stride, 1), maps.storage_offset())


def _extremes(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``maps [B, P, ...]`` → the minimum and maximum over ``P``, ``[B, ...]`` float32.

    The reduction sees the other axes in the order they have in memory: on the CPU its threads split
    the work by that order, and ``[H, M, B]`` maps reduced as ``[B, H, M]`` ran a third slower. One
    fused pass on a GPU; on the CPU ``aminmax`` ran three times slower than ``amin`` and ``amax`` apart."""
    strides = maps.stride()
    others = sorted((axis for axis in range(maps.dim()) if axis != 1), key=lambda axis: -strides[axis])
    ordered = maps.permute(*others, 1)
    back = [others.index(axis) for axis in range(maps.dim()) if axis != 1]
    if maps.device.type == "cpu":
        low, high = ordered.amin(dim=-1), ordered.amax(dim=-1)
    else:
        low, high = ordered.aminmax(dim=-1)
    return low.permute(*back).float(), high.permute(*back).float()


def signed_scores(
    query: torch.Tensor,
    key: torch.Tensor,
    query_offset: torch.Tensor | None = None,
    key_offset: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's attention score of each mode, for both signs (docs/method.md#ranking-rule), and
    whether the mode fires.

    ``query, key: [B, P, H, M]`` over patch tokens only (any float dtype, any strides; ``query_offset``,
    ``key_offset [H, M]``, when given, are added to every query / key value) → ``(scores, firing)``,
    each ``[B, H, M, 2]``: ``scores`` float32, ``pos = max P_U · max P_V``, ``neg = min P_U · min P_V``
    (the ``pos`` rule applied to the mode ``(−u, −v)``); ``firing`` bool, both of the signed mode's
    peaks are positive (so the score is not the quirk's product of two negative maxima). The offsets
    are added to the extremes rather than to every value: rounding is monotonic, so the result is the
    same.
    """
    q_min, q_max = _extremes(query)
    k_min, k_max = _extremes(key)
    if query_offset is not None:
        q_min, q_max = q_min + query_offset, q_max + query_offset
    if key_offset is not None:
        k_min, k_max = k_min + key_offset, k_max + key_offset
    scores = torch.stack([q_max * k_max, q_min * k_min], dim=-1)
    firing = torch.stack([(q_max > 0) & (k_max > 0), (q_min < 0) & (k_min < 0)], dim=-1)
    return scores, firing


@dataclass(frozen=True)
class ProjectedLayer:
    """One block of a batch projected in one basis, over its ``P`` patch tokens. Maps are those of the
    ``pos`` mode (the ``neg`` maps are their negatives), mode ``n`` of head ``h`` at ``[..., h, n]``.

    ``normed [B, P, d]``: the block's LayerNorm output; ``query, key [B, P, H, M]`` in the kernel's
    dtype (any strides): the maps without their offsets; ``P_U = query + query_offset``,
    ``P_V = key + key_offset`` (``[H, M]`` float32 in the exact basis, else None); ``scores [B, H, M, 2]``
    float32: (pos, neg); ``firing [B, H, M, 2]`` bool (``signed_scores``).
    """

    layer: int
    basis: Basis
    normed: torch.Tensor
    query: torch.Tensor
    key: torch.Tensor
    query_offset: torch.Tensor | None
    key_offset: torch.Tensor | None
    scores: torch.Tensor
    firing: torch.Tensor

    def query_maps(self) -> torch.Tensor:
        """``P_U [B, P, H, M]`` float32."""
        maps = self.query.float()
        return maps if self.query_offset is None else maps + self.query_offset

    def key_maps(self) -> torch.Tensor:
        """``P_V [B, P, H, M]`` float32."""
        maps = self.key.float()
        return maps if self.key_offset is None else maps + self.key_offset

    def write_maps(
        self, out: torch.Tensor, rows: torch.Tensor, heads: torch.Tensor, modes: torch.Tensor, flip: torch.Tensor
    ) -> None:
        """Write into ``out [n, 2, P]`` (any float dtype) the query and key maps of batch rows ``rows [n]``
        for the modes ``(heads [n], modes [n])``, offsets included, times ``flip [n]`` (±1: the ``neg``
        maps are the negated ``pos`` maps)."""
        flip = flip.unsqueeze(1)
        for side, maps, offset in ((0, self.query, self.query_offset), (1, self.key, self.key_offset)):
            as_rows = _token_rows(maps)
            if as_rows is None:
                gathered = maps.permute(0, 2, 3, 1)[rows, heads, modes].float()  # [n, P], a new tensor
            else:  # whole rows of the kernel's layout: a third faster to copy than by advanced indexing
                n_images, _, _, n_modes = maps.shape
                gathered = as_rows.index_select(0, (heads * n_modes + modes) * n_images + rows).float()
            if offset is not None:
                gathered.add_(offset[heads, modes].unsqueeze(1))
            # In place, then one plain copy: a mixed-dtype op writing the strided half of ``out`` ran
            # ten times slower than the copy on the CPU.
            out[:, side].copy_(gathered.mul_(flip))


OnProjected = Callable[[ProjectedLayer], None]
#: ``(layer, normed [B, N, d])``: a block's LayerNorm output, every token (prefix tokens first).
OnNormed = Callable[[int, torch.Tensor], None]


class ModeKernel:
    """Runs uint8 images through the model and hands every (layer, basis) projection to a consumer.

    ``dtype`` is the projection precision; the model runs under autocast to it when it is reduced
    (default: ``compute_dtype`` of the adapter's device, i.e. bfloat16 on CUDA, float32 on the CPU).
    ``qk_cond_limit``: which heads take the exact basis from the model's queries and keys (``ModeProjector``).
    """

    def __init__(
        self,
        adapter: ViTAdapter,
        dec: Decomposition,
        bases: tuple[Basis, ...],
        dtype: torch.dtype | None = None,
        qk_cond_limit: float = QK_PATH_COND_LIMIT,
    ) -> None:
        self.adapter = adapter
        self.bases = bases
        self.device = adapter.device
        self.dtype = compute_dtype(self.device) if dtype is None else dtype
        self.projector = ModeProjector(dec, adapter.weights(), self.device, self.dtype, qk_cond_limit)

    def run(
        self,
        images: torch.Tensor,
        on_projected: OnProjected,
        on_normed: OnNormed | None = None,
        hold_maps: bool = False,
    ) -> None:
        """Forward uint8 ``images [B, 3, S, S]`` (as the model sees them); call ``on_projected`` for
        every layer, in order, and within a layer for every basis of ``bases``, in order; before that,
        ``on_normed`` (when given) with the layer and its LayerNorm output, every token.

        The maps ``on_projected`` receives are overwritten by the next layer's unless ``hold_maps``: a
        consumer that keeps them past its call must ask to hold them."""
        n_prefix = self.adapter.spec.n_prefix
        projector = self.projector
        # Where the maps go: fresh tensors when the consumer holds them, else one buffer per basis that
        # every layer reuses (on the CPU a fresh one per layer paid the operating system's page faults).
        buffers: dict[Basis, torch.Tensor] = {}

        def buffer(basis: Basis, tokens: torch.Tensor) -> torch.Tensor | None:
            if hold_maps:
                return None
            if basis not in buffers:
                buffers[basis] = projector.maps_buffer(tokens.shape[0], tokens.shape[1])
            return buffers[basis]

        def on_block(layer: int, capture: BlockCapture) -> None:
            if on_normed is not None:
                on_normed(layer, capture.normed)
            normed = capture.normed[:, n_prefix:]
            for basis in self.bases:
                # Every token is projected and the patch tokens sliced from the maps: slicing them from the
                # inputs first would copy the inputs.
                out = buffer(basis, capture.normed)
                if basis == Basis.faithful:  # one matmul covers every head
                    query, key = projector.project_direct(layer, capture.residual, out)
                    query_offset = key_offset = None
                else:
                    query, key = projector.project_exact(layer, capture.normed, capture.query, capture.key, out)
                    query_offset = projector.exact_query_offset[layer]
                    key_offset = projector.exact_key_offset[layer]
                query, key = query[:, n_prefix:], key[:, n_prefix:]
                scores, firing = signed_scores(query, key, query_offset, key_offset)
                on_projected(ProjectedLayer(layer, basis, normed, query, key, query_offset, key_offset, scores, firing))

        pixels = self.adapter.normalize(images.to(self.device, non_blocking=True))
        with autocast(self.device, self.dtype):
            self.adapter.run_capturing_blocks(pixels, on_block)


class TopKScorer:
    """Merges every signed mode's score of every batch into a running top-K (the precompute stream),
    and optionally into running per-mode statistics (``qkatlas.mode_statistics``).

    Both have one column per ``(basis, layer, head, mode, sign)``, laid out by ``layout``. The top-K
    carries each winner's query and key maps (float16, ``[2, P]`` per slot), taken from the same
    projections that scored it, so no second pass over the winners is needed.

    With ``effects`` (``qkatlas.mode_effects``) the same forward pass also measures the attention every
    mode moves, one column per ``(layer, head, mode)``.
    """

    def __init__(self, kernel: ModeKernel, effects: EffectKernel | None = None) -> None:
        self.kernel = kernel
        self.effects = effects
        projector = kernel.projector
        self.layout = ColumnLayout(len(kernel.bases), projector.n_layers, projector.n_heads, projector.n_modes)
        self._signs = torch.tensor([1.0, -1.0], device=kernel.device)
        self._held_candidates: _Candidates | None = None

    @property
    def n_columns(self) -> int:
        return self.layout.n_columns

    def _block(self, projected: ProjectedLayer) -> slice:
        """The columns of ``projected``'s (basis, layer)."""
        return self.layout.block(self.kernel.bases.index(projected.basis), projected.layer)

    def new_top_k(self, k: int, compact: bool | None = None) -> RunningTopK:
        """An empty top-K for this scorer's columns; ``compact``: see ``RunningTopK`` (default: by device)."""
        spec = self.kernel.adapter.spec
        return RunningTopK(self.n_columns, k, self.kernel.device, payload_shape=(2, spec.n_patches), compact=compact)

    @torch.inference_mode()
    def scores(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every column's score of uint8 ``images [B, 3, S, S]``: ``(scores [B, C] float32, firing [B, C]
        bool)`` (what the statistics' calibration sample needs)."""
        scores, firing = self._buffers(len(images))

        def keep(projected: ProjectedLayer) -> None:
            self._store(projected, scores, firing)

        self.kernel.run(images, keep)
        return scores, firing

    @torch.inference_mode()
    def calibration_sample(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Every column's score of uint8 ``images [B, 3, S, S]`` (``[B, C]`` float32) and, when this
        scorer measures effects, every mode's effect (``[B, L·H·M]`` float32): what the calibration of
        the histogram bins needs, from one forward pass."""
        scores, firing = self._buffers(len(images))
        effects = self._effect_buffer(len(images))

        def keep(projected: ProjectedLayer) -> None:
            self._store(projected, scores, firing)

        self.kernel.run(images, keep, self._measure(effects))
        return scores, effects

    def _effect_buffer(self, n_images: int) -> torch.Tensor | None:
        if self.effects is None:
            return None
        return torch.empty((n_images, self.effects.n_columns), dtype=torch.float32, device=self.kernel.device)

    def _measure(self, effects: torch.Tensor | None) -> OnNormed | None:
        """The consumer that writes each layer's effects into ``effects [B, L·H·M]`` (None without)."""
        kernel = self.effects
        if kernel is None or effects is None:
            return None
        per_layer = kernel.n_heads * kernel.n_modes

        def measure(layer: int, normed: torch.Tensor) -> None:
            effects[:, layer * per_layer : (layer + 1) * per_layer] = kernel.layer_effects(layer, normed)

        return measure

    def _buffers(self, n_images: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.kernel.device
        return (
            torch.empty((n_images, self.n_columns), dtype=torch.float32, device=device),
            torch.empty((n_images, self.n_columns), dtype=torch.bool, device=device),
        )

    def _store(self, projected: ProjectedLayer, scores: torch.Tensor, firing: torch.Tensor) -> None:
        block = self._block(projected)
        scores[:, block] = projected.scores.flatten(1)
        firing[:, block] = projected.firing.flatten(1)

    def _candidates(self, topk: RunningTopK, batch_size: int) -> _Candidates:
        """The compact merges' buffers for batches of ``batch_size`` (kept while they fit)."""
        payload = topk.payload
        if payload is None:
            raise ValueError("the scorer's top-K carries each winner's maps: make it with new_top_k")
        entry_bytes = payload[0, 0].nbytes
        capacity = candidate_capacity(self.layout.block_size, batch_size, entry_bytes)
        held = self._held_candidates
        if held is None or held.capacity < capacity or held.maps.dtype != payload.dtype:
            held = _Candidates(capacity, tuple(payload.shape[2:]), payload.dtype, payload.device)
            self._held_candidates = held
        held.count = 0  # nothing carries over from a batch that raised before merging
        return held

    def _window_layers(self, batch_size: int) -> int:
        """How many layers' maps one merge takes (``merge_window_layers``)."""
        kernel = self.kernel
        spec = kernel.adapter.spec
        return merge_window_layers(
            spec.n_layers,
            spec.n_patches,
            self.layout.n_heads * self.layout.n_modes,
            len(kernel.bases),
            batch_size,
            kernel.dtype,
            kernel.device,
        )

    @torch.inference_mode()
    def score(
        self,
        images: torch.Tensor,
        indices: torch.Tensor,
        topk: RunningTopK,
        statistics: RunningStatistics | None = None,
        classes: torch.Tensor | None = None,
        effects: RunningEffects | None = None,
    ) -> torch.Tensor:
        """Score uint8 ``images [B, 3, S, S]`` (dataset ``indices [B]``) into ``topk``, into
        ``statistics`` when given (``classes [B]``: each image's class id, −1 for none; default none),
        and measure every mode's effect into ``effects`` when given (the scorer needs its ``EffectKernel``).

        A fixed-shape top-K (a GPU's) merges a window of consecutive layers of one basis at once
        (``merge_window_layers``): a few large merges per batch rather than one per layer and basis, whose
        many small operations would bound a small model by their launches. A compact one (the CPU's)
        collects each layer's reaching entries and merges them once per batch (``_Candidates``).

        Returns a bool mask ``[B]``, on the device, of the batch rows that entered some top-K, some
        distribution sample or some mode's top effects (whose thumbnails the atlas needs). Nothing here
        waits for the device unless ``topk.compact``: the caller fetches the mask once per batch.
        """
        device = self.kernel.device
        indices = indices.to(device, non_blocking=True)
        entered = torch.zeros(len(indices), dtype=torch.bool, device=device)
        # The statistics take all columns of the batch at once: a few large operations, not a few per layer.
        buffers = self._buffers(len(indices)) if statistics is not None else None
        if effects is not None and self.effects is None:
            raise ValueError("this scorer measures no effects: give it an EffectKernel")
        moved = self._effect_buffer(len(indices)) if effects is not None else None
        if topk.compact:
            candidates = self._candidates(topk, len(indices))

            def merge(projected: ProjectedLayer) -> None:
                if buffers is not None:
                    self._store(projected, *buffers)
                candidates.add(self, projected, topk, indices, entered)

            self.kernel.run(images, merge, self._measure(moved))
            candidates.merge(topk, indices, entered)
        else:
            merges = self._windowed_merges(indices, topk, entered, buffers)
            self.kernel.run(images, merges, self._measure(moved), hold_maps=True)
        if effects is not None and moved is not None:
            entered |= effects.update(moved, indices)
        if statistics is not None and buffers is not None:
            if classes is None:
                classes = torch.full((len(indices),), -1, dtype=torch.int64, device=device)
            entered |= statistics.update(*buffers, classes.to(device, non_blocking=True), indices)
        return entered

    def _windowed_merges(
        self,
        indices: torch.Tensor,
        topk: RunningTopK,
        entered: torch.Tensor,
        buffers: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> OnProjected:
        """The fixed-shape merges' consumer: each window of consecutive layers of a basis merges at once,
        marking the batch rows that enter in ``entered``."""
        window_layers = self._window_layers(len(indices))
        windows: dict[Basis, list[ProjectedLayer]] = {basis: [] for basis in self.kernel.bases}
        last_layer = self.layout.n_layers - 1

        def merge(projected: ProjectedLayer) -> None:
            if buffers is not None:
                self._store(projected, *buffers)
            window = windows[projected.basis]
            window.append(projected)
            if len(window) == window_layers or projected.layer == last_layer:
                entered.logical_or_(self._merge_window(window, indices, topk))
                window.clear()

        return merge

    def _merge_window(self, window: list[ProjectedLayer], indices: torch.Tensor, topk: RunningTopK) -> torch.Tensor:
        """Merge consecutive layers of one basis (``window``) into ``topk`` with one update; the mask of
        the batch rows that entered some top-K."""
        first = self._block(window[0])
        per_layer = first.stop - first.start
        columns = slice(first.start, first.start + per_layer * len(window))
        n_modes, k, payload = self.layout.n_modes, topk.k, topk.payload
        if payload is None:
            raise ValueError("the scorer's top-K carries each winner's maps: make it with new_top_k")

        def fetch(window_columns: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            # The fixed-shape merge lists K entries per column in column order, so each layer's entries
            # are one run, known without looking at the device.
            bounds = [i * per_layer * k for i in range(len(window) + 1)]
            out = torch.empty((len(rows), *payload.shape[2:]), dtype=payload.dtype, device=payload.device)
            for offset, projected in enumerate(window):
                run = slice(bounds[offset], bounds[offset + 1])
                mode, sign = ColumnLayout.mode_and_sign(window_columns[run] - offset * per_layer)
                projected.write_maps(out[run], rows[run], mode // n_modes, mode % n_modes, self._signs[sign])
            return out

        scores = torch.cat([projected.scores.flatten(1) for projected in window], dim=1)  # [B, W·D·2]
        return topk.update(scores, indices, columns, fetch)


#: The most bytes of candidates' maps a compact top-K merge collects before merging them (``_Candidates``).
CANDIDATE_BYTES = 128 * 1024**2


def candidate_capacity(block_columns: int, batch_size: int, entry_bytes: int) -> int:
    """How many candidates ``_Candidates`` holds: ``CANDIDATE_BYTES`` of maps (``entry_bytes`` each), and
    never fewer than one (basis, layer) block can offer (``block_columns`` columns of a batch)."""
    return max(CANDIDATE_BYTES // entry_bytes, block_columns * batch_size)


def candidate_buffer_bytes(block_columns: int, batch_size: int, n_patches: int) -> int:
    """Bytes of a compact top-K's ``_Candidates`` buffers: per candidate its query and key maps (float16,
    as the top-K keeps them), its column, score and batch row."""
    entry_bytes = 2 * n_patches * 2
    return candidate_capacity(block_columns, batch_size, entry_bytes) * (entry_bytes + 8 + 4 + 8)


class _Candidates:
    """What the layers of a batch offer a compact top-K: per (basis, layer), the entries that reach their
    column's current worst score (``RunningTopK.reaching``), with their maps, copied while the layer's
    maps exist; merged together (``merge``) when the batch ends or the buffers are full.

    One merge for a whole batch costs far less than one per layer and basis: it runs its operations
    once, over the reaching entries only (a few per column early in a stream, fewer later). The
    columns of different layers and bases never meet, so merging them later changes nothing. The
    buffers last across batches (fresh ones would pay the operating system's page faults each time).
    """

    def __init__(self, capacity: int, payload_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> None:
        self.capacity = capacity
        self.columns = torch.empty(capacity, dtype=torch.int64, device=device)
        self.scores = torch.empty(capacity, dtype=torch.float32, device=device)
        self.rows = torch.empty(capacity, dtype=torch.int64, device=device)
        self.maps = torch.empty((capacity, *payload_shape), dtype=dtype, device=device)
        self.count = 0

    def add(
        self,
        scorer: TopKScorer,
        projected: ProjectedLayer,
        topk: RunningTopK,
        indices: torch.Tensor,
        entered: torch.Tensor,
    ) -> None:
        """Collect ``projected``'s reaching entries with their maps (merging what is held first when they
        would not fit); mark in ``entered [B]`` the batch rows that entered then."""
        block = scorer._block(projected)
        scores = projected.scores.flatten(1)  # [B, C_block]
        column, row = topk.reaching(scores, block)
        n_new = len(column)
        if n_new == 0:
            return
        if self.count + n_new > self.capacity:
            self.merge(topk, indices, entered)
        taken = slice(self.count, self.count + n_new)
        local = column - block.start
        mode, sign = ColumnLayout.mode_and_sign(local)
        n_modes = scorer.layout.n_modes
        projected.write_maps(self.maps[taken], row, mode // n_modes, mode % n_modes, scorer._signs[sign])
        self.columns[taken] = column
        self.scores[taken] = scores[row, local]
        self.rows[taken] = row
        self.count += n_new

    def merge(self, topk: RunningTopK, indices: torch.Tensor, entered: torch.Tensor) -> None:
        """Merge what is held into ``topk``; mark in ``entered [B]`` the batch rows that entered."""
        if self.count == 0:
            return
        held = slice(0, self.count)
        rows = self.rows[held]
        merged = topk.merge_candidates(self.columns[held], self.scores[held], indices[rows], self.maps[held])
        entered[rows[merged]] = True
        self.count = 0


#: The most bytes of maps one top-K merge may hold on an accelerator (``merge_window_bytes``).
MERGE_WINDOW_BYTES = 2 * 1024**3


def merge_window_bytes(device: torch.device) -> int:
    """How many bytes of maps one top-K merge may hold: the layers of a window keep their maps until the
    window merges. None on the CPU: there is no launch to save there, and holding a window's maps cost
    more in memory traffic than the fewer merges saved (random ViT-S/16, batch 32, exact basis: 0.85 ×
    the forward pass with all 12 layers in one window, 0.95 × layer by layer; docs/benchmarks.md)."""
    return 0 if device.type == "cpu" else MERGE_WINDOW_BYTES


def merge_window_layers(
    n_layers: int,
    n_patches: int,
    n_columns: int,
    n_bases: int,
    batch_size: int,
    dtype: torch.dtype,
    device: torch.device,
) -> int:
    """Layers per top-K merge: as many as keep ``n_bases`` bases' query and key maps (``[B, P, 2·D]``
    in ``dtype`` per layer and basis) within ``merge_window_bytes(device)``, at least one."""
    per_layer = n_bases * batch_size * n_patches * 2 * n_columns * (torch.finfo(dtype).bits // 8)
    return max(1, min(n_layers, merge_window_bytes(device) // per_layer))
