"""The one base of errors a command reports to its user as they are.

An ``ActionableError``'s message says what failed, where (the URL, the folder, the running job) and
what to do about it. The commands (``python -m quickstart``, ``python -m precompute``) print such a
message alone, without a traceback unless ``--debug``; any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import sys
import traceback


class ActionableError(Exception):
    """A failure with a message written for the person running the command."""


def report_error(error: BaseException, *, debug: bool, hint: str | None = None) -> None:
    """Print ``error`` for the person running a command: its message alone (and ``hint``, a line on
    what else to try), with the traceback only when ``debug``."""
    if debug:
        traceback.print_exception(error)
    print(f"error: {error}", file=sys.stderr)
    if hint:
        print(hint, file=sys.stderr)
