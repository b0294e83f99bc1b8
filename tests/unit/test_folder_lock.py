"""The output folder's lock, taken by real processes: one holder at a time, named to the one refused,
gone with its process however it ends."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from precompute.folder_lock import LOCK_FILE, FolderInUseError, FolderLockError, hold_output_folder

#: A process that holds the folder given as its argument until its stdin closes.
HOLDER = """
import sys
from pathlib import Path
from precompute.folder_lock import hold_output_folder
with hold_output_folder(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""

#: A process that tries to take the folder given as its argument once.
TAKER = """
import sys
from pathlib import Path
from precompute.folder_lock import hold_output_folder
from qkatlas.errors import ActionableError
try:
    with hold_output_folder(Path(sys.argv[1])):
        print("taken")
except ActionableError as error:
    print(error)
"""


def _python(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)


def _holder(folder: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def test_a_second_process_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    folder = tmp_path / "atlases"
    with hold_output_folder(folder):
        refused = _python(TAKER, folder).stdout
    holder = f"pid {os.getpid()} on {socket.gethostname()}, started "
    assert refused.startswith(f"the output folder {folder} is in use by another job: {holder}")
    assert shlex.join(sys.orig_argv)[:50] in refused  # its command line
    assert "--resume" in refused
    assert _python(TAKER, folder).stdout == "taken\n"  # released when the holder left


def test_one_process_may_hold_a_folder_within_its_own_hold(tmp_path: Path) -> None:
    with hold_output_folder(tmp_path), hold_output_folder(tmp_path / "." / ""):
        assert "in use" in _python(TAKER, tmp_path).stdout
    assert _python(TAKER, tmp_path).stdout == "taken\n"


@pytest.mark.parametrize("ending", ["killed", "ended"])
def test_the_lock_goes_with_its_process(tmp_path: Path, ending: str) -> None:
    holder = _holder(tmp_path)
    with pytest.raises(FolderInUseError, match=f"pid {holder.pid} on"), hold_output_folder(tmp_path):
        pass
    if ending == "killed":
        holder.send_signal(signal.SIGKILL)
    else:
        assert holder.stdin is not None
        holder.stdin.close()
    holder.wait()
    assert f'"pid":{holder.pid}' in (tmp_path / LOCK_FILE).read_text()  # its stale record stays ...
    with hold_output_folder(tmp_path):  # ... and blocks nothing
        assert f'"pid":{os.getpid()}' in (tmp_path / LOCK_FILE).read_text()


def test_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with (
        pytest.raises(FolderLockError, match="cannot create the output folder"),
        hold_output_folder(tmp_path / "file" / "atlases"),
    ):
        pass
