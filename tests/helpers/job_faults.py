"""Breaking the precompute job on purpose at points chosen by events inside it, not by sleeping.

A job started with ``start_job(command, fault=FaultPoint(...))`` imports ``fault_hook/sitecustomize.py``
(see there), which stops the process (SIGSTOP) right after the chosen call: the n-th checkpoint
written, the stream past image n, the n-th batch of thumbnails, the n-th array of the atlas being
published. ``RunningJob.wait_for_fault`` waits until a process of the job has stopped there; the test
then kills it (``kill``: one process; ``kill_all``: ``torchrun`` and all its ranks) or lets it go on
(``resume``). The same hook fills the disk, or fails a write with ENOSPC, just before a chosen call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

HOOK = Path(__file__).resolve().parent / "fault_hook"

#: Longest wait for a job to reach its fault point or to end: a guard against a hang, never a threshold
#: the test depends on (every wait ends on an event well before it).
_PATIENCE_S = 300


@dataclass(frozen=True)
class FaultPoint:
    """Where and how the job breaks: at the ``calls``-th call of ``target`` (``module:qualname``), or at
    the first call that leaves its object's ``position`` at ``position`` or more; in the process of rank
    ``rank`` under ``torchrun``. ``action``: ``stop`` the process after the call, ``fill`` the disk of
    ``filler`` before it, or fail it with ``enospc``. ``label`` says where, for messages."""

    label: str
    target: str
    calls: int | None = None
    position: int | None = None
    rank: int | None = None
    action: Literal["stop", "fill", "enospc"] = "stop"
    filler: Path | None = None

    def environment(self, markers: Path) -> dict[str, str]:
        env = {"QKFAULT_AT": self.target, "QKFAULT_ACTION": self.action, "QKFAULT_MARKERS": str(markers)}
        for name, value in (
            ("QKFAULT_CALLS", self.calls),
            ("QKFAULT_POSITION", self.position),
            ("QKFAULT_RANK", self.rank),
            ("QKFAULT_FILLER", self.filler),
        ):
            if value is not None:
                env[name] = str(value)
        return env


@dataclass
class RunningJob:
    """A job started by ``start_job``; its output goes to ``log`` (stdout and stderr)."""

    process: subprocess.Popen[bytes]
    markers: Path
    log: Path
    fault: FaultPoint | None

    def wait_for_fault(self) -> int:
        """Wait until a process of the job has stopped at the fault point; return its pid. Fails when the job
        ends first (the point was never reached)."""
        assert self.fault is not None and self.fault.action == "stop"
        deadline = time.monotonic() + _PATIENCE_S
        while not (stopped := list(self.markers.iterdir())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the job ended before stopping {self.fault.label}:\n{self.output()[-3000:]}")
            time.sleep(0.01)
        pid = int(stopped[0].name)
        while _state(pid) not in ("T", None):  # the marker is written just before the process stops itself
            time.sleep(0.001)
        return pid

    def kill(self, pid: int) -> None:
        """SIGKILL one process of the job (the stopped one)."""
        os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL every process of the job: ``torchrun`` and its workers (which it starts in sessions of
        their own, so that killing its process group alone would leave them running)."""
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def resume(self, pid: int) -> None:
        """Let the stopped process go on."""
        os.kill(pid, signal.SIGCONT)

    def wait(self) -> int:
        """The job's exit status, once it has ended."""
        return self.process.wait(timeout=_PATIENCE_S)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_job(command: list[str], workdir: Path, fault: FaultPoint | None = None) -> RunningJob:
    """Start ``command`` with ``fault`` armed; ``workdir`` (made fresh) keeps its
    output and the hook's markers."""
    workdir.mkdir(parents=True)
    markers = workdir / "stopped"
    markers.mkdir()
    env = dict(os.environ)
    if fault is not None:
        env.update(fault.environment(markers))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(HOOK), env.get("PYTHONPATH"))))
    log = workdir / "output.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    return RunningJob(process, markers, log, fault)


def run_job_to_end(command: list[str], workdir: Path, fault: FaultPoint | None = None) -> tuple[int, str]:
    """Run ``command`` (``fault`` armed) to its end; return its exit status and output."""
    job = start_job(command, workdir, fault)
    return job.wait(), job.output()


def _descendants(pid: int) -> list[int]:
    """Every process started by ``pid``, and by those, ... (read from ``/proc``)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            children += [int(child) for child in (task / "children").read_text().split()]
    return [descendant for child in children for descendant in (child, *_descendants(child))]


def _state(pid: int) -> str | None:
    """The process's state letter in ``/proc`` (``T``: stopped), ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]
