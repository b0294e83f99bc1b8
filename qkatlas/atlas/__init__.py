"""The atlas: the product's on-disk artifact (format in docs/atlas-format.md)."""

from qkatlas.atlas.reader import Atlas, AtlasError, find_atlases, published_manifest
from qkatlas.atlas.writer import AtlasWriter

__all__ = ["Atlas", "AtlasError", "AtlasWriter", "find_atlases", "published_manifest"]
