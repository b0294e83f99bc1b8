"""One job per output folder: an exclusive lock on the atlas root, held for the whole job.

Two jobs writing into one atlas root would race on the same partial state (``.partial/<slug>/`` and
its checkpoints): each clears or moves what the other is writing. So every command that writes
atlases (``python -m precompute`` ``build``, ``o3`` and ``reproduce`` into an atlas root, and
``python -m quickstart``) first takes the lock file ``<root>/.job.lock``; under ``torchrun`` rank 0
takes it for the whole job. A second command on the same root is refused at once
(``FolderInUseError``), with the running job named: its host, pid, start and command line, which the
holder writes into the lock file.

The lock is a POSIX record lock (``fcntl.lockf``), which the kernel releases when its process ends,
however it ends: a killed job never blocks ``--resume`` (the next holder overwrites its stale
record). POSIX rather than ``flock``: the image-decoding processes a job forks do not inherit it (a
``flock`` lock lives on in them for seconds after the job is killed), and NFS honours it across
machines where the server supports locking (NFSv4, or NFSv3 with lockd; a mount with ``nolock`` or
``local_lock=all`` locks per machine only). Closing any descriptor of the file releases a POSIX lock
in its holder, so this module is the only code that opens it, and one process takes it once: nested
holders of the same folder (quickstart around its jobs) share it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from qkatlas.errors import ActionableError

#: The lock file, in the folder it locks (a hidden file: never taken for an atlas, which is a folder).
LOCK_FILE = ".job.lock"

#: How long a refused command waits for the holder's record to be readable: the holder writes it just
#: after taking the lock, so an empty file means "just started".
_RECORD_WAIT_S = 1.0

#: The characters of the holder's command line a refusal shows.
_COMMAND_SHOWN = 200

#: The folders this process holds (resolved path → nesting depth).
_held: dict[Path, int] = {}


class FolderInUseError(ActionableError):
    """Another job holds the output folder's lock; the message names it."""


class FolderLockError(ActionableError):
    """The output folder's lock could not be taken at all (no such folder can be made, no locks)."""


class LockHolder(BaseModel):
    """Who holds an output folder: written into its lock file by the holder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    pid: int
    started: datetime
    command: str

    @classmethod
    def this_process(cls) -> LockHolder:
        return cls(
            host=socket.gethostname(), pid=os.getpid(), started=datetime.now(UTC), command=shlex.join(sys.orig_argv)
        )

    def describe(self) -> str:
        started = self.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        command = self.command if len(self.command) <= _COMMAND_SHOWN else self.command[:_COMMAND_SHOWN] + " …"
        return f"pid {self.pid} on {self.host}, started {started}\n  ({command})"


@contextlib.contextmanager
def hold_output_folder(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock within (the folder is made if missing). Raises ``FolderInUseError`` at once
    when another process holds it, ``FolderLockError`` when it cannot be taken."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key = folder.resolve()
    except OSError as error:
        raise FolderLockError(f"cannot create the output folder {folder}: {error.strerror or error}") from None
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise FolderLockError(f"cannot create the lock file {path}: {error.strerror or error}") from None
    try:
        _lock(fd, path, folder)
        record = LockHolder.this_process().model_dump_json().encode()
        with contextlib.suppress(OSError):  # a full disk: the lock holds without it (the job reports the disk)
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, path: Path, folder: Path) -> None:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EAGAIN):
            holder = _read_holder(fd)
            who = holder.describe() if holder is not None else f"its record in {path} is unreadable"
            raise FolderInUseError(
                f"the output folder {folder} is in use by another job: {who}.\n"
                "Two jobs on one folder would overwrite each other's work: wait for that one to finish, or stop it "
                "(a job that ended or was killed leaves no lock; rerun with --resume to continue its work), or "
                "give this one another folder."
            ) from None
        raise FolderLockError(
            f"cannot lock {path}: {error.strerror or error}; the file system does not support locks (an NFS "
            "mount with nolock?): write the atlases to a local folder and copy them over"
        ) from None


def _read_holder(fd: int) -> LockHolder | None:
    """The holder's record, waiting briefly for a holder that has just taken the lock to write it."""
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        try:
            return LockHolder.model_validate_json(os.pread(fd, 1 << 16, 0))
        except ValidationError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
