"""The scoring kernel: capture → pick the basis's tokens → project onto every mode → score both signs.

One implementation, used by the precompute stream (``TopKScorer``: merge every batch into a running
top-K) and by the analysis of one uploaded image (``qkatlas.analysis``). For block ``ℓ`` the ``U`` and
``V`` vectors of all heads are stacked into one ``[d, 2·H·M]`` matrix, so a single matmul per layer
and basis yields every query map ``P_U`` and key map ``P_V`` (docs/method.md#maps). Which tokens each
basis projects: docs/method.md#projection-bases; the score: docs/method.md#ranking-rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.columns import ColumnLayout
from qkatlas.conventions import Basis
from qkatlas.device import autocast, compute_dtype
from qkatlas.mode_effects import EffectKernel, RunningEffects
from qkatlas.mode_statistics import RunningStatistics
from qkatlas.models.base import ViTAdapter
from qkatlas.svd import Decomposition
from qkatlas.topk import RunningTopK


class ModeProjector:
    """Every mode's ``u`` and ``v`` of every layer, resident on ``device`` in ``dtype``.

    ``faithful`` projects the residual entering the block; ``exact`` projects the LayerNorm output and
    adds ``u_n · c`` (``c = W_q⁺ b_q``) on the query side, so that
    ``Σ_n σ_n P_U[i,n] P_V[j,n] = √d_h · logit_ij + (terms constant in j)``.
    """

    def __init__(self, dec: Decomposition, device: torch.device | str, dtype: torch.dtype) -> None:
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
        self.weights = torch.from_numpy(stacked).transpose(1, 2).contiguous().to(device, dtype)  # [L, d, 2D]
        self.query_offset = torch.from_numpy(dec.query_offset.reshape(n_layers, self.n_columns)).to(
            device, torch.float32
        )  # [L, D]

    def project_raw(self, layer: int, activations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``activations [B, N, d]`` → ``(X·u, X·v)``, each ``[B, N, D]`` in the projector's dtype,
        ``D = H·M``, column ``h·M + n`` = mode ``n`` of head ``h``: the maps without the exact basis's
        query offset (``offset``), which costs a pass over the maps and is better added to what is
        taken from them."""
        projected = activations.to(self.weights.dtype) @ self.weights[layer]
        query, key = torch.split(projected, self.n_columns, dim=-1)
        return query, key

    def offset(self, layer: int, basis: Basis) -> torch.Tensor | None:
        """``[D]`` float32: what the ``exact`` basis adds to every query map value (``u_n · c``)."""
        return self.query_offset[layer] if basis == Basis.exact else None

    def project(self, layer: int, activations: torch.Tensor, basis: Basis) -> tuple[torch.Tensor, torch.Tensor]:
        """``activations [B, N, d]`` → ``(P_U, P_V)``, each ``[B, N, D]`` float32, ``D = H·M``.

        Column ``h·M + n`` holds mode ``n`` of head ``h``. ``activations`` must be the residual stream
        for ``faithful`` and the block's LayerNorm output for ``exact``.
        """
        query, key = self.project_raw(layer, activations)
        offset = self.offset(layer, basis)
        return (query.float() if offset is None else query.float() + offset), key.float()


def signed_scores(
    query: torch.Tensor, key: torch.Tensor, query_offset: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's attention score of each mode, for both signs (docs/method.md#ranking-rule), and
    whether the mode fires.

    ``query, key: [B, P, D]`` over patch tokens only (any float dtype; ``query_offset [D]``, when
    given, is added to every query value) → ``(scores, firing)``, each ``[B, D, 2]``: ``scores``
    float32, ``pos = max P_U · max P_V``, ``neg = min P_U · min P_V`` (the ``pos`` rule applied to the
    mode ``(−u, −v)``); ``firing`` bool, both of the signed mode's peaks are positive (so the score is
    not the quirk's product of two negative maxima). The offset is added to the extremes rather than
    to every value: rounding is monotonic, so the result is the same.
    """
    q_min, q_max = (extreme.float() for extreme in query.aminmax(dim=1))
    k_min, k_max = (extreme.float() for extreme in key.aminmax(dim=1))
    if query_offset is not None:
        q_min, q_max = q_min + query_offset, q_max + query_offset
    scores = torch.stack([q_max * k_max, q_min * k_min], dim=-1)
    firing = torch.stack([(q_max > 0) & (k_max > 0), (q_min < 0) & (k_min < 0)], dim=-1)
    return scores, firing


@dataclass(frozen=True)
class ProjectedLayer:
    """One block of a batch projected in one basis. ``D = H·M`` columns, column ``h·M + n`` = mode
    ``n`` of head ``h``; maps are those of the ``pos`` mode (the ``neg`` maps are their negatives).

    ``tokens [B, P, d]``: the patch tokens that were projected (residual or LayerNorm output);
    ``query, key [B, P, D]`` in the kernel's dtype: ``X·u`` and ``X·v``; the query map is
    ``P_U = query + query_offset`` (``query_offset [D]`` float32 in the exact basis, else None);
    ``scores [B, D, 2]`` float32: (pos, neg); ``firing [B, D, 2]`` bool (``signed_scores``).
    """

    layer: int
    basis: Basis
    tokens: torch.Tensor
    query: torch.Tensor
    key: torch.Tensor
    query_offset: torch.Tensor | None
    scores: torch.Tensor
    firing: torch.Tensor

    def query_maps(self) -> torch.Tensor:
        """``P_U [B, P, D]`` float32."""
        maps = self.query.float()
        return maps if self.query_offset is None else maps + self.query_offset

    def key_maps(self) -> torch.Tensor:
        """``P_V [B, P, D]`` float32."""
        return self.key.float()


OnProjected = Callable[[ProjectedLayer], None]
#: ``(layer, normed [B, N, d])``: a block's LayerNorm output, every token (prefix tokens first).
OnNormed = Callable[[int, torch.Tensor], None]


class ModeKernel:
    """Runs uint8 images through the model and hands every (layer, basis) projection to a consumer.

    ``dtype`` is the projection precision; the model runs under autocast to it when it is reduced
    (default: ``compute_dtype`` of the adapter's device, i.e. bfloat16 on CUDA, float32 on the CPU).
    """

    def __init__(
        self, adapter: ViTAdapter, dec: Decomposition, bases: tuple[Basis, ...], dtype: torch.dtype | None = None
    ) -> None:
        self.adapter = adapter
        self.bases = bases
        self.device = adapter.device
        self.dtype = compute_dtype(self.device) if dtype is None else dtype
        self.projector = ModeProjector(dec, self.device, self.dtype)

    def run(self, images: torch.Tensor, on_projected: OnProjected, on_normed: OnNormed | None = None) -> None:
        """Forward uint8 ``images [B, 3, S, S]`` (as the model sees them); call ``on_projected`` for
        every layer, in order, and within a layer for every basis of ``bases``, in order; before that,
        ``on_normed`` (when given) with the layer and its LayerNorm output, every token."""
        n_prefix = self.adapter.spec.n_prefix

        def on_layer(layer: int, residual: torch.Tensor, normed: torch.Tensor) -> None:
            if on_normed is not None:
                on_normed(layer, normed)
            for basis in self.bases:  # one matmul per basis covers every head
                tokens = (residual if basis == Basis.faithful else normed)[:, n_prefix:]
                query, key = self.projector.project_raw(layer, tokens)
                offset = self.projector.offset(layer, basis)
                scores, firing = signed_scores(query, key, offset)
                on_projected(ProjectedLayer(layer, basis, tokens, query, key, offset, scores, firing))

        pixels = self.adapter.normalize(images.to(self.device, non_blocking=True))
        with autocast(self.device, self.dtype):
            self.adapter.run_with_capture(pixels, on_layer)


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

        Returns a bool mask ``[B]``, on the device, of the batch rows that entered some top-K, some
        distribution sample or some mode's top effects (whose thumbnails the atlas needs). Nothing here
        waits for the device unless ``topk.compact``: the caller fetches the mask once per batch.
        """
        device = self.kernel.device
        indices = indices.to(device, non_blocking=True)
        entered = torch.zeros(len(indices), dtype=torch.bool, device=device)
        signs = self._signs
        # The statistics take all columns of the batch at once: a few large operations, not a few per layer.
        buffers = self._buffers(len(indices)) if statistics is not None else None

        def merge(projected: ProjectedLayer) -> None:
            query, key, offset = projected.query, projected.key, projected.query_offset

            def fetch(columns: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
                mode, sign = ColumnLayout.mode_and_sign(columns)
                flip = signs[sign].unsqueeze(1)  # neg maps: the negated pos maps
                query_map = query[rows, :, mode].float()
                if offset is not None:
                    query_map = query_map + offset[mode].unsqueeze(1)
                return torch.stack([query_map * flip, key[rows, :, mode].float() * flip], dim=1)

            scores = projected.scores.flatten(1)  # [B, D·2]
            entered.logical_or_(topk.update(scores, indices, self._block(projected), fetch))
            if buffers is not None:
                self._store(projected, *buffers)

        if effects is not None and self.effects is None:
            raise ValueError("this scorer measures no effects: give it an EffectKernel")
        moved = self._effect_buffer(len(indices)) if effects is not None else None
        self.kernel.run(images, merge, self._measure(moved))
        if effects is not None and moved is not None:
            entered |= effects.update(moved, indices)
        if statistics is not None and buffers is not None:
            if classes is None:
                classes = torch.full((len(indices),), -1, dtype=torch.int64, device=device)
            entered |= statistics.update(*buffers, classes.to(device, non_blocking=True), indices)
        return entered
