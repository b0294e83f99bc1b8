"""URL-safe names for models, datasets and atlases (the atlas format, image sources and the service share them)."""

from __future__ import annotations

import re


def slugify(text: str) -> str:
    """Lowercase URL-safe slug: ``[a-z0-9._-]``, other runs become ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug or "unnamed"
