"""A running top-K of image scores for many independent columns, kept on the compute device.

Each column is one (basis, layer, head, mode, sign). The order is "higher score first, then lower
image index", so the result is a pure function of the set of (score, index) pairs seen: independent of
batch boundaries and of the order in which shards are merged (merging is associative).

Optionally every slot carries a payload (the winner's query and key maps), which moves with its
entry, so the maps of the winners are known when the stream ends without a second pass over them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: ``fetch(columns, candidates) -> payload [n, *payload_shape]``: the payload of new candidate
#: ``candidates[i]`` (a position in the merged-in set) for column ``columns[i]`` (relative to the block).
FetchPayload = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class RunningTopK:
    """``scores, indices: [C, K]``; unfilled slots hold ``-inf`` and index ``-1``.

    With ``payload_shape``, ``payload: [C, K, *payload_shape]`` holds each slot's payload (zeros when
    unfilled).
    """

    def __init__(
        self,
        n_columns: int,
        k: int,
        device: torch.device | str,
        payload_shape: tuple[int, ...] = (),
        payload_dtype: torch.dtype = torch.float16,
    ) -> None:
        self.k = k
        self.scores = torch.full((n_columns, k), float("-inf"), device=device)
        self.indices = torch.full((n_columns, k), -1, dtype=torch.int64, device=device)
        self.payload = (
            torch.zeros((n_columns, k, *payload_shape), dtype=payload_dtype, device=device) if payload_shape else None
        )
        self._identity = torch.arange(k, device=device)

    def update(
        self,
        batch_scores: torch.Tensor,
        batch_indices: torch.Tensor,
        columns: slice = slice(None),
        fetch: FetchPayload | None = None,
    ) -> torch.Tensor:
        """Merge a batch into ``columns``: ``batch_scores [B, C_block]`` (NaN counts as worst),
        ``batch_indices [B]``. Returns the batch rows that entered some top-K (sorted, unique)."""
        n_columns = batch_scores.shape[1]
        scores = torch.nan_to_num(batch_scores.float(), nan=float("-inf")).T  # [C_block, B]
        indices = batch_indices.to(self.indices.device).unsqueeze(0).expand(n_columns, -1)
        return self._merge(columns, scores, indices, fetch)

    def merge(self, other: RunningTopK) -> None:
        """Fold another shard's top-K (and payload) into this one."""
        payload = other.payload.to(self.scores.device) if other.payload is not None else None

        def fetch(columns: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
            assert payload is not None
            return payload[columns, candidates]

        self._merge(
            slice(None),
            other.scores.to(self.scores.device),
            other.indices.to(self.indices.device),
            fetch if payload is not None else None,
        )

    def _merge(
        self, columns: slice, scores: torch.Tensor, indices: torch.Tensor, fetch: FetchPayload | None
    ) -> torch.Tensor:
        k = self.k
        all_scores = torch.cat([self.scores[columns], scores], dim=1)
        all_indices = torch.cat([self.indices[columns], indices], dim=1)
        # Unfilled slots (index -1) must lose every tie, so treat their index as +inf.
        tie_key = torch.where(all_indices < 0, torch.iinfo(torch.int64).max, all_indices)
        by_index = tie_key.argsort(dim=1, stable=True)
        by_score = all_scores.gather(1, by_index).argsort(dim=1, descending=True, stable=True)[:, :k]
        source = by_index.gather(1, by_score)  # [C_block, K]: positions in [current K | new]
        self.scores[columns] = all_scores.gather(1, source)
        self.indices[columns] = all_indices.gather(1, source)
        if self.payload is not None:
            if fetch is None:
                raise ValueError("this top-K carries a payload: merging needs the candidates' payload")
            self._move_payload(columns, source, fetch)
        return (source[source >= k] - k).unique()

    def _move_payload(self, columns: slice, source: torch.Tensor, fetch: FetchPayload) -> None:
        assert self.payload is not None
        k = self.k
        changed = (source != self._identity).any(dim=1).nonzero().squeeze(1)  # columns whose slots moved
        if len(changed) == 0:
            return
        block = self.payload[columns]
        moved_source = source[changed]  # [n, K]
        kept = moved_source.clamp(max=k - 1).view(*moved_source.shape, *([1] * (block.dim() - 2)))
        moved = block[changed].gather(1, kept.expand(-1, -1, *block.shape[2:]))
        column, slot = (moved_source >= k).nonzero(as_tuple=True)
        if len(column):
            moved[column, slot] = fetch(changed[column], moved_source[column, slot] - k).to(block.dtype)
        block[changed] = moved

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"scores": self.scores.cpu(), "indices": self.indices.cpu()}
        if self.payload is not None:
            state["payload"] = self.payload.cpu()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["scores"].shape != self.scores.shape:
            raise ValueError(
                f"top-K state has shape {tuple(state['scores'].shape)}, expected {tuple(self.scores.shape)}"
            )
        self.scores = state["scores"].to(self.scores.device)
        self.indices = state["indices"].to(self.indices.device)
        if self.payload is not None:
            self.payload = state["payload"].to(self.payload.device)
