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

_INT32_MAX = 2**31 - 1

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
    lists the candidates that reach their column's current worst score (``reaching``: no other can
    enter), merges only those columns and candidates, and writes only the entries that enter, which is
    cheaper where synchronizing costs nothing (the CPU, the default there); ``merge_candidates`` takes
    such a list from several blocks at once. Without ``compact`` every one of the ``C × K`` slots is
    rewritten, the unchanged ones with their own values, so the amount of work is fixed and the GPU's
    queue never drains mid-batch. Image indices must lie below 2³¹ (``_rank``).
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
        n_columns, n_rows = batch_scores.shape[1], batch_scores.shape[0]
        scores = torch.nan_to_num(batch_scores.float(), nan=float("-inf")).T  # [C_block, B]
        batch_indices = batch_indices.to(self.indices.device)
        if self.compact:
            column, row = self._reaching(columns, scores)
            first = columns.start or 0
            payload = self._fetch(fetch, column - first, row)
            entered = self.merge_candidates(column, scores[column - first, row], batch_indices[row], payload)
            return _any_per(row, entered, n_rows)
        indices = batch_indices.unsqueeze(0).expand(n_columns, -1)
        return self._merge_dense(columns, scores, indices, fetch)

    def reaching(self, batch_scores: torch.Tensor, columns: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """The candidates of ``batch_scores [B, C_block]`` (the batch's scores of ``columns``, NaN counting as
        worst) that may enter: ``(column [n] absolute, ascending; row [n] along B)``, those that reach
        their column's current worst score. The others can never enter, and the best of them has been
        folded into the runner-up already, so what this returns must then be merged
        (``merge_candidates``) before the columns change."""
        scores = torch.nan_to_num(batch_scores.float(), nan=float("-inf")).T  # [C_block, B]
        return self._reaching(columns, scores)

    def _reaching(self, columns: slice, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``reaching`` for candidates ``scores [C_block, N]`` → ``(column [n] absolute, position [n]
        along N)``, by column then position."""
        reaches = scores >= self.scores[columns].amin(dim=1, keepdim=True)
        runner_up = self.runner_up[columns]  # a view: the maximum lands in self
        torch.maximum(runner_up, torch.where(reaches, float("-inf"), scores).amax(dim=1), out=runner_up)
        column, position = reaches.nonzero(as_tuple=True)
        return column + (columns.start or 0), position

    def merge_candidates(
        self,
        columns: torch.Tensor,
        scores: torch.Tensor,
        indices: torch.Tensor,
        payload: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Merge a list of candidates: candidate ``i`` is image ``indices[i]`` with score ``scores[i]``
        (NaN counts as worst) in column ``columns[i]`` (absolute), its payload ``payload[i]`` (needed when
        this top-K carries one). Several may share a column. Returns the bool mask ``[n]`` of the
        candidates that entered. Listing only what ``reaching`` returns is the cheap way in: where few
        candidates reach (most of a stream), the merge touches few columns."""
        n_candidates = len(columns)
        if n_candidates == 0:
            return torch.zeros(0, dtype=torch.bool, device=self.scores.device)
        order = columns.argsort(stable=True)
        columns, scores, indices = columns[order], scores[order].float(), indices[order]
        scores = torch.nan_to_num(scores, nan=float("-inf"))
        at, group, counts = torch.unique_consecutive(columns, return_inverse=True, return_counts=True)
        place = torch.arange(n_candidates, device=columns.device) - (torch.cumsum(counts, 0) - counts)[group]
        width = int(counts.max())
        padded_scores = torch.full((len(at), width), float("-inf"), device=scores.device)
        padded_indices = torch.full((len(at), width), -1, dtype=torch.int64, device=scores.device)
        positions = torch.zeros((len(at), width), dtype=torch.int64, device=scores.device)
        padded_scores[group, place] = scores
        padded_indices[group, place] = indices
        positions[group, place] = order  # where each candidate was in the caller's list

        def fetch(_columns: torch.Tensor, listed: torch.Tensor) -> torch.Tensor:
            assert payload is not None
            return payload[listed]

        return self._merge_columns(
            at, padded_scores, padded_indices, positions, n_candidates, fetch if payload is not None else None
        )

    def merge(self, other: RunningTopK) -> None:
        """Fold another shard's top-K (and payload, and runner-up) into this one."""
        torch.maximum(self.runner_up, other.runner_up.to(self.runner_up.device), out=self.runner_up)
        payload = other.payload.to(self.scores.device) if other.payload is not None else None

        def fetch(columns: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
            assert payload is not None
            return payload[columns, candidates]

        scores, indices = other.scores.to(self.scores.device), other.indices.to(self.indices.device)
        if self.compact:
            column, position = self._reaching(slice(None), scores)
            listed = self._fetch(fetch if payload is not None else None, column, position)
            self.merge_candidates(column, scores[column, position], indices[column, position], listed)
        else:
            self._merge_dense(slice(None), scores, indices, fetch if payload is not None else None)

    def _fetch(
        self, fetch: FetchPayload | None, columns: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor | None:
        """The payload of the listed candidates when this top-K carries one (``fetch`` is then needed)."""
        if self._payload is None:
            return None
        if fetch is None:
            raise ValueError("this top-K carries a payload: merging needs the candidates' payload")
        return fetch(columns, candidates)

    def _merge_dense(
        self, columns: slice, scores: torch.Tensor, indices: torch.Tensor, fetch: FetchPayload | None
    ) -> torch.Tensor:
        """Merge every candidate of ``scores, indices [C_block, N]`` into ``columns`` with fixed shapes;
        return the bool mask ``[N]`` of the candidates (positions along N) that entered some column."""
        first, (n_columns, n_candidates) = columns.start or 0, scores.shape
        at = torch.arange(first, first + n_columns, device=scores.device)
        positions = torch.arange(n_candidates, device=scores.device).expand(n_columns, -1)

        def relative(columns: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
            assert fetch is not None
            return fetch(columns - first, candidates)

        return self._merge_columns(
            at, scores, indices, positions, n_candidates, relative if fetch is not None else None
        )

    def _merge_columns(
        self,
        at: torch.Tensor,
        scores: torch.Tensor,
        indices: torch.Tensor,
        positions: torch.Tensor,
        n_candidates: int,
        fetch: FetchPayload | None,
    ) -> torch.Tensor:
        """Merge into the columns ``at [C']`` (absolute, ascending) the candidates ``scores, indices
        [C', W]`` (``W ≥ 1``; padding: ``-inf`` and index ``-1``, which never enters), candidate ``[c, j]``
        being number ``positions[c, j]`` of the ``n_candidates`` merged in (``fetch(column, position)``
        gives payloads by those). Returns the bool mask ``[n_candidates]`` of those that entered."""
        k = self.k
        all_scores = torch.cat([self.scores[at], scores], dim=1)
        all_indices = torch.cat([self.indices[at], indices], dim=1)
        order = _rank(all_scores, all_indices, k + 1)  # W ≥ 1 candidates, so position k exists
        best = order[:, :k]  # [C', K]: positions in [current K | new], in ranking order
        # The best of what this merge leaves out: the runner-up is the running maximum of these, since
        # nothing left out ever comes back.
        left_out = all_scores.gather(1, order[:, k : k + 1]).squeeze(1)
        self.runner_up[at] = torch.maximum(self.runner_up[at], left_out)
        new = best >= k  # [C', K]: the entering candidates, in ranking order
        kept = torch.zeros(best.shape[0], k + 1, dtype=torch.bool, device=best.device)
        kept.scatter_(1, torch.where(new, k, best), True)  # column k collects the new entries
        evicted = ~kept[:, :k]  # [C', K] in slot order; as many per column as enter
        # Each column's evicted slots (in slot order) take its entering candidates (in ranking order).
        if self.compact:
            # Listed column by column, both lists pair up entry by entry.
            column, slot = evicted.nonzero(as_tuple=True)
            source = best[new]
            enters = None
        else:
            # Fixed shapes: a stable sort brings both first, equally many, so position j pairs them up; the
            # other positions rewrite their slot with its own value.
            slots = evicted.to(torch.uint8).argsort(dim=1, descending=True, stable=True)
            candidate = best.gather(1, new.to(torch.uint8).argsort(dim=1, descending=True, stable=True))
            column = torch.arange(best.shape[0], device=best.device).repeat_interleave(k)
            place = torch.arange(k, device=best.device).repeat(best.shape[0])
            slot, source = slots[column, place], candidate[column, place]
            enters = source >= k
        target = at[column]
        if enters is None:
            self.scores[target, slot] = all_scores[column, source]
            self.indices[target, slot] = all_indices[column, source]
        else:
            self.scores[target, slot] = torch.where(enters, all_scores[column, source], self.scores[target, slot])
            self.indices[target, slot] = torch.where(enters, all_indices[column, source], self.indices[target, slot])
        number = positions[column, (source - k).clamp_min(0)]  # the candidate's number (any where none enters)
        if self._payload is not None:
            if fetch is None:
                raise ValueError("this top-K carries a payload: merging needs the candidates' payload")
            spare_or_slot = slot if enters is None else torch.where(enters, slot, k)  # the spare takes the rest
            self._payload[target, spare_or_slot] = fetch(target, number).to(self._payload.dtype)
        return _any_per(number, torch.ones_like(slot, dtype=torch.bool) if enters is None else enters, n_candidates)

    def ranked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(scores, indices, payload)`` with every column in ranking order (best first)."""
        order = _rank(self.scores, self.indices, self.k)
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


def _rank(scores: torch.Tensor, indices: torch.Tensor, n: int) -> torch.Tensor:
    """Per row, the positions of the ``n`` best entries, best first: higher score first, ties by lower
    index, unfilled slots (index -1, score -inf) after every image and in position order.

    One ``topk`` on a 64-bit key per entry (the score's bits made monotone, then the index reversed)
    replaces two stable sorts; image indices must lie below 2³¹."""
    width = scores.shape[1]
    bits = (scores + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into 0.0, which compare equal
    monotone = (bits ^ ((bits >> 31) & _INT32_MAX)).to(torch.int64)  # negative scores' bits reversed
    positions = torch.arange(width, 0, -1, device=indices.device)  # unique and below any image's
    tie = torch.where(indices < 0, positions, _INT32_MAX - indices)
    return ((monotone << 32) | tie).topk(n, dim=1).indices


def _any_per(owners: torch.Tensor, flags: torch.Tensor, n_owners: int) -> torch.Tensor:
    """``[n_owners]`` bool: whether any of the ``flags [n]`` of each owner (``owners [n]``, repeats allowed) is set."""
    counts = torch.zeros(n_owners, dtype=torch.int32, device=flags.device)
    return counts.index_add_(0, owners, flags.to(torch.int32)) > 0
