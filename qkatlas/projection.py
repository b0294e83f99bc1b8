"""Projecting captured token activations onto every mode of every head at once (DESIGN §2, §4).

For block ``ℓ`` the ``U`` and ``V`` vectors of all heads are stacked into one ``[d, 2·H·M]`` matrix,
so a single matmul per layer and basis yields every query map ``P_U`` and key map ``P_V``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from qkatlas.svd import Decomposition

Basis = Literal["faithful", "exact"]
BASES: tuple[Basis, ...] = ("faithful", "exact")
SIGNS = ("pos", "neg")


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

    def project(self, layer: int, activations: torch.Tensor, basis: Basis) -> tuple[torch.Tensor, torch.Tensor]:
        """``activations [B, N, d]`` → ``(P_U, P_V)``, each ``[B, N, D]`` float32, ``D = H·M``.

        Column ``h·M + n`` holds mode ``n`` of head ``h``. ``activations`` must be the residual stream
        for ``faithful`` and the block's LayerNorm output for ``exact``.
        """
        projected = (activations.to(self.weights.dtype) @ self.weights[layer]).float()
        query, key = projected.split(self.n_columns, dim=-1)
        if basis == "exact":
            query = query + self.query_offset[layer]
        return query, key


def signed_scores(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """The paper's attention score of each mode, for both signs (DESIGN §2 ranking rule).

    ``query, key: [B, P, D]`` over patch tokens only → ``[B, D, 2]``: ``pos = max P_U · max P_V``,
    ``neg = min P_U · min P_V`` (the ``pos`` rule applied to the mode ``(−u, −v)``).
    """
    q_min, q_max = query.aminmax(dim=1)
    k_min, k_max = key.aminmax(dim=1)
    return torch.stack([q_max * k_max, q_min * k_min], dim=-1)
