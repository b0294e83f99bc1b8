"""A background thread that writes thumbnails and checkpoints off the stream's critical path.

Tasks run one at a time, in the order submitted, so a checkpoint is on disk only after every thumbnail
submitted before it (resume relies on that). The queue is bounded: when the disk is slower than the
stream, ``submit`` waits instead of letting memory grow. After the first failure the writer runs
nothing more (a later checkpoint must never claim thumbnails that were not written) and the error is
raised, translated (``disk_error``), at the next ``submit`` or ``flush``.
"""

from __future__ import annotations

import errno
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Submitted tasks that may wait for the writer; each holds at most one batch's thumbnails or one
#: checkpoint's tensors, so memory stays bounded.
MAX_PENDING = 64


class DiskFullError(RuntimeError):
    """The device holding the atlas ran out of space; the message says what to do."""


def disk_error(error: OSError, what: str, hint: str, folder: Path | None = None) -> RuntimeError:
    """A clear error for a failed write: ``DiskFullError`` when the device is full, with the space left
    on the device of the file the error names, else of ``folder`` (a failed ``write`` names none)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        path = Path(os.fsdecode(error.filename)) if error.filename else folder
        free = _free_space(path) if path is not None else None
        where = f" ({free})" if free else ""
        return DiskFullError(f"no space left on the device while writing {what}{where}; {hint}")
    return RuntimeError(f"could not write {what}: {error.strerror or error}; {hint}")


def _free_space(path: Path) -> str | None:
    """``"1.5 MiB free in /folder"``: the space left to this user on the device of ``path``'s nearest
    existing folder."""
    folder = next((parent for parent in (path, *path.parents) if parent.is_dir()), None)
    if folder is None:
        return None
    try:
        free = float(shutil.disk_usage(folder).free)
    except OSError:
        return None
    units, power = ("B", "KiB", "MiB", "GiB", "TiB"), 0
    while free >= 1024 and power < len(units) - 1:
        free, power = free / 1024, power + 1
    amount = f"{free:.0f} B" if power == 0 else f"{free:.1f} {units[power]}"
    return f"{amount} free in {folder}"


_Task = tuple[Callable[..., object], tuple[Any, ...], str]


class BackgroundWriter:
    """``submit(fn, *args, what=...)`` runs ``fn(*args)`` on the writer thread; use as a context manager
    (leaving it waits for every task and stops the thread). ``hint`` ends every error message.

    ``busy_seconds``: time the thread spent running tasks, ``cpu_seconds`` the CPU time it used doing
    so; ``waited_seconds``: time ``submit`` waited for room in the queue (the stream held up by the disk).
    """

    def __init__(self, hint: str, max_pending: int = MAX_PENDING, folder: Path | None = None) -> None:
        """``folder``: where the tasks write (its free space is reported when the disk is full)."""
        self._hint, self._folder = hint, folder
        self._tasks: queue.Queue[_Task | None] = queue.Queue(max_pending)
        self._error: BaseException | None = None
        self.busy_seconds = 0.0
        self.cpu_seconds = 0.0
        self.waited_seconds = 0.0
        self._thread = threading.Thread(target=self._work, name="qkatlas-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(raise_error=exc[0] is None)

    def submit(self, fn: Callable[..., object], *args: Any, what: str) -> None:
        self._raise_if_failed()
        start = time.perf_counter()
        self._tasks.put((fn, args, what))
        self.waited_seconds += time.perf_counter() - start

    def flush(self) -> None:
        """Wait until every submitted task has run; raise the first failure."""
        self._tasks.join()
        self._raise_if_failed()

    def close(self, raise_error: bool = True) -> None:
        if self._thread.is_alive():
            self._tasks.put(None)
            self._thread.join()
        if raise_error:
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                if task is None:
                    return
                fn, args, what = task
                if self._error is None:
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    try:
                        fn(*args)
                    except OSError as error:
                        self._error = disk_error(error, what, self._hint, self._folder)
                    except Exception as error:  # reported to the stream's thread, never lost
                        self._error = RuntimeError(f"could not write {what}: {error}")
                    finally:
                        self.busy_seconds += time.perf_counter() - start
                        self.cpu_seconds += time.thread_time() - start_cpu
            finally:
                self._tasks.task_done()
