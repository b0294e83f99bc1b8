"""``python -m precompute``: the atlas job (``build``, the default) and the paper's analyses.

python -m precompute [build] --model ID --images SOURCE --out DIR ...
python -m precompute o3 --model ID --o3 FOLDER ...
python -m precompute reproduce --out DIR ...
"""

from __future__ import annotations

import argparse
import sys

from precompute import build_command, o3_command, reproduce
from qkatlas.errors import ActionableError, report_error

COMMANDS = ("build", "o3", "reproduce")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description=build_command.DESCRIPTION,
        epilog="Without a subcommand, the options are those of 'build': python -m precompute --model ... "
        "is python -m precompute build --model ...",
    )
    subparsers = parser.add_subparsers(title="subcommands", metavar="{build,o3,reproduce}", required=True)
    build_command.add_parser(subparsers)
    o3_command.add_parser(subparsers)
    reproduce.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["build", *argv]  # the atlas job needs no subcommand name
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ActionableError as error:  # one the subcommand leaves: its message says what to do
        report_error(error, debug=args.debug)
        return 1
    return status
