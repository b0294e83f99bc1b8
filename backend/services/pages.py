"""Whether a dashboard address names a page, checked against the atlases served now, so that the server
can answer an address that names nothing with HTTP 404 (and the same app page, which says what exists).

The rules are the dashboard's own (frontend/src/lib/address/): a model is named by its atlas slug, or,
when one atlas answers to it, by its model slug, model id (``facebook/dino-vits16``, also as two path
segments), short name (``dino-vits16``, the name search shows) or a prefix of its slug; a name that
several atlases answer to names no page. Both implementations are held to one table of cases
(frontend/src/lib/address/modelNameCases.json).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

from backend.schemas import LIST_ID_PATTERN
from backend.services.uploads import UPLOAD_ID_PATTERN
from qkatlas.atlas import Atlas

_INDEX = re.compile(r"^\d{1,6}$")
_SEGMENT = {"L": re.compile(r"^L(\d{1,6})$"), "H": re.compile(r"^H(\d{1,6})$"), "M": re.compile(r"^M(\d{1,6})$")}
#: Addresses that are a page whatever the atlases.
_FIXED_PAGES = ("", "search", "upload", "classes", "lists")


def short_name(model_id: str) -> str:
    """The model's name without its organisation (``facebook/dino-vits16`` → ``dino-vits16``)."""
    return model_id.rstrip("/").rsplit("/", 1)[-1]


def resolve_model_name(name: str, atlases: Sequence[Atlas]) -> list[Atlas]:
    """The atlases ``name`` answers to, in the dashboard's order of precision: the atlas slug; else the
    model slug, model id or short name (case-insensitive); else a prefix of the atlas slug. One atlas:
    the name names it; several: it is ambiguous; none: unknown."""
    exact = [atlas for atlas in atlases if atlas.slug == name]
    if exact or not name:
        return exact
    wanted = name.lower()
    tiers = (
        [a for a in atlases if wanted in {a.model_slug.lower(), a.model_id.lower(), short_name(a.model_id).lower()}],
        [a for a in atlases if a.slug.startswith(name)],
    )
    return next((tier for tier in tiers if tier), [])


def _index(segment: str, letter: str) -> int | None:
    match = _SEGMENT[letter].match(segment)
    return int(match.group(1)) if match else None


def _in_range(value: str | None, count: int, what: str) -> str | None:
    """Why a query index (``?layer=``) names nothing, or ``None`` when it is absent or in range."""
    if value is None:
        return None
    if not _INDEX.match(value) or int(value) >= count:
        return f"no {what} {value!r}: the model has {count} {what}s"
    return None


def model_address(parts: list[str], atlases: Sequence[Atlas]) -> tuple[Atlas, list[str]] | str:
    """The atlas ``/m/<parts…>`` names and the rest of the address, or why it names none."""
    if not parts:
        return "no model named"
    # A model id written as two segments (/m/facebook/dino-vits16/…) first: "facebook" alone is a slug prefix.
    found, rest = (resolve_model_name(f"{parts[0]}/{parts[1]}", atlases), parts[2:]) if len(parts) > 1 else ([], [])
    if not found:
        found, rest = resolve_model_name(parts[0], atlases), parts[1:]
    if len(found) != 1:
        return f"{len(found)} served atlases answer to {parts[0]!r}" if found else f"no model {parts[0]!r}"
    return found[0], rest


def position(segments: list[str]) -> tuple[int, ...]:
    """The layer, head (and mode) of ``["L3", "H2"(, "M0")]`` (segments ``_model_page`` accepted)."""
    return tuple(int(segment[1:]) for segment in segments)


def _model_page(parts: list[str], query: Mapping[str, str], atlases: Sequence[Atlas]) -> str | None:
    """Why ``/m/<parts…>`` names nothing, or ``None``."""
    address = model_address(parts, atlases)
    if isinstance(address, str):
        return address
    atlas, rest = address
    if not rest:
        return None
    if rest == ["modes"]:
        return _in_range(query.get("layer"), atlas.n_layers, "layer") or _in_range(
            query.get("head"), atlas.n_heads, "head"
        )
    if len(rest) not in (2, 3):
        return "not a page of the model"
    limits = zip(rest, ("L", "H", "M"), (atlas.n_layers, atlas.n_heads, atlas.n_modes), strict=False)
    for segment, letter, count in limits:
        index = _index(segment, letter)
        if index is None or index >= count:
            return f"no {segment!r}: the model has {letter}0–{letter}{count - 1}"
    return None


def _upload_page(upload_id: str, query: Mapping[str, str], atlases: Sequence[Atlas]) -> str | None:
    """Why ``/upload/<id>`` names nothing, or ``None`` (whether the upload has expired is the page's to say)."""
    if not re.match(UPLOAD_ID_PATTERN, upload_id):
        return "not an upload id"
    model = query.get("model")
    if model is None:
        return None
    found = resolve_model_name(model, atlases)
    if len(found) != 1:
        return f"no single model {model!r}"
    atlas = found[0]
    return _in_range(query.get("layer"), atlas.n_layers, "layer") or _in_range(query.get("head"), atlas.n_heads, "head")


def _class_page(label: str, atlases: Sequence[Atlas]) -> str | None:
    """Why ``/classes/<label>`` names nothing (no served atlas with statistics has the class, as
    ``GET /api/classes/{label}`` says), or ``None``."""
    for atlas in atlases:
        if atlas.statistics is not None and atlas.statistics.class_id(label) is not None:
            return None
    return f"no served dataset has a class {label!r}"


def address_parts(path: str) -> list[str]:
    """The segments of a dashboard address (decoded, without its leading ``/``), a trailing slash ignored."""
    parts = path.split("/")
    return parts[:-1] if len(parts) > 1 and parts[-1] == "" else parts


def page_problem(path: str, query: Mapping[str, str], atlases: Sequence[Atlas]) -> str | None:
    """Why the dashboard address ``path`` (decoded, without its leading ``/``) with ``query`` names no
    page, or ``None`` when it names one."""
    parts = address_parts(path)
    if "/".join(parts) in _FIXED_PAGES:
        return None
    head, rest = parts[0], parts[1:]
    if head == "m":
        return _model_page(rest, query, atlases)
    if head == "classes" and len(rest) == 1:
        return _class_page(rest[0], atlases)
    if head == "upload" and len(rest) == 1:
        return _upload_page(rest[0], query, atlases)
    return "not a page of the dashboard"


async def address_problem(
    path: str, query: Mapping[str, str], atlases: Sequence[Atlas], list_exists: Callable[[str], Awaitable[bool]]
) -> str | None:
    """``page_problem``, and for a shared list's address (``lists/<id>``) whether the list exists, which only
    the lists database knows (``list_exists`` reads it off the event loop)."""
    parts = path.removesuffix("/").split("/")
    if len(parts) != 2 or parts[0] != "lists":
        return page_problem(path, query, atlases)
    if not re.match(LIST_ID_PATTERN, parts[1]):
        return "not a list id"
    return None if await list_exists(parts[1]) else "no such list"
