"""The revision of a local checkpoint folder: a SHA-256 over its weight and config files.

A hub checkpoint's revision is the hub's commit; a local folder has none, so its revision is the
hash of what loading it reads, ``sha256:<64 hex>``. ``load_model`` records it (manifest and O3
file ``model_source.revision``, ``ModelSpec.revision``) and, given one, checks that the folder still
hashes to it (``verified_revision``): the service thereby refuses to analyse uploads with a
checkpoint that changed since its atlas was built, and a resumed job rebuilds such an atlas.

Hashed files (``checkpoint_files``): the regular files directly in the folder (symbolic links
followed, as in a hub cache snapshot; sub-folders and names starting with ``.`` not) named
``config.json`` or ``preprocessor_config.json``, or ending in ``.safetensors``, ``.bin`` or
``.index.json`` (sharded weights' index). Other files (README, tokenizer, training logs) do not
change the loaded model and are left out. Digest: one SHA-256 over, for each file in order of name
(code-point order), ``name`` (UTF-8), a NUL byte, its size in bytes as decimal digits, a NUL byte,
then its bytes, read in 8 MiB chunks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .base import ModelLoadError

PREFIX = "sha256:"
_NAMES = ("config.json", "preprocessor_config.json")
_SUFFIXES = (".safetensors", ".bin", ".index.json")
_CHUNK = 8 << 20


class CheckpointChangedError(ModelLoadError):
    """A local checkpoint folder no longer hashes to the revision recorded for it."""


def checkpoint_files(directory: Path) -> list[Path]:
    """The files whose content makes ``directory``'s revision, in hashing order (module docstring)."""
    return sorted(
        (
            path
            for path in directory.iterdir()
            if not path.name.startswith(".")
            and (path.name in _NAMES or path.name.endswith(_SUFFIXES))
            and path.is_file()
        ),
        key=lambda path: path.name,
    )


def checkpoint_revision(directory: Path) -> str:
    """``sha256:<hex>`` of ``directory``'s weight and config files (module docstring)."""
    digest = hashlib.sha256()
    try:
        for path in checkpoint_files(directory):
            digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    except OSError as error:
        raise ModelLoadError(f"cannot read the checkpoint folder {directory}: {error}") from error
    return PREFIX + digest.hexdigest()


def verified_revision(directory: Path, expected: str | None) -> str:
    """``directory``'s revision; when ``expected`` is given (a recorded revision), the folder must
    still hash to it, else ``CheckpointChangedError`` says so."""
    if expected is not None and not expected.startswith(PREFIX):
        raise ModelLoadError(
            f"the revision of a local checkpoint folder is its content hash ({PREFIX}<hex>), not {expected!r} "
            f"({directory})"
        )
    actual = checkpoint_revision(directory)
    if expected is not None and actual != expected:
        raise CheckpointChangedError(
            f"the checkpoint folder {directory} changed since its revision was recorded: its weight and config "
            f"files hash to {actual}, not {expected}. Restore the files it had, or rebuild from the folder as it "
            f"is now (python -m precompute build --models {directory} ...)."
        )
    return actual
