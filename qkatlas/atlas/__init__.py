"""The atlas: the product's on-disk artifact (format in docs/atlas-format.md)."""

from qkatlas.atlas.reader import Atlas, AtlasError, AtlasReplaced, atlas_directories, find_atlases, published_manifest
from qkatlas.atlas.writer import AtlasWriter

__all__ = [
    "Atlas",
    "AtlasError",
    "AtlasReplaced",
    "AtlasWriter",
    "atlas_directories",
    "find_atlases",
    "published_manifest",
]
