"""A running top-K of image scores for many independent columns, kept on the compute device.

Each column is one (basis, layer, head, mode, sign). The order is "higher score first, then lower
image index", so the result is a pure function of the set of (score, index) pairs seen: independent of
batch boundaries and of the order in which shards are merged (merging is associative).

Each column also keeps its runner-up: the best score that is not in its top-K (the (K+1)-th in the
ranking order, ``-inf`` until more than K images were seen). It decides whether the last places are
a tie at the scores' precision (``qkatlas.ties``). Like the top-K it is a pure function of the scores
seen: every candidate that leaves (or never enters) the top-K is a runner-up candidate, and the
running maximum of those is order-free.

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
    """``scores, indices: [C, K]``; unfilled slots hold ``-inf`` and index ``-1``; ``runner_up: [C]``
    the best score left out of each column's top-K (``-inf`` while there is none).

    Slots are kept in no particular order: an entry stays in its slot until it is evicted, and a new
    entry takes an evicted slot, so a merge touches only what changes (with a payload, copying the
    kept entries' payloads around would cost far more than the merge itself). ``ranked()`` gives the
    columns in ranking order. With ``payload_shape``, ``payload: [C, K, *payload_shape]`` holds each
    slot's payload (zeros when unfilled).

    A merge never waits for the device (no host synchronization) unless ``compact``: then it first
    lists the entries that enter (one ``nonzero``, i.e. one synchronization per merge) and writes only
    those, which is cheaper where synchronizing costs nothing (the CPU, the default there). Without
    ``compact`` every one of the ``C × K`` slots is rewritten, the unchanged ones with their own
    values, so the amount of work is fixed and the GPU's queue never drains mid-batch.
    """

    def __init__(
        self,
        n_columns: int,
        k: int,
        device: torch.device | str,
        payload_shape: tuple[int, ...] = (),
        payload_dtype: torch.dtype = torch.float16,
        compact: bool | None = None,
    ) -> None:
        self.k = k
        self.scores = torch.full((n_columns, k), float("-inf"), device=device)
        self.indices = torch.full((n_columns, k), -1, dtype=torch.int64, device=device)
        self.runner_up = torch.full((n_columns,), float("-inf"), device=device)
        # One spare slot per column: a fixed-shape merge writes what does not enter there (never read),
        # so it need not read the payload back to leave it unchanged.
        self._payload = (
            torch.zeros((n_columns, k + 1, *payload_shape), dtype=payload_dtype, device=device)
            if payload_shape
            else None
        )
        self.compact = self.scores.device.type == "cpu" if compact is None else compact

    @property
    def payload(self) -> torch.Tensor | None:
        """``[C, K, *payload_shape]``: each slot's payload (zeros when unfilled)."""
        return self._payload[:, : self.k] if self._payload is not None else None

    def update(
        self,
        batch_scores: torch.Tensor,
        batch_indices: torch.Tensor,
        columns: slice = slice(None),
        fetch: FetchPayload | None = None,
    ) -> torch.Tensor:
        """Merge a batch into ``columns``: ``batch_scores [B, C_block]`` (NaN counts as worst),
        ``batch_indices [B]``. Returns a bool mask ``[B]`` (on the device) of the batch rows that
        entered some top-K."""
        n_columns = batch_scores.shape[1]
        scores = torch.nan_to_num(batch_scores.float(), nan=float("-inf")).T  # [C_block, B]
        indices = batch_indices.to(self.indices.device).unsqueeze(0).expand(n_columns, -1)
        return self._merge(columns, scores, indices, fetch)

    def merge(self, other: RunningTopK) -> None:
        """Fold another shard's top-K (and payload, and runner-up) into this one."""
        torch.maximum(self.runner_up, other.runner_up.to(self.runner_up.device), out=self.runner_up)
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
        """Merge candidates ``scores, indices [C_block, N]``; return the bool mask ``[N]`` of the
        candidates (positions along N) that entered some column."""
        k, n_candidates = self.k, scores.shape[1]
        block_scores, block_indices = self.scores[columns], self.indices[columns]  # views: writes land in self
        all_scores = torch.cat([block_scores, scores], dim=1)
        all_indices = torch.cat([block_indices, indices], dim=1)
        order = _rank(all_scores, all_indices)
        best = order[:, :k]  # [C_block, K]: positions in [current K | new]
        # The best of what this merge leaves out (N ≥ 1 candidates, so position k exists): the runner-up
        # is the running maximum of these, since nothing left out ever comes back.
        left_out = all_scores.gather(1, order[:, k : k + 1]).squeeze(1)
        runner_up = self.runner_up[columns]  # a view: the maximum lands in self
        torch.maximum(runner_up, left_out, out=runner_up)
        # Pair each column's evicted slots (in slot order) with its entering candidates (in rank
        # order): after a stable sort both come first, equally many, so position j pairs them up.
        kept = torch.zeros(best.shape[0], k + 1, dtype=torch.bool, device=best.device)
        kept.scatter_(1, torch.where(best < k, best, k), True)  # column k collects the new entries
        slots = kept[:, :k].to(torch.uint8).argsort(dim=1, stable=True)  # [C_block, K], evicted slots first
        candidate = best.gather(1, (best < k).to(torch.uint8).argsort(dim=1, stable=True))  # entering first
        enters = candidate >= k  # [C_block, K]: position j pairs an evicted slot with an entering candidate
        if self.compact:
            column, position = enters.nonzero(as_tuple=True)
        else:
            column = torch.arange(best.shape[0], device=best.device).repeat_interleave(k)
            position = torch.arange(k, device=best.device).repeat(best.shape[0])
        slot, source, valid = slots[column, position], candidate[column, position], enters[column, position]
        block_scores[column, slot] = torch.where(valid, all_scores[column, source], block_scores[column, slot])
        block_indices[column, slot] = torch.where(valid, all_indices[column, source], block_indices[column, slot])
        row = (source - k).clamp_min(0)  # the candidate's position along N (0 where nothing enters)
        if self._payload is not None:
            if fetch is None:
                raise ValueError("this top-K carries a payload: merging needs the candidates' payload")
            spare_or_slot = torch.where(valid, slot, k)  # what does not enter goes to the spare slot
            self._payload[columns][column, spare_or_slot] = fetch(column, row).to(self._payload.dtype)
        entered = torch.zeros(n_candidates, dtype=torch.int32, device=best.device)
        return entered.index_add_(0, row, valid.to(torch.int32)) > 0

    def ranked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(scores, indices, payload)`` with every column in ranking order (best first)."""
        order = _rank(self.scores, self.indices)
        payload = None
        if self.payload is not None:
            at = order.view(*order.shape, *([1] * (self.payload.dim() - 2)))
            payload = self.payload.gather(1, at.expand(-1, -1, *self.payload.shape[2:]))
        return self.scores.gather(1, order), self.indices.gather(1, order), payload

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the state on the CPU, unaffected by later merges (it may be saved in the background)."""
        state = {
            "scores": self.scores.to("cpu", copy=True),
            "indices": self.indices.to("cpu", copy=True),
            "runner_up": self.runner_up.to("cpu", copy=True),
        }
        if self.payload is not None:
            state["payload"] = self.payload.to("cpu", copy=True).contiguous()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["scores"].shape != self.scores.shape:
            raise ValueError(
                f"top-K state has shape {tuple(state['scores'].shape)}, expected {tuple(self.scores.shape)}"
            )
        if "runner_up" not in state:
            raise ValueError("top-K state without the runner-up scores (saved by an older qkatlas): start it again")
        self.scores = state["scores"].to(self.scores.device)
        self.indices = state["indices"].to(self.indices.device)
        self.runner_up = state["runner_up"].to(self.runner_up.device)
        if self._payload is not None:
            self._payload[:, : self.k] = state["payload"].to(self._payload.device)


def _rank(scores: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Per row, the positions ordered by score (descending), ties by lower index; unfilled (index -1,
    score -inf) last."""
    tie_key = torch.where(indices < 0, torch.iinfo(torch.int64).max, indices)
    by_index = tie_key.argsort(dim=1, stable=True)
    by_score = scores.gather(1, by_index).argsort(dim=1, descending=True, stable=True)
    return by_index.gather(1, by_score)
