"""The atlas from Python: a typed read API for notebooks, over a local atlas folder or a qkatlas service.

    import qkatlas
    atlases = qkatlas.open_atlas("atlases")            # or "http://host:8000"
    model = atlases.model()                           # the only atlas, or atlases["<slug>"]
    mode = model.mode(layer=3, head=2, mode=0)        # σ, statistics, class profile, effect
    for top in mode.top_images():                     # PIL image + query/key maps [grid, grid]
        print(top.score, top.image.size, top.query_map.shape)

Both places answer with the service's own records (``backend/schemas.py``), assembled by the service's own code
(docs/architecture.md#the-atlas-from-python), so the numbers are the dashboard's.
"""

from __future__ import annotations

import os
from pathlib import Path

from qkatlas.atlas import Atlas, AtlasError, find_atlases
from qkatlas.atlas import format as fmt
from qkatlas.read.atlases import Atlases, Head, Mode, ModelAtlas
from qkatlas.read.http import HttpSource
from qkatlas.read.local import LocalSource
from qkatlas.read.records import Band, SampledImage, Samples, TopImage
from qkatlas.read.sources import AtlasLookupError, AtlasSource, AtlasUnreachable


def open_atlas(location: str | os.PathLike[str], *, timeout_s: float = 30.0) -> Atlases:
    """Every atlas at ``location``, by model slug.

    ``location`` is an atlas folder (one atlas), a folder of atlases as the service serves it (every atlas
    directly under it; folders that do not open are listed in ``Atlases.failures``), or the URL of a running
    qkatlas service (``http://host:port``; requests time out after ``timeout_s``). Raises ``AtlasError`` for a
    folder with no atlas that opens, ``FileNotFoundError`` for a path that is not there, ``AtlasUnreachable``
    for a service that does not answer.
    """
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return Atlases(HttpSource(text, timeout_s=timeout_s))
    path = Path(text)
    if not path.is_dir():
        raise FileNotFoundError(f"no atlas folder at {path}")
    if (path / fmt.MANIFEST).is_file():
        return Atlases(LocalSource([Atlas.open(path)], path))
    opened, failed = find_atlases(path)
    failures = tuple((directory.name, reason) for directory, reason in failed)
    if not opened:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in failures) or "no atlas directories"
        raise AtlasError(f"no atlas opens under {path} ({reasons})")
    return Atlases(LocalSource(opened, path), failures)


__all__ = [
    "AtlasLookupError",
    "AtlasSource",
    "AtlasUnreachable",
    "Atlases",
    "Band",
    "Head",
    "HttpSource",
    "LocalSource",
    "Mode",
    "ModelAtlas",
    "SampledImage",
    "Samples",
    "TopImage",
    "open_atlas",
]
