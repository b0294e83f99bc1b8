"""The atlases being served, keyed by slug, kept in step with the atlas folder while the service runs.

``AtlasRegistry.refresh`` re-lists the folder: a few ``stat`` calls per directory, so it runs every
``atlas_poll_s`` seconds (``watch``) and works the same on a local disk, a Docker volume or NFS shared
by several workers or replicas. A directory is (re)opened only when its files changed: a newly
published atlas is served from the next refresh on, a removed one stops being listed, a rebuilt one
(a new inode under the same name) replaces the old in one assignment, and a directory that does not
open (half copied, corrupt) is reported with its reason and tried again whenever its files change.

A request resolves its ``Atlas`` once; that object reads only the directory it opened (see
``qkatlas.atlas.reader``), so a request that started before a swap finishes on the old files, and
every later one sees the new atlas. ``Atlas.revision`` names what a response was derived from: cache
keys and links carry it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from qkatlas.atlas import Atlas, AtlasError, atlas_directories
from qkatlas.atlas import format as fmt

log = logging.getLogger(__name__)

#: Image ids are ``<atlas slug>~<dataset index>``: atlas slugs are ``[a-z0-9._-]``, so ``~`` (URL-safe,
#: unreserved) separates them unambiguously and the id is globally unique across atlases.
IMAGE_ID_SEPARATOR = "~"
IMAGE_ID_PATTERN = r"^[a-z0-9._-]+~[0-9]{1,12}$"

#: The files whose change makes a directory worth opening again (thumbnails count through their folder).
_WATCHED = (
    "",
    fmt.MANIFEST,
    fmt.SUMMARY,
    fmt.IMAGES,
    fmt.THUMBS_DIR,
    *sorted({relative.split("/")[0] for relative, _ in (*fmt.ARRAYS.values(), *fmt.STATISTICS_ARRAYS.values())}),
    *(relative for relative, _ in (*fmt.ARRAYS.values(), *fmt.STATISTICS_ARRAYS.values())),
)

_Signature = tuple[tuple[int, int, int] | None, ...]


def image_id(atlas: Atlas, index: int) -> str:
    return f"{atlas.slug}{IMAGE_ID_SEPARATOR}{index}"


def thumbnail_url(atlas: Atlas, index: int) -> str:
    """The thumbnail's address for this revision of the atlas (cacheable for good)."""
    return f"/api/images/{image_id(atlas, index)}?v={atlas.revision}"


def source_name(source: str) -> str:
    """The image's name in its dataset, never an absolute path of the machine that built the atlas."""
    path = PurePosixPath(source.replace("\\", "/"))
    return path.name if path.is_absolute() or ".." in path.parts else str(path)


def parse_image_id(value: str) -> tuple[str, int]:
    slug, _, index = value.rpartition(IMAGE_ID_SEPARATOR)
    return slug, int(index)


@dataclass(frozen=True)
class AtlasFailure:
    directory: str
    reason: str


def _signature(path: Path) -> _Signature:
    """(inode, size, mtime) of the directory and of each file an atlas is read from."""
    stats: list[tuple[int, int, int] | None] = []
    for name in _WATCHED:
        try:
            st = os.stat(path / name)
        except OSError:
            stats.append(None)
        else:
            stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(stats)


@dataclass(frozen=True)
class _Directory:
    signature: _Signature
    atlas: Atlas | None
    failure: str | None


@dataclass(frozen=True)
class _Snapshot:
    atlases: Mapping[str, Atlas]
    failures: tuple[AtlasFailure, ...]


class AtlasRegistry:
    """Every atlas directly under ``root``; ``refresh()`` brings it up to date with the folder.

    ``on_refresh`` is told the atlases served after every refresh, so that what is held per atlas
    elsewhere (an analysis model) can be let go once its atlas is removed or rebuilt.
    """

    def __init__(self, root: Path, *, on_refresh: Callable[[Iterable[Atlas]], None] | None = None) -> None:
        self.root = Path(root)
        self._directories: dict[str, _Directory] = {}
        self._snapshot = _Snapshot(MappingProxyType({}), ())
        self._lock = threading.Lock()
        self._on_refresh = on_refresh

    @classmethod
    def load(cls, root: Path, *, on_refresh: Callable[[Iterable[Atlas]], None] | None = None) -> AtlasRegistry:
        registry = cls(root, on_refresh=on_refresh)
        registry.refresh()
        return registry

    @property
    def atlases(self) -> list[Atlas]:
        return list(self._snapshot.atlases.values())

    @property
    def failures(self) -> tuple[AtlasFailure, ...]:
        return self._snapshot.failures

    def get(self, slug: str) -> Atlas | None:
        return self._snapshot.atlases.get(slug)

    def refresh(self) -> None:
        """Re-list the folder, opening only the directories whose files changed (thread-safe)."""
        with self._lock:
            if not self.root.is_dir():
                self._directories = {}
                self._publish(self._directories, [AtlasFailure(str(self.root), "atlas directory does not exist")])
                return
            directories: dict[str, _Directory] = {}
            for path in atlas_directories(self.root):
                signature = _signature(path)
                known = self._directories.get(path.name)
                directories[path.name] = (
                    known if known is not None and known.signature == signature else _open(path, signature)
                )
            self._log_changes(self._directories, directories)
            self._directories = directories
            self._publish(directories, [])

    def _publish(self, directories: dict[str, _Directory], failures: list[AtlasFailure]) -> None:
        served: dict[str, Atlas] = {}
        for name, directory in directories.items():
            if directory.atlas is None:
                failures.append(AtlasFailure(name, directory.failure or "cannot be opened"))
            elif directory.atlas.slug in served:
                failures.append(AtlasFailure(name, f"duplicate slug {directory.atlas.slug!r}"))
            else:
                served[directory.atlas.slug] = directory.atlas
        # One assignment: a request sees the whole old state or the whole new one.
        self._snapshot = _Snapshot(MappingProxyType(served), tuple(failures))
        if self._on_refresh is not None:
            self._on_refresh(served.values())

    @staticmethod
    def _log_changes(before: dict[str, _Directory], after: dict[str, _Directory]) -> None:
        for name in before.keys() - after.keys():
            log.info("atlas %s removed", name)
        for name, directory in after.items():
            previous = before.get(name)
            if previous is directory:
                continue
            if directory.atlas is None:
                log.warning("atlas %s not served: %s", name, directory.failure)
            elif previous is not None and previous.atlas is not None:
                old, new = previous.atlas.revision, directory.atlas.revision
                log.info("atlas %s replaced (revision %s → %s)", name, old, new)
            else:
                log.info("serving atlas %s (revision %s)", name, directory.atlas.revision)

    async def watch(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` seconds until cancelled (the listing runs off the event loop)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # a folder that vanished for a moment must not stop the watch
                log.exception("refreshing the atlases under %s failed", self.root)


def _open(path: Path, signature: _Signature) -> _Directory:
    try:
        return _Directory(signature, Atlas.open(path), None)
    except AtlasError as exc:
        return _Directory(signature, None, str(exc))
