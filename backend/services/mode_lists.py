"""Shared mode lists: validated against the atlases served now, pinned to their revisions, content-addressed,
and kept for good in a SQLite database (not in the cache: a list must outlive restarts and Redis flushes).

A list's id is the first 128 bits of the SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8),
written in lower-case base32 (26 characters): the same content always gets the same id, any edit (a note, the
order, a revision) a new one, and an id cannot be guessed from anything but the content. The content pins each
mode's atlas slug and revision, so a list made again after its atlas was rebuilt is a new list.

Every read and write opens its own short connection (one row by primary key), so any number of worker
processes share the file safely: WAL lets readers go on while one writer commits, and a busy writer is waited
for. Call the blocking methods off the event loop (the ``async`` ones do).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3
import unicodedata
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from backend.core.text import count
from backend.schemas import LIST_ID_PATTERN as LIST_ID_PATTERN
from backend.schemas import ListedAtlasState, ListedMode, ListModeIn, ModeList, ModeListIn, PinnedMode
from backend.services.pages import resolve_model_name
from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign

#: How long a write waits for another process's write to finish before failing.
_BUSY_TIMEOUT_S = 10.0


class InvalidList(ValueError):
    """The list names a mode no served atlas has, repeats one, or has unusable text (the reason says which)."""


@dataclass(frozen=True)
class PinnedList:
    title: str
    modes: tuple[PinnedMode, ...]

    def canonical_json(self) -> bytes:
        """The stored body, whose hash is the id."""
        document = {"title": self.title, "modes": [mode.model_dump(mode="json") for mode in self.modes]}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def id(self) -> str:
        digest = hashlib.sha256(self.canonical_json()).digest()[:16]
        return base64.b32encode(digest).decode().rstrip("=").lower()

    @classmethod
    def from_json(cls, raw: bytes) -> PinnedList:
        document = json.loads(raw)
        modes = tuple(PinnedMode.model_validate(mode) for mode in document["modes"])
        return cls(document["title"], modes)


def _text(value: str, what: str) -> str:
    """``value`` in NFC with its outer whitespace removed (text that looks the same hashes the same);
    control characters (line breaks included) are refused."""
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(character) == "Cc" for character in text):
        raise InvalidList(f"{what} contains a control character (such as a line break)")
    return text


def _pin(position: int, wanted: ListModeIn, atlases: Sequence[Atlas]) -> PinnedMode:
    where = f"modes[{position}] ({wanted.model} L{wanted.layer} H{wanted.head} M{wanted.mode})"
    found = resolve_model_name(wanted.model, atlases)
    if len(found) != 1:
        if not found:
            raise InvalidList(f"{where}: no served model {wanted.model!r}")
        slugs = ", ".join(sorted(atlas.slug for atlas in found))
        raise InvalidList(f"{where}: {len(found)} served atlases answer to {wanted.model!r} ({slugs}): name one")
    atlas = found[0]
    if wanted.layer >= atlas.n_layers:
        raise InvalidList(f"{where}: no layer {wanted.layer}: the model has {count(atlas.n_layers, 'layer')}")
    if wanted.head >= atlas.n_heads:
        raise InvalidList(f"{where}: no head {wanted.head}: the model has {count(atlas.n_heads, 'head')} per layer")
    if wanted.mode >= atlas.n_modes:
        raise InvalidList(f"{where}: no mode {wanted.mode}: each head has {count(atlas.n_modes, 'mode')}")
    if wanted.basis not in atlas.bases:
        raise InvalidList(f"{where}: the atlas has no {wanted.basis.value!r} basis")
    return PinnedMode(
        model=atlas.slug,
        model_id=atlas.model_id,
        revision=atlas.revision,
        layer=wanted.layer,
        head=wanted.head,
        mode=wanted.mode,
        sign=wanted.sign,
        basis=wanted.basis,
        note=_text(wanted.note, f"the note of {where}"),
    )


def pin_list(wanted: ModeListIn, atlases: Sequence[Atlas]) -> PinnedList:
    """The list as it is stored: each mode checked against ``atlases`` (the served ones) and pinned to its
    atlas's slug and revision. Raises ``InvalidList`` with the first problem."""
    title = _text(wanted.title, "the title")
    if not title:
        raise InvalidList("the title is empty")
    modes = tuple(_pin(position, mode, atlases) for position, mode in enumerate(wanted.modes))
    seen: dict[tuple[str, int, int, int, Sign, Basis], int] = {}
    for position, mode in enumerate(modes):
        key = (mode.model, mode.layer, mode.head, mode.mode, mode.sign, mode.basis)
        if key in seen:
            raise InvalidList(f"modes[{position}] repeats modes[{seen[key]}]: each signed mode once per basis")
        seen[key] = position
    return PinnedList(title, modes)


def listed(list_id: str, pinned: PinnedList, atlases: Sequence[Atlas]) -> ModeList:
    """What the API answers about a list: its modes, each with whether its atlas is still the pinned one."""
    served = {atlas.slug: atlas for atlas in atlases}

    def one(mode: PinnedMode) -> ListedMode:
        atlas = served.get(mode.model)
        state = (
            ListedAtlasState.not_served
            if atlas is None
            else ListedAtlasState.current
            if atlas.revision == mode.revision
            else ListedAtlasState.rebuilt
        )
        return ListedMode(**dict(mode), atlas=state, current_revision=None if atlas is None else atlas.revision)

    return ModeList(id=list_id, title=pinned.title, modes=[one(mode) for mode in pinned.modes])


class ListStore:
    """The lists in the SQLite database at ``path`` (made, with its folder, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        if not self._ready:
            # Both persist in the file; every process runs them once (a no-op after the first).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS lists (id TEXT PRIMARY KEY, body BLOB NOT NULL) STRICT")
            self._ready = True
        return connection

    def put(self, pinned: PinnedList) -> tuple[str, bool]:
        """Stores ``pinned`` under its id; the id, and whether it was new (False: the same list was there)."""
        list_id = pinned.id
        with closing(self._connect()) as connection:
            cursor = connection.execute(
                "INSERT INTO lists (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (list_id, pinned.canonical_json()),
            )
            return list_id, cursor.rowcount == 1

    def get(self, list_id: str) -> PinnedList | None:
        with closing(self._connect()) as connection:
            row = connection.execute("SELECT body FROM lists WHERE id = ?", (list_id,)).fetchone()
        return None if row is None else PinnedList.from_json(row[0])

    def exists(self, list_id: str) -> bool:
        with closing(self._connect()) as connection:
            return connection.execute("SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is not None

    async def put_async(self, pinned: PinnedList) -> tuple[str, bool]:
        return await asyncio.to_thread(self.put, pinned)

    async def get_async(self, list_id: str) -> PinnedList | None:
        return await asyncio.to_thread(self.get, list_id)

    async def exists_async(self, list_id: str) -> bool:
        return await asyncio.to_thread(self.exists, list_id)
