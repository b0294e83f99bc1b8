"""The running top-K against a brute-force full ranking."""

import numpy as np
import pytest
import torch

from qkatlas.topk import RunningTopK


def _brute_force(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scores [N, C] -> per column, (index, score) of the k best, ties to the lower index."""
    n_images, n_columns = scores.shape
    indices = np.full((n_columns, k), -1)
    best = np.full((n_columns, k), -np.inf)
    for column in range(n_columns):
        ranked = sorted(range(n_images), key=lambda i: (-scores[i, column], i))[:k]
        indices[column, : len(ranked)] = ranked
        best[column, : len(ranked)] = scores[ranked, column]
    return indices, best


def test_streamed_top_k_equals_brute_force_with_ties_and_nans() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=(53, 40)).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.05] = np.nan
    clean = np.nan_to_num(scores, nan=-np.inf)
    topk = RunningTopK(n_columns=40, k=7, device="cpu")
    for start in range(0, 53, 8):
        batch = torch.from_numpy(scores[start : start + 8])
        topk.update(batch, torch.arange(start, start + len(batch)))
    indices, best = _brute_force(clean, 7)
    top_scores, ranked, _ = topk.ranked()
    np.testing.assert_array_equal(ranked.numpy(), indices)
    np.testing.assert_array_equal(top_scores.numpy(), best)


def test_fewer_images_than_k_leaves_empty_slots() -> None:
    topk = RunningTopK(n_columns=2, k=5, device="cpu")
    topk.update(torch.tensor([[1.0, -2.0], [3.0, -1.0]]), torch.tensor([4, 9]))
    assert topk.ranked()[1].tolist() == [[9, 4, -1, -1, -1], [9, 4, -1, -1, -1]]


def test_merging_shards_in_any_order_equals_one_pass() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(30, 5)).astype(np.float32)
    whole = RunningTopK(5, 6, "cpu")
    whole.update(torch.from_numpy(scores), torch.arange(30))
    shards = []
    for rank in range(3):
        shard = RunningTopK(5, 6, "cpu")
        rows = np.arange(rank, 30, 3)  # interleaved sharding, like a distributed sampler
        shard.update(torch.from_numpy(scores[rows]), torch.from_numpy(rows))
        shards.append(shard)
    merged = shards[2]
    merged.merge(shards[0])
    merged.merge(shards[1])
    for mine, theirs in zip(merged.ranked()[:2], whole.ranked()[:2], strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_payload_follows_its_entry_through_batches_and_merges() -> None:
    """Each slot's payload must stay with its (column, image) entry however the slots reshuffle."""
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(40, 6)).astype(np.float32)

    def tag(columns: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return (images * 100 + columns).float().unsqueeze(1)  # [n, 1]

    def stream(rows: np.ndarray) -> RunningTopK:
        topk = RunningTopK(6, 5, "cpu", payload_shape=(1,), payload_dtype=torch.float32)
        for start in range(0, len(rows), 7):
            chunk = torch.from_numpy(rows[start : start + 7])

            def fetch(columns: torch.Tensor, picked: torch.Tensor, chunk: torch.Tensor = chunk) -> torch.Tensor:
                return tag(columns, chunk[picked])

            entered = topk.update(torch.from_numpy(scores[chunk.numpy()]), chunk, fetch=fetch)
            # A row entered exactly when its image now holds a slot of some column.
            assert entered.tolist() == [int(i) in set(topk.indices.flatten().tolist()) for i in chunk]
        return topk

    whole = stream(np.arange(40))
    _, indices, payload = whole.ranked()
    assert payload is not None
    expected = indices * 100 + torch.arange(6).unsqueeze(1)
    np.testing.assert_array_equal(payload[..., 0].numpy(), expected.float().numpy())
    merged = stream(np.arange(0, 40, 2))
    merged.merge(stream(np.arange(1, 40, 2)))
    for mine, theirs in zip(merged.ranked(), whole.ranked(), strict=True):
        assert mine is not None and theirs is not None
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def _stream_both_ways(scores: np.ndarray, k: int, batch: int) -> tuple[RunningTopK, RunningTopK]:
    """The same stream merged compactly and with fixed shapes (both must report the same rows entering)."""
    compact = RunningTopK(scores.shape[1], k, "cpu", payload_shape=(2,), payload_dtype=torch.float32, compact=True)
    fixed = RunningTopK(scores.shape[1], k, "cpu", payload_shape=(2,), payload_dtype=torch.float32, compact=False)
    for start in range(0, len(scores), batch):
        rows = torch.arange(start, min(start + batch, len(scores)))

        def fetch(columns: torch.Tensor, picked: torch.Tensor, rows: torch.Tensor = rows) -> torch.Tensor:
            return torch.stack([rows[picked].float(), columns.float()], dim=1)

        chunk = torch.from_numpy(scores[rows.numpy()])
        entered = fixed.update(chunk, rows, fetch=fetch)
        assert torch.equal(compact.update(chunk, rows, fetch=fetch), entered)
    return compact, fixed


def test_fixed_shape_merges_equal_compact_ones_slot_for_slot() -> None:
    """The GPU path (no host synchronization) leaves every slot, score and payload as the CPU path does."""
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(61, 9)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.05] = np.nan
    compact, fixed = _stream_both_ways(scores, k=6, batch=8)
    for mine, theirs in ((fixed.scores, compact.scores), (fixed.indices, compact.indices)):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert fixed.payload is not None and compact.payload is not None
    np.testing.assert_array_equal(fixed.payload.numpy(), compact.payload.numpy())
    indices, best = _brute_force(np.nan_to_num(scores, nan=-np.inf), 6)
    top_scores, ranked, payload = fixed.ranked()
    np.testing.assert_array_equal(ranked.numpy(), indices)
    np.testing.assert_array_equal(top_scores.numpy(), best)
    assert payload is not None  # each slot's payload is (image, column) of its own entry
    np.testing.assert_array_equal(payload[..., 0].numpy()[ranked >= 0], ranked.numpy()[ranked >= 0])


def test_fixed_shape_merges_never_ask_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the structure the GPU relies on: no data-dependent shape and no value read back to the
    host inside a merge (on CUDA each of these would wait for the device)."""
    rng = np.random.default_rng(4)
    scores = torch.from_numpy(rng.normal(size=(16, 5)).astype(np.float32))
    topk = RunningTopK(5, 4, "cpu", payload_shape=(1,), payload_dtype=torch.float32, compact=False)

    def host_read(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a merge read device data back to the host")

    for name in ("nonzero", "item", "tolist", "unique", "__bool__", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, host_read)
    for name in ("nonzero", "unique", "masked_select"):
        monkeypatch.setattr(torch, name, host_read)
    for start in (0, 8):
        rows = torch.arange(start, start + 8)
        topk.update(scores[start : start + 8], rows, fetch=lambda c, r: torch.zeros(len(c), 1))
    monkeypatch.undo()
    assert topk.compact is False and (topk.indices >= 0).all()


def _brute_force_runner_up(scores: np.ndarray, k: int) -> np.ndarray:
    """scores [N, C] -> per column, the (k+1)-th best score (-inf when there are k images or fewer)."""
    ordered = -np.sort(-scores, axis=0)
    return ordered[k] if len(scores) > k else np.full(scores.shape[1], -np.inf)


@pytest.mark.parametrize("compact", [True, False])
def test_runner_up_is_the_best_score_left_out(compact: bool) -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 8, size=(45, 12)).astype(np.float32)  # ties at the cut-off too
    scores[rng.random(scores.shape) < 0.05] = np.nan
    topk = RunningTopK(12, 5, "cpu", compact=compact)
    for start in range(0, 45, 6):
        topk.update(torch.from_numpy(scores[start : start + 6]), torch.arange(start, min(start + 6, 45)))
    np.testing.assert_array_equal(topk.runner_up.numpy(), _brute_force_runner_up(np.nan_to_num(scores, nan=-np.inf), 5))


def test_runner_up_survives_shard_merges_and_state_dicts() -> None:
    rng = np.random.default_rng(6)
    scores = rng.normal(size=(33, 4)).astype(np.float32)
    shards = []
    for rank in range(3):
        rows = np.arange(rank, 33, 3)
        shard = RunningTopK(4, 6, "cpu")
        shard.update(torch.from_numpy(scores[rows]), torch.from_numpy(rows))
        restored = RunningTopK(4, 6, "cpu")
        restored.load_state_dict(shard.state_dict())
        shards.append(restored)
    merged = shards[1]
    merged.merge(shards[2])
    merged.merge(shards[0])
    np.testing.assert_array_equal(merged.runner_up.numpy(), _brute_force_runner_up(scores, 6))


def test_too_few_images_leave_no_runner_up() -> None:
    topk = RunningTopK(2, 3, "cpu")
    topk.update(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), torch.tensor([0, 1, 2]))
    assert torch.isneginf(topk.runner_up).all()


def test_a_state_without_runner_up_is_refused() -> None:
    old = RunningTopK(2, 3, "cpu").state_dict()
    del old["runner_up"]
    with pytest.raises(ValueError, match="runner-up"):
        RunningTopK(2, 3, "cpu").load_state_dict(old)
