"""A running top-K of image scores for many independent columns, kept on the compute device.

Each column is one (basis, layer, head, mode, sign). The order is "higher score first, then lower
image index", so the result is a pure function of the set of (score, index) pairs seen: independent of
batch boundaries and of the order in which shards are merged (merging is associative).
"""

from __future__ import annotations

import torch


class RunningTopK:
    """``scores, indices: [C, K]``; unfilled slots hold ``-inf`` and index ``-1``."""

    def __init__(self, n_columns: int, k: int, device: torch.device | str) -> None:
        self.k = k
        self.scores = torch.full((n_columns, k), float("-inf"), device=device)
        self.indices = torch.full((n_columns, k), -1, dtype=torch.int64, device=device)

    def update(self, batch_scores: torch.Tensor, batch_indices: torch.Tensor) -> None:
        """Merge a batch: ``batch_scores [B, C]`` (NaN counts as worst), ``batch_indices [B]``."""
        n_columns = self.scores.shape[0]
        scores = torch.nan_to_num(batch_scores.float(), nan=float("-inf")).T  # [C, B]
        indices = batch_indices.to(self.indices.device).unsqueeze(0).expand(n_columns, -1)
        self._merge(scores, indices)

    def merge(self, other: RunningTopK) -> None:
        """Fold another shard's top-K into this one."""
        self._merge(other.scores.to(self.scores.device), other.indices.to(self.indices.device))

    def _merge(self, scores: torch.Tensor, indices: torch.Tensor) -> None:
        all_scores = torch.cat([self.scores, scores], dim=1)
        all_indices = torch.cat([self.indices, indices], dim=1)
        # Unfilled slots (index -1) must lose every tie, so treat their index as +inf.
        tie_key = torch.where(all_indices < 0, torch.iinfo(torch.int64).max, all_indices)
        by_index = tie_key.argsort(dim=1, stable=True)
        all_scores = all_scores.gather(1, by_index)
        all_indices = all_indices.gather(1, by_index)
        by_score = all_scores.argsort(dim=1, descending=True, stable=True)[:, : self.k]
        self.scores = all_scores.gather(1, by_score)
        self.indices = all_indices.gather(1, by_score)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"scores": self.scores.cpu(), "indices": self.indices.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["scores"].shape != self.scores.shape:
            raise ValueError(
                f"top-K state has shape {tuple(state['scores'].shape)}, expected {tuple(self.scores.shape)}"
            )
        self.scores = state["scores"].to(self.scores.device)
        self.indices = state["indices"].to(self.indices.device)
