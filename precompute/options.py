"""Command-line options that several ``python -m precompute`` subcommands share."""

from __future__ import annotations

import argparse
import json
from typing import Any

from qkatlas.conventions import BASES, Basis
from qkatlas.device import PRECISIONS
from qkatlas.models.hub import HubUnavailableError


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → ``(key, value)``, the value parsed as JSON when it is JSON, else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_bases(text: str) -> tuple[Basis, ...]:
    """``faithful,exact`` → the bases, in the order given."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    known = {basis.value for basis in BASES}
    if not names or any(name not in known for name in names):
        raise argparse.ArgumentTypeError(
            f"bases must be a comma-separated subset of {','.join(basis.value for basis in BASES)}"
        )
    return tuple(Basis(name) for name in names)


def add_weight_options(parser: argparse.ArgumentParser) -> None:
    """The options every subcommand shares to choose the weights and the device (and ``--debug``)."""
    parser.add_argument("--random-init", action="store_true", help="random weights from the config (offline)")
    parser.add_argument(
        "--revision",
        default=None,
        metavar="REV",
        help="hub weights at this branch, tag or commit (default: main); the manifest records the commit it "
        "pointed to, and the rebuild command the dashboard shows pins it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --random-init")
    parser.add_argument(
        "--override",
        type=parse_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config override, e.g. depth=2 (repeatable; values parsed as JSON)",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error, not its message alone")


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision``: how the atlas job computes its scores (``qkatlas.device.resolve_precision``)."""
    parser.add_argument(
        "--precision",
        choices=["auto", *PRECISIONS],
        default="auto",
        help="how the scores are computed: bf16 (bfloat16 autocast and projections), tf32 (float32 tensors, TF32 "
        "matmuls and convolutions on CUDA) or fp32 (float32 throughout); auto: bf16 on CUDA, fp32 on the CPU. On "
        "the CPU tf32 is fp32, and bf16 works but is rarely faster. The manifest records it, and each mode's page "
        "says when its last places tie at it (docs/method.md#ties-at-the-cut-off)",
    )


def without_hub_hint(error: BaseException) -> str | None:
    """What a subcommand can do without the hub, when ``error`` (or its cause) is a hub failure."""
    if not any(isinstance(e, HubUnavailableError) for e in (error, error.__cause__)):
        return None
    return (
        "Without the hub: --random-init builds on random weights (labelled as such everywhere), or give --model "
        "a local checkpoint folder."
    )
