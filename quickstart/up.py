"""``python -m quickstart``: build the default atlases, then replace this process with the service."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from precompute.folder_lock import hold_output_folder
from qkatlas.atlas import find_atlases
from qkatlas.errors import ActionableError, report_error
from quickstart.default_atlases import REPO, build_default_atlases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m quickstart",
        description="Build the default atlas (or, without a model hub, the offline demo) and serve the dashboard.",
    )
    parser.add_argument("--atlas-dir", type=Path, default=REPO / "atlases")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--offline", action="store_true", help="skip the hub and build the offline demo")
    parser.add_argument("--photos", type=Path, default=None, help="photos for the offline demo's random-init ViT")
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="build the atlases, then stop")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error, not its message alone")
    args = parser.parse_args(argv)
    try:
        with hold_output_folder(args.atlas_dir):  # one builder per atlas folder (two `./qk up`s at once)
            build_default_atlases(
                args.atlas_dir,
                args.data_dir,
                offline=args.offline,
                workers=args.workers,
                photos=args.photos,
                debug=args.debug,
            )
    except ActionableError as error:  # a download, a disk, a running job: the message says what to do
        report_error(error, debug=args.debug)
        return 1
    atlases, failures = find_atlases(args.atlas_dir)
    print(f"{len(atlases)} atlas(es) in {args.atlas_dir}: " + ", ".join(a.slug for a in atlases))
    for path, reason in failures:
        print(f"  not served: {path.name}: {reason}")
    if args.no_serve:
        return 0
    print(f"serving the dashboard on http://{args.host}:{args.port}/")
    backend = ["-m", "backend", "--atlas-dir", str(args.atlas_dir), "--host", args.host, "--port", str(args.port)]
    os.execv(sys.executable, [sys.executable, *backend])
    return 0  # not reached
