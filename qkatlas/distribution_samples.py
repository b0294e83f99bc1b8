"""Images sampled across each signed mode's score distribution, kept in the stream that finds the top-K.

The top-K shows only a mode's extreme tail. For every column (basis, layer, head, mode, sign) the
stream also keeps ``PER_BAND`` images from each of ``N_BANDS`` *bands* of its score range, so a page
can show what a typical, a median or a weak image looks like under the mode. Definitions:
docs/method.md#samples-across-the-distribution.

**Bands.** A column's histogram bins (``qkatlas.mode_statistics``, fixed before the stream from the
calibration sample) are cut into ``N_BANDS`` runs of equally many consecutive bins; the
underflow count joins the first band and the overflow count the last. An image's band is therefore
a function of its score and of the bins only.

**Which images.** Within a band, the ``PER_BAND`` images with the smallest *sample key*, a hash of
the dataset index alone (``sample_keys``). The key does not depend on the column, so the samples of
one head's modes are largely the same few images (their maps are computed on demand once per image
and head) and the atlas needs few extra thumbnails. "The smallest keys of a set" is a function of
the set, so the samples do not depend on batch boundaries, interruptions or how a ``torchrun`` job
split the images: merging two states keeps the smallest keys of their union.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Bands per signed mode, and images kept per band.
N_BANDS = 8
PER_BAND = 4
#: The empty slot's key (larger than every real key).
_EMPTY = torch.iinfo(torch.int64).max
_LOW32 = 0xFFFFFFFF
#: The hash's multiplier (below 2**31, so products of 32-bit values never overflow int64).
_MIX = 0x45D9F3B


def sampling_rule(n_bins: int) -> str:
    """The rule, in words, for histograms of ``n_bins`` bins."""
    return (
        f"each signed mode's {n_bins} histogram bins are cut into {N_BANDS} bands of {n_bins // N_BANDS} consecutive "
        "bins (scores below the first bin join the first band, scores above the last bin the last band); in each band "
        f"the {PER_BAND} scored images with the smallest sample key are kept, where the key of dataset index i is "
        "h(i) · 2^32 + i with h(i) = (x ^ (x >> 16)) >> 1 after x = i, then twice x = ((x ^ (x >> 16)) · 0x45D9F3B) "
        "mod 2^32"
    )


def sample_keys(indices: torch.Tensor) -> torch.Tensor:
    """``indices [B]`` (dataset indices, int64, below 2**32) → their sample keys ``[B]`` int64 (distinct
    for distinct indices; the order of the keys is a fixed pseudo-random permutation of the dataset)."""
    x = indices.long() & _LOW32
    for _ in range(2):
        x = ((x ^ (x >> 16)) * _MIX) & _LOW32
    x = (x ^ (x >> 16)) >> 1
    return (x << 32) | (indices.long() & _LOW32)


@dataclass(frozen=True)
class SamplesSummary:
    """The finished samples (numpy, on the host): ``indices [C, N_BANDS, PER_BAND]`` int64 (dataset index,
    −1 = empty slot), ``scores`` float32 (NaN where empty) and ``fires`` bool, each band's slots in
    sample-key order."""

    indices: np.ndarray
    scores: np.ndarray
    fires: np.ndarray


class RunningSamples:
    """Every column's band samples so far, on the compute device: ``keys [C, N_BANDS, PER_BAND]`` int64
    (``_EMPTY`` when unfilled), each band's slots sorted by key; ``scores`` float32 and ``fires`` bool
    beside them."""

    def __init__(self, n_columns: int, n_bins: int, device: torch.device | str, compact: bool | None = None) -> None:
        if n_bins % N_BANDS:
            raise ValueError(f"{n_bins} histogram bins do not cut into {N_BANDS} equal bands")
        self.n_bins = n_bins
        shape = (n_columns, N_BANDS, PER_BAND)
        self.keys = torch.full(shape, _EMPTY, dtype=torch.int64, device=device)
        self.scores = torch.full(shape, float("nan"), dtype=torch.float32, device=device)
        self.fires = torch.zeros(shape, dtype=torch.bool, device=device)
        #: Whether updates list the candidates that can enter first (one host synchronization per update,
        #: free on the CPU, the default there) and merge only those, rather than every column's band with
        #: fixed shapes (``qkatlas.topk.RunningTopK`` makes the same choice).
        self.compact = self.keys.device.type == "cpu" if compact is None else compact

    def band_of_bin(self, position: torch.Tensor) -> torch.Tensor:
        """Bin positions (−1 = underflow, ``0 … n_bins − 1``, ``n_bins`` = overflow; any dtype) → band ids (long)."""
        return position.long().clamp(0, self.n_bins - 1) // (self.n_bins // N_BANDS)

    def update_columns(
        self,
        columns: slice,
        bands: torch.Tensor,
        scores: torch.Tensor,
        fires: torch.Tensor,
        keys: torch.Tensor,
    ) -> torch.Tensor:
        """Merge one batch into ``columns``: ``bands [B, C_block]`` long (``N_BANDS`` = not counted, e.g. a
        non-finite score), ``scores [B, C_block]`` float32, ``fires [B, C_block]`` bool, ``keys [B]`` the
        images' sample keys. Returns ``[B]`` bool: the rows that entered some band. No host
        synchronization unless ``compact``."""
        if self.compact:
            return self._update_reaching(columns, bands, scores, fires, keys)
        n_rows, n_block = bands.shape
        order = keys.argsort()  # the batch in key order, so a stable sort by band keeps key order within
        sorted_bands, by_band = bands[order].T.contiguous().sort(dim=1, stable=True)  # [C_block, B]
        band_ids = torch.arange(N_BANDS, device=bands.device).expand(n_block, -1).contiguous()
        first = torch.searchsorted(sorted_bands, band_ids)  # [C_block, N_BANDS]
        last = torch.searchsorted(sorted_bands, band_ids, right=True)
        at = first.unsqueeze(2) + torch.arange(PER_BAND, device=bands.device)  # [C_block, N_BANDS, PER_BAND]
        valid = at < last.unsqueeze(2)
        row = order[by_band.gather(1, at.clamp(max=n_rows - 1).flatten(1))].view_as(at)  # rows of the batch
        column = torch.arange(n_block, device=bands.device).view(-1, 1, 1).expand_as(at)
        candidate_keys = torch.where(valid, keys[row], _EMPTY)
        all_keys = torch.cat([self.keys[columns], candidate_keys], dim=2)  # [C_block, N_BANDS, 2·PER_BAND]
        candidate_scores = torch.where(valid, scores[row, column], float("nan"))
        all_scores = torch.cat([self.scores[columns], candidate_scores], dim=2)
        all_fires = torch.cat([self.fires[columns], fires[row, column] & valid], dim=2)
        kept_keys, slot = all_keys.sort(dim=2)
        slot = slot[..., :PER_BAND]
        self.keys[columns] = kept_keys[..., :PER_BAND]
        self.scores[columns] = all_scores.gather(2, slot)
        self.fires[columns] = all_fires.gather(2, slot)
        entered = (slot >= PER_BAND) & (kept_keys[..., :PER_BAND] != _EMPTY)
        new_row = row.gather(2, (slot - PER_BAND).clamp(min=0))
        hits = torch.zeros(n_rows, dtype=torch.int32, device=bands.device)
        return hits.index_add_(0, new_row.flatten(), entered.flatten().int()) > 0

    def _update_reaching(
        self, columns: slice, bands: torch.Tensor, scores: torch.Tensor, fires: torch.Tensor, keys: torch.Tensor
    ) -> torch.Tensor:
        """``update_columns`` through the candidates whose key is below the largest kept in their band (no
        other can enter): once the bands are full, few images of a batch are."""
        n_rows = bands.shape[0]
        band = bands.clamp(max=N_BANDS - 1)
        largest = self.keys[columns][:, :, -1].gather(1, band.T).T  # [B, C_block]; _EMPTY while a slot is free
        row, column = ((bands < N_BANDS) & (keys.unsqueeze(1) < largest)).nonzero(as_tuple=True)
        if len(row) == 0:
            return torch.zeros(n_rows, dtype=torch.bool, device=bands.device)
        group = ((columns.start or 0) + column) * N_BANDS + band[row, column]  # a (column, band) of the whole state
        by_key = keys[row].argsort()
        order = by_key[group[by_key].argsort(stable=True)]  # by group, then by key
        row, column, group = row[order], column[order], group[order]
        groups, inverse, counts = torch.unique_consecutive(group, return_inverse=True, return_counts=True)
        place = torch.arange(len(row), device=row.device) - (torch.cumsum(counts, 0) - counts)[inverse]
        first = place < PER_BAND  # more than PER_BAND new ones in a band: only the smallest keys can stay
        row, column, inverse, place = row[first], column[first], inverse[first], place[first]
        shape = (len(groups), PER_BAND)
        new_keys = torch.full(shape, _EMPTY, dtype=torch.int64, device=row.device)
        new_keys[inverse, place] = keys[row]
        new_scores = torch.full(shape, float("nan"), device=row.device)
        new_scores[inverse, place] = scores[row, column]
        new_fires = torch.zeros(shape, dtype=torch.bool, device=row.device)
        new_fires[inverse, place] = fires[row, column]
        new_rows = torch.zeros(shape, dtype=torch.int64, device=row.device)
        new_rows[inverse, place] = row
        kept_keys = self.keys.view(-1, PER_BAND)  # views: writes land in the state
        kept_scores, kept_fires = self.scores.view(-1, PER_BAND), self.fires.view(-1, PER_BAND)
        all_keys, slot = torch.cat([kept_keys[groups], new_keys], dim=1).sort(dim=1)
        slot = slot[:, :PER_BAND]
        kept_keys[groups] = all_keys[:, :PER_BAND]
        kept_scores[groups] = torch.cat([kept_scores[groups], new_scores], dim=1).gather(1, slot)
        kept_fires[groups] = torch.cat([kept_fires[groups], new_fires], dim=1).gather(1, slot)
        entered = (slot >= PER_BAND) & (all_keys[:, :PER_BAND] != _EMPTY)
        hits = torch.zeros(n_rows, dtype=torch.bool, device=bands.device)
        hits[new_rows.gather(1, (slot - PER_BAND).clamp(min=0))[entered]] = True
        return hits

    def merge(self, other: RunningSamples) -> None:
        """Fold another shard's or session's samples into these (the smallest keys of the union)."""
        all_keys = torch.cat([self.keys, other.keys.to(self.keys.device)], dim=2)
        all_scores = torch.cat([self.scores, other.scores.to(self.scores.device)], dim=2)
        all_fires = torch.cat([self.fires, other.fires.to(self.fires.device)], dim=2)
        kept_keys, slot = all_keys.sort(dim=2)
        slot = slot[..., :PER_BAND]
        self.keys = kept_keys[..., :PER_BAND].contiguous()
        self.scores = all_scores.gather(2, slot)
        self.fires = all_fires.gather(2, slot)

    #: The tensors of the state, by name: what checkpoints save and ranks exchange.
    STATE = ("keys", "scores", "fires")

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).detach().to("cpu", copy=True) for name in self.STATE}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], n_bins: int, device: torch.device | str) -> RunningSamples:
        samples = cls(int(state["keys"].shape[0]), n_bins, device)
        for name in cls.STATE:
            getattr(samples, name).copy_(state[name])
        return samples

    def summary(self) -> SamplesSummary:
        keys = self.keys.cpu()
        filled = keys != _EMPTY
        return SamplesSummary(
            indices=torch.where(filled, keys & _LOW32, -1).numpy(),
            scores=torch.where(filled, self.scores.cpu(), float("nan")).numpy(),
            fires=(self.fires.cpu() & filled).numpy(),
        )
