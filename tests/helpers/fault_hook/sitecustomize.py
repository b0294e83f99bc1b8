"""One fault at a chosen point of a child Python process (the precompute job): imported at start-up
when this folder leads the child's ``PYTHONPATH`` (``tests.helpers.job_faults`` sets it up).

``QKFAULT_AT`` names the function, ``module:qualname`` (``precompute.model_stream:ModelStream.score``);
the fault strikes at its ``QKFAULT_CALLS``-th call, or at the first call that leaves its object's
``position`` at ``QKFAULT_POSITION`` or more, in the process of rank ``QKFAULT_RANK`` (a single
process when unset). ``QKFAULT_ACTION`` is what it does:

- ``stop`` (after the call): create ``QKFAULT_MARKERS/<pid>`` and stop the process (SIGSTOP), so that
  the test kills it (or lets it go on) exactly there, however fast the machine is;
- ``fill`` (before the call): fill the disk holding ``QKFAULT_FILLER`` with that file, so that the call
  meets a real full disk;
- ``enospc`` (before the call): the call fails as on a full disk, ``OSError(ENOSPC)``.

Nothing here runs without ``QKFAULT_AT``; the product's code has no test-only branch.
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

_CHUNK = 1 << 20


def _install() -> None:
    target = os.environ.get("QKFAULT_AT")
    rank = os.environ.get("QKFAULT_RANK")
    if not target or (rank is not None and os.environ.get("RANK") != rank):
        return  # no fault, or not the rank it is for (the torchrun agent has no RANK)
    module_name, _, qualname = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, _faulty(getattr(owner, name)))


def _faulty(function: Callable[..., Any]) -> Callable[..., Any]:
    action = os.environ.get("QKFAULT_ACTION", "stop")
    calls_wanted = int(os.environ["QKFAULT_CALLS"]) if "QKFAULT_CALLS" in os.environ else None
    position_wanted = int(os.environ["QKFAULT_POSITION"]) if "QKFAULT_POSITION" in os.environ else None
    state = {"calls": 0, "struck": False}
    lock = threading.Lock()  # the function may run on several threads at once (the atlas writer's)

    def due(number: int, args: tuple[Any, ...]) -> bool:
        """Whether the call numbered ``number`` (counted when it began) is the one to strike."""
        if state["struck"]:
            return False
        if calls_wanted is not None:
            return number == calls_wanted
        return position_wanted is not None and getattr(args[0], "position", -1) >= position_wanted

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            state["calls"] += 1
            number = state["calls"]
        if action != "stop" and due(number, args):
            state["struck"] = True
            if action == "fill":
                _fill_disk()
            else:
                _no_space()
        result = function(*args, **kwargs)
        if action == "stop" and due(number, args):
            state["struck"] = True
            _stop()
        return result

    return wrapper


def _stop() -> None:
    os.close(os.open(os.path.join(os.environ["QKFAULT_MARKERS"], str(os.getpid())), os.O_CREAT | os.O_EXCL))
    os.kill(os.getpid(), signal.SIGSTOP)


def _fill_disk() -> None:
    """Write zeros into ``QKFAULT_FILLER`` until its device has no byte left."""
    fd = os.open(os.environ["QKFAULT_FILLER"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    size = _CHUNK
    try:
        while size:
            try:
                os.write(fd, bytes(size))
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)


def _no_space() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


_install()
