"""The in-process cache (the embedded default, and Redis' fallback): TTLs, size bound, counters; the
per-process tier in front of a shared cache; the versioned codec of upload-analysis entries."""

from __future__ import annotations

import asyncio
import io
import pickle

import numpy as np

from backend.core.cache import LocalFirstCache, MemoryCache
from backend.schemas import RedisState
from backend.services.analysis.codec import (
    ATTENTION_CODEC,
    CODEC_VERSION,
    HEAD_CODEC,
    MODEL_SCORES_CODEC,
    AttentionRow,
    HeadAnalysis,
    ModelScores,
)
from qkatlas.conventions import Basis
from tests.helpers.clock import FakeClock


def test_values_expire_after_their_ttl(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(1024, clock=clock)
        await cache.set("a", b"1", ttl_s=1)
        assert await cache.get("a") == b"1"
        clock.advance(0.99)
        assert await cache.get("a") == b"1"
        assert await cache.get_prefix("") == {"a": b"1"}
        clock.advance(0.01)
        assert await cache.get("a") is None
        assert await cache.get_prefix("") == {}

    asyncio.run(scenario())


def test_size_bound_evicts_least_recently_used() -> None:
    async def scenario() -> None:
        cache = MemoryCache(max_bytes=10)
        await cache.set_many({"a": b"1234", "b": b"5678"}, ttl_s=60)
        assert await cache.get("a") == b"1234"  # a is now the most recently used
        await cache.set("c", b"9012", ttl_s=60)
        assert await cache.get("b") is None
        assert await cache.get("a") == b"1234" and await cache.get("c") == b"9012"
        await cache.set("huge", b"x" * 11, ttl_s=60)  # larger than the whole cache: not stored
        assert await cache.get("huge") is None

    asyncio.run(scenario())


def test_expired_entries_free_their_room_first(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(max_bytes=10, clock=clock)
        await cache.set("old", b"1234", ttl_s=1)
        await cache.set("young", b"5678", ttl_s=60)
        assert await cache.get("old") == b"1234"  # old is now the most recently used ...
        clock.advance(1)  # ... but expired
        await cache.set("new", b"9012", ttl_s=60)  # the expired entry goes, not the least recently used
        assert await cache.get("young") == b"5678" and await cache.get("new") == b"9012"

    asyncio.run(scenario())


def test_counters_count_within_a_window_and_reset_after_it(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(1024, clock=clock)
        assert [await cache.incr("k", ttl_s=1) for _ in range(3)] == [1, 2, 3]
        clock.advance(0.99)
        assert await cache.incr("k", ttl_s=1) == 4  # the window runs from the first increment
        clock.advance(0.01)
        assert await cache.incr("k", ttl_s=1) == 1

    asyncio.run(scenario())


def test_state_is_not_configured() -> None:
    assert asyncio.run(MemoryCache(1).state()) is RedisState.not_configured


class _CountingCache(MemoryCache):
    """A shared cache that counts the reads that reach it."""

    def __init__(self) -> None:
        super().__init__(1 << 20)
        self.reads = 0

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        return await super().get(key)


def test_local_first_reads_the_shared_cache_once_per_key_and_writes_both(clock: FakeClock) -> None:
    async def scenario() -> None:
        shared = _CountingCache()
        await shared.set("rendered elsewhere", b"png", ttl_s=60)
        cache = LocalFirstCache(MemoryCache(1 << 20, clock=clock), shared, local_ttl_s=10)
        assert [await cache.get("rendered elsewhere") for _ in range(3)] == [b"png"] * 3
        assert shared.reads == 1  # then kept locally
        await cache.set("rendered here", b"new", ttl_s=60)
        assert await shared.get("rendered here") == b"new"  # other processes see it
        reads = shared.reads
        assert await cache.get("rendered here") == b"new" and shared.reads == reads
        assert await cache.get("missing") is None and shared.reads == reads + 1
        clock.advance(10)  # the local copy expires, the shared one lives on
        assert await cache.get("rendered elsewhere") == b"png" and shared.reads == reads + 2
        assert await cache.incr("counter", ttl_s=60) == 1 and await shared.incr("counter", ttl_s=60) == 2

    asyncio.run(scenario())


def _head() -> HeadAnalysis:
    rng = np.random.default_rng(0)
    bases = (Basis.faithful, Basis.exact)
    return HeadAnalysis(
        query={b: rng.normal(size=(4, 3, 3)).astype(np.float16) for b in bases},
        key={b: rng.normal(size=(4, 3, 3)).astype(np.float16) for b in bases},
        scores={b: rng.normal(size=(4, 2)).astype(np.float32) for b in bases},
        contribution={b: rng.normal(size=4).astype(np.float32) for b in bases},
        key_salience=rng.normal(size=(3, 3)).astype(np.float32),
    )


def _assert_same_arrays(decoded: object, original: object) -> None:
    assert type(decoded) is type(original)
    for name, value in vars(original).items():
        got = vars(decoded)[name]
        pairs = [(got[b], value[b]) for b in value] if isinstance(value, dict) else [(got, value)]
        assert not isinstance(value, dict) or got.keys() == value.keys()
        for a, b in pairs:
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name


def test_analysis_entries_round_trip_exactly() -> None:
    head = _head()
    _assert_same_arrays(HEAD_CODEC.decode(HEAD_CODEC.encode(head)), head)
    scores = ModelScores(
        scores={Basis.exact: np.arange(24, dtype=np.float32).reshape(1, 2, 6, 2)},
        contribution={Basis.exact: np.arange(12, dtype=np.float32).reshape(1, 2, 6)},
    )
    _assert_same_arrays(MODEL_SCORES_CODEC.decode(MODEL_SCORES_CODEC.encode(scores)), scores)
    row = AttentionRow(
        attention=np.linspace(0, 1, 5, dtype=np.float32),
        mode_logits=np.ones((3, 5), np.float32),
        key_term=np.full(5, -2, np.float32),
        reconstructed=np.linspace(1, 2, 5, dtype=np.float32),
    )
    _assert_same_arrays(ATTENTION_CODEC.decode(ATTENTION_CODEC.encode(row)), row)


def test_entries_of_another_version_kind_or_layout_are_misses() -> None:
    head = _head()
    good = HEAD_CODEC.encode(head)
    # What the service wrote before the codec had a version: a bare npz of the same arrays.
    arrays = {
        f"{name}.{basis.value}": value
        for name in ("query", "key", "scores", "contribution")
        for basis, value in getattr(head, name).items()
    }
    unversioned = io.BytesIO()
    np.savez(unversioned, key_salience=head.key_salience, **arrays)
    other_version = good.replace(f" v{CODEC_VERSION}\n".encode(), f" v{CODEC_VERSION + 1}\n".encode(), 1)
    header = HEAD_CODEC.header
    pickled = header + pickle.dumps({"query": head.query})
    with_object_array = io.BytesIO()
    np.savez(with_object_array, key_salience=np.array([{"a": 1}], dtype=object))
    stale: dict[str, bytes] = {
        "unversioned": unversioned.getvalue(),
        "another version": other_version,
        "another record": MODEL_SCORES_CODEC.encode(ModelScores(scores=head.scores, contribution=head.contribution)),
        "truncated": good[: len(good) // 2],
        "corrupt": header + b"PK\x03\x04" + bytes(range(256)) * 4,
        "a pickle": pickled,
        "an object array": header + with_object_array.getvalue(),
        "a field missing": header + good[len(header) :].replace(b"key_salience", b"key_saliencX"),
        "empty": b"",
    }
    for case, raw in stale.items():
        assert HEAD_CODEC.decode(raw) is None, case
    wrong_dtype = HeadAnalysis(
        head.query, head.key, head.scores, head.contribution, head.key_salience.astype(np.float64)
    )
    assert HEAD_CODEC.decode(HEAD_CODEC.encode(wrong_dtype)) is None
    one_basis_short = HeadAnalysis(
        head.query, {Basis.exact: head.key[Basis.exact]}, head.scores, head.contribution, head.key_salience
    )
    assert HEAD_CODEC.decode(HEAD_CODEC.encode(one_basis_short)) is None
