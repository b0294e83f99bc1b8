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

    Slots are kept in no particular order: an entry stays in its slot until it is evicted, and a new
    entry takes an evicted slot, so a merge touches only what changes (with a payload, copying the
    kept entries' payloads around would cost far more than the merge itself). ``ranked()`` gives the
    columns in ranking order. With ``payload_shape``, ``payload: [C, K, *payload_shape]`` holds each
    slot's payload (zeros when unfilled).
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
        best = _rank(all_scores, all_indices)[:, :k]  # [C_block, K]: positions in [current K | new]
        # Current entries that stay keep their slots; new entries fill the evicted slots. Row-major
        # nonzero() lists both per column in the same count, so they pair up column by column.
        kept = torch.zeros(best.shape[0], k + 1, dtype=torch.bool, device=best.device)
        kept.scatter_(1, torch.where(best < k, best, k), True)  # column k collects the new entries
        kept = kept[:, :k]
        evicted_column, evicted_slot = (~kept).nonzero(as_tuple=True)
        entering_column, entering_rank = (best >= k).nonzero(as_tuple=True)
        candidate = best[entering_column, entering_rank]
        block_scores, block_indices = self.scores[columns], self.indices[columns]
        block_scores[evicted_column, evicted_slot] = all_scores[entering_column, candidate]
        block_indices[evicted_column, evicted_slot] = all_indices[entering_column, candidate]
        if self.payload is not None:
            if fetch is None:
                raise ValueError("this top-K carries a payload: merging needs the candidates' payload")
            if len(entering_column):
                payload = fetch(entering_column, candidate - k)
                self.payload[columns][evicted_column, evicted_slot] = payload.to(self.payload.dtype)
        entered: torch.Tensor = torch.unique(candidate - k)
        return entered

    def ranked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(scores, indices, payload)`` with every column in ranking order (best first)."""
        order = _rank(self.scores, self.indices)
        payload = None
        if self.payload is not None:
            at = order.view(*order.shape, *([1] * (self.payload.dim() - 2)))
            payload = self.payload.gather(1, at.expand(-1, -1, *self.payload.shape[2:]))
        return self.scores.gather(1, order), self.indices.gather(1, order), payload

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


def _rank(scores: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Per row, the positions ordered by score (descending), ties by lower index; unfilled (index -1,
    score -inf) last."""
    tie_key = torch.where(indices < 0, torch.iinfo(torch.int64).max, indices)
    by_index = tie_key.argsort(dim=1, stable=True)
    by_score = scores.gather(1, by_index).argsort(dim=1, descending=True, stable=True)
    return by_index.gather(1, by_score)
