"""The atlases being served, keyed by slug, and the ones that failed to load (with the reason)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from qkatlas.atlas import Atlas, find_atlases

log = logging.getLogger(__name__)

#: Image ids are ``<atlas slug>~<dataset index>``: atlas slugs are ``[a-z0-9._-]``, so ``~`` (URL-safe,
#: unreserved) separates them unambiguously and the id is globally unique across atlases.
IMAGE_ID_SEPARATOR = "~"
IMAGE_ID_PATTERN = r"^[a-z0-9._-]+~[0-9]{1,12}$"


def image_id(atlas: Atlas, index: int) -> str:
    return f"{atlas.slug}{IMAGE_ID_SEPARATOR}{index}"


def thumbnail_url(image: str) -> str:
    return f"/api/images/{image}"


def parse_image_id(value: str) -> tuple[str, int]:
    slug, _, index = value.rpartition(IMAGE_ID_SEPARATOR)
    return slug, int(index)


@dataclass(frozen=True)
class AtlasFailure:
    directory: str
    reason: str


class AtlasRegistry:
    def __init__(self, atlases: list[Atlas], failures: list[AtlasFailure]) -> None:
        self._atlases = {atlas.slug: atlas for atlas in atlases}
        self.failures = failures

    @classmethod
    def load(cls, root: Path) -> AtlasRegistry:
        atlases, failed = find_atlases(root)
        failures = [AtlasFailure(path.name, reason) for path, reason in failed]
        unique: dict[str, Atlas] = {}
        for atlas in atlases:
            if atlas.slug in unique:
                failures.append(AtlasFailure(atlas.path.name, f"duplicate slug {atlas.slug!r}"))
            else:
                unique[atlas.slug] = atlas
        for failure in failures:
            log.warning("atlas %s not served: %s", failure.directory, failure.reason)
        log.info("serving %d atlas(es): %s", len(unique), ", ".join(unique) or "none")
        return cls(list(unique.values()), failures)

    @property
    def atlases(self) -> list[Atlas]:
        return list(self._atlases.values())

    def get(self, slug: str) -> Atlas | None:
        return self._atlases.get(slug)
