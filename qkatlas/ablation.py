"""Removing modes of one head on one image and running the model on (docs/method.md#removing-modes).

For head ``h`` of block ``ℓ`` and a set ``R`` of its modes, the head's logits lose
``Σ_{n∈R} σ_n P_U[i,n] P_V[j,n] / √d_h`` (exact basis: ``P_U`` includes ``u_n · c``) for every query
token, every other term kept, and every block after it runs on the changed attention output. It is
done exactly, and alike for every model family, on the head's queries: with ``U_R`` the removed
``u`` vectors ``[d, |R|]`` and ``x`` the LayerNorm output feeding the projection,

    q' = q − (W_q U_R)(U_Rᵀ x + U_Rᵀ c)

which leaves ``q'·k_j = q·k_j − Σ_{n∈R} σ_n (u_n·(x + c))(v_n·x_j) + (terms constant in j)``, and the
constant terms cancel in the softmax. The hook replaces the query rows of the module that outputs them
(``ViTAdapter.query_projection``) in the forward passes of the thread that installed it only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from qkatlas.models.base import ViTAdapter, this_thread_only
from qkatlas.svd import Decomposition


class InvalidModes(ValueError):
    """The modes asked to be removed are not a non-empty set of distinct active modes of the head."""


@dataclass(frozen=True)
class Ablation:
    """One image, one head, before and after removing ``removed`` (mode indices, ascending).

    ``row_before, row_after: [N]`` the query patch's attention row over all key tokens (prefix tokens
    first, then patches row-major), the model's own softmax in each run; ``moved: [N]`` the attention
    moved at each query token, ``½ Σ_j |A_ij − A'_ij|`` (0 = unchanged, 1 = moved entirely), same token
    order; ``embedding_cosine``: cosine between the model's pooled embeddings before and after
    (``ViTAdapter.outputs``); ``probabilities_before/after: [C]`` the classifier's softmax, or None when
    the model has no classifier."""

    removed: tuple[int, ...]
    query_patch: int
    n_prefix: int
    row_before: np.ndarray
    row_after: np.ndarray
    moved: np.ndarray
    embedding_cosine: float
    probabilities_before: np.ndarray | None
    probabilities_after: np.ndarray | None


def check_removed(active: np.ndarray, removed: Sequence[int]) -> tuple[int, ...]:
    """``removed`` as ascending mode indices of a head whose modes are ``active [M]`` (bool), or
    ``InvalidModes`` saying what is wrong with it."""
    n_modes = len(active)
    if not removed:
        raise InvalidModes("no mode to remove: name at least one")
    if len(set(removed)) != len(removed):
        raise InvalidModes(f"mode listed twice in {list(removed)}")
    outside = [n for n in removed if not 0 <= n < n_modes]
    if outside:
        raise InvalidModes(f"no mode {outside[0]}: the head has modes 0–{n_modes - 1}")
    inactive = [n for n in removed if not active[n]]
    if inactive:
        raise InvalidModes(f"mode {inactive[0]} is inactive (σ = 0): it adds nothing to the logits to remove")
    return tuple(sorted(removed))


def all_but_strongest(active: np.ndarray, keep: int) -> tuple[int, ...]:
    """The active modes (``active [M]`` bool) outside the ``keep`` of largest σ (modes are indexed by
    descending σ, so these are the active modes from the ``keep``-th on)."""
    if keep < 0:
        raise InvalidModes("keep_top must be 0 or more")
    indices = np.flatnonzero(active)
    removed = tuple(int(n) for n in indices[keep:])
    if not removed:
        raise InvalidModes(f"the head has {len(indices)} active modes: keeping the strongest {keep} removes none")
    return removed


@contextlib.contextmanager
def removing_modes(
    adapter: ViTAdapter,
    dec: Decomposition,
    layer: int,
    head: int,
    removed: Sequence[int],
    batch: slice = slice(None),
) -> Iterator[None]:
    """While active, this thread's forward passes run with modes ``removed`` of (``layer``, ``head``)
    taken out of the head's logits, for the batch items ``batch`` (the others run unchanged)."""
    projection = adapter.query_projection(layer, head)
    indices = list(removed)
    device = adapter.device
    u_host = torch.from_numpy(dec.U[layer, head, indices])  # [R, d] float64
    w_q_u = (adapter.layer_weights(layer).w_q[head] @ u_host.T).to(device)  # [d_h, R]
    u = u_host.to(device)
    offset = torch.from_numpy(dec.query_offset[layer, head, indices]).to(device)  # [R]

    def hook(_module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
        x = args[0][batch].double()  # [b, N, d]: the LayerNorm output the projection reads
        correction = (x @ u.T + offset) @ w_q_u.T  # [b, N, d_h], float64
        changed = out.clone()
        changed[batch, :, projection.rows] = (out[batch, :, projection.rows].double() - correction).to(out.dtype)
        return changed

    handle = projection.module.register_forward_hook(this_thread_only(hook))
    try:
        yield
    finally:
        handle.remove()


@torch.inference_mode()
def ablate(
    adapter: ViTAdapter,
    dec: Decomposition,
    image: torch.Tensor,
    layer: int,
    head: int,
    removed: Sequence[int],
    query_patch: int,
) -> Ablation:
    """Run the uint8 image ``[3, S, S]`` (as the model sees it) twice in one batch, as it is and with
    modes ``removed`` of (``layer``, ``head``) taken out (``removing_modes``), and compare."""
    spec = adapter.spec
    if not 0 <= query_patch < spec.n_patches:
        raise IndexError(f"query patch {query_patch} outside the {spec.grid}×{spec.grid} grid")
    removed = check_removed(dec.active[layer, head], removed)
    pixels = adapter.normalize(image.unsqueeze(0).to(adapter.device)).expand(2, -1, -1, -1)
    captured: list[torch.Tensor] = []
    with (
        adapter.capturing_attention(layer, lambda probs: captured.append(probs[:, head])),
        removing_modes(adapter, dec, layer, head, removed, batch=slice(1, 2)),
    ):
        outputs = adapter.outputs(pixels)
    (attention,) = captured  # [2, N, N]: before, after
    attention = attention.double().cpu()
    moved = 0.5 * (attention[0] - attention[1]).abs().sum(-1)  # [N]
    embedding = outputs.embedding.double().cpu()
    cosine = torch.nn.functional.cosine_similarity(embedding[0], embedding[1], dim=0)
    probabilities = None if outputs.logits is None else outputs.logits.double().softmax(-1).cpu().numpy()
    query_token = spec.n_prefix + query_patch
    return Ablation(
        removed=removed,
        query_patch=query_patch,
        n_prefix=spec.n_prefix,
        row_before=attention[0, query_token].numpy(),
        row_after=attention[1, query_token].numpy(),
        moved=moved.numpy(),
        embedding_cosine=float(cosine),
        probabilities_before=None if probabilities is None else probabilities[0],
        probabilities_after=None if probabilities is None else probabilities[1],
    )
