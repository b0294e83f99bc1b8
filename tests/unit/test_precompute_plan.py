"""Planning models into groups that fit the device, and the background writer's guarantees."""

from __future__ import annotations

import errno
import itertools
import threading
from pathlib import Path

import pytest

from precompute.background import BackgroundWriter, DiskFullError
from precompute.plan import MemoryNeed, plan_groups

GIB = 1024**3


def _fits(needs: list[MemoryNeed], members: tuple[int, ...], budget: int) -> bool:
    """The group fits, or it is one model that fits nowhere."""
    need = sum(needs[i].resident for i in members) + max(needs[i].transient for i in members)
    return need <= budget or len(members) == 1


@pytest.mark.parametrize("budget", [3 * GIB, 5 * GIB, 9 * GIB, 100 * GIB])
def test_groups_keep_the_order_fit_the_budget_and_are_as_large_as_the_order_allows(budget: int) -> None:
    needs = [MemoryNeed(r * GIB, t * GIB) for r, t in [(1, 1), (2, 2), (1, 3), (4, 1), (2, 1), (1, 1)]]
    groups = plan_groups(needs, budget)
    assert [i for group in groups for i in group.members] == list(range(len(needs)))
    for group, following in itertools.pairwise(groups):
        assert _fits(needs, group.members, budget)
        # the next model did not fit: otherwise it would have joined
        assert not _fits(needs, (*group.members, following.members[0]), budget)
    assert _fits(needs, groups[-1].members, budget)


def test_a_model_larger_than_the_budget_gets_a_group_of_its_own() -> None:
    groups = plan_groups([MemoryNeed(GIB, GIB), MemoryNeed(50 * GIB, GIB), MemoryNeed(GIB, GIB)], 4 * GIB)
    assert [group.members for group in groups] == [(0,), (1,), (2,)]


def test_writer_runs_tasks_in_order_and_waits_when_its_queue_is_full() -> None:
    done: list[int] = []
    gate = threading.Event()
    with BackgroundWriter("hint", max_pending=2) as writer:
        writer.submit(lambda: gate.wait(), what="gate")
        writer.submit(done.append, 1, what="one")
        writer.submit(done.append, 2, what="two")
        blocked = threading.Thread(target=writer.submit, args=(done.append, 3), kwargs={"what": "three"})
        blocked.start()
        blocked.join(0.2)
        assert blocked.is_alive()  # bounded: the fourth task waits for room
        gate.set()
        blocked.join(5)
        writer.flush()
    assert done == [1, 2, 3]


def test_after_a_full_disk_nothing_more_runs_and_the_error_says_what_to_do(tmp_path: Path) -> None:
    later = tmp_path / "later"

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    writer = BackgroundWriter("free some space, then rerun with --resume")
    writer.submit(full, what="thumbnails in X")
    writer.submit(later.write_text, "written after the failure", what="a checkpoint")
    with pytest.raises(DiskFullError, match=r"no space left on the device while writing thumbnails in X; free"):
        writer.flush()
    writer.close(raise_error=False)
    assert not later.exists()  # a checkpoint must never claim what failed before it
