"""Link previews: what a dashboard address is called and shows when its link is pasted somewhere (its
``<title>``, description, Open Graph and Twitter-card tags), written by the server into the app page's
``<head>`` so that no JavaScript is needed to read them (docs/architecture.md#link-previews).

A page's title is the dashboard's own document title (each route's ``useDocumentTitle``); its description
says what the page shows with the atlas's numbers (written by ``backend.core.text``, as the API's messages);
its image is a preview drawn by ``backend.services.previews`` at an address pinned to the atlas revision.
Uploads are private: their pages get the generic upload title only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote, urlencode

from backend.core.text import count, number, percent
from backend.schemas import Basis, Sign
from backend.services.mode_lists import ListStore
from backend.services.pages import address_parts, address_problem, model_address, position
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import SignedMode

SITE_NAME = "qkatlas"
#: Where the app page (frontend/index.html) takes the tags: nginx's SSI includes ``GET /api/page-head``
#: there (deploy/nginx.conf), the backend writes the same fragment in its place (backend/main.py).
HEAD_PLACEHOLDER = '<!--# include virtual="/api/page-head" -->'
#: The preview's size in pixels (the size link unfurlers show without cropping).
PREVIEW_SIZE = (1200, 630)
#: The signs and bases a mode address names, as the dashboard reads ``?sign=``/``?basis=``: the default
#: when absent or unknown (frontend/src/lib/address/paths.ts).
_SIGNS, _BASES = {sign.value: sign for sign in Sign}, {basis.value: basis for basis in Basis}
_TAGLINE = "the query-key singular modes of vision transformers"
_ALT = f"qkatlas: {_TAGLINE}"


@dataclass(frozen=True)
class PageMeta:
    """What one address is called and shows: ``title`` as the dashboard's document title names the page
    (without the site name; "" = the home page), ``image`` the preview's path on this origin."""

    title: str
    description: str
    image: str
    image_alt: str

    @property
    def document_title(self) -> str:
        """The ``<title>``, as ``useDocumentTitle`` writes it."""
        return f"{self.title} · {SITE_NAME}" if self.title else SITE_NAME


#: What each page is called, as the dashboard's ``pageTitle`` (frontend/src/lib/common/pageTitles.ts) calls it;
#: both are tested against frontend/src/lib/common/pageTitleCases.json.
PAGE_TITLES: dict[str, Callable[..., str]] = {
    "home": lambda: "",
    "model": lambda model_id: model_id,
    "modeIndex": lambda model_id: f"Mode index · {model_id}",
    "head": lambda model_id, layer, head: f"{mode_name(layer, head)} · {model_id}",
    "mode": lambda model_id, layer, head, mode, sign: f"{mode_name(layer, head, mode)} {sign} · {model_id}",
    "classes": lambda: "Classes",
    "class": lambda label: f"Class {label}",
    "search": lambda query: f"Search: {query}" if query else "Search",
    "upload": lambda: "Upload an image",
    "notFound": lambda: "Page not found",
    "lists": lambda: "Your list",
    "list": lambda title: title,
}


def served_revision(atlases: Sequence[Atlas]) -> str:
    """One revision for every atlas served now (what a class or the site's preview derives from): changes
    when any of them is rebuilt, added or removed."""
    names = "\n".join(sorted(f"{atlas.slug} {atlas.revision}" for atlas in atlases))
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def mode_preview_path(atlas: Atlas, mode: SignedMode, basis: Basis) -> str:
    query = urlencode({"sign": mode.sign.value, "basis": basis.value, "v": atlas.revision})
    return f"/api/models/{atlas.slug}/layers/{mode.layer}/heads/{mode.head}/modes/{mode.mode}/preview.png?{query}"


def head_preview_path(atlas: Atlas, layer: int, head: int) -> str:
    return f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/preview.png?v={atlas.revision}"


def class_preview_path(label: str, atlases: Sequence[Atlas]) -> str:
    return f"/api/classes/{quote(label, safe='')}/preview.png?v={served_revision(atlases)}"


def site_preview_path(atlases: Sequence[Atlas]) -> str:
    return f"/api/preview.png?v={served_revision(atlases)}"


def mode_name(layer: int, head: int | None = None, mode: int | None = None) -> str:
    """``L3 H2 M0`` (frontend/src/lib/common/format.ts ``modeName``)."""
    head_part = [f"H{head}"] if head is not None else []
    return " ".join([f"L{layer}", *head_part, *([f"M{mode}"] if mode is not None else [])])


def signed_mode_name(mode: SignedMode) -> str:
    return f"{mode_name(mode.layer, mode.head, mode.mode)} {mode.sign.value}"


def mode_facts(atlas: Atlas, mode: SignedMode, basis: Basis) -> list[str]:
    """The signed mode's numbers as the preview and the description state them: its σ (and share of the
    head's), and its most selective class when the atlas has class statistics."""
    sigma = atlas.sigma(mode.layer, mode.head)
    total = float(sigma.sum())
    value = float(sigma[mode.mode])
    if not atlas.active(mode.layer, mode.head)[mode.mode]:
        facts = ["inactive (σ = 0)"]
    else:
        share = f" ({percent(value / total)} of the head's Σσ)" if total > 0 else ""
        facts = [f"σ = {number(value)}{share}"]
    statistics = atlas.statistics
    if statistics is not None and statistics.has_classes and basis in atlas.bases:
        top = statistics.top_classes(atlas.basis_axis(basis), mode)
        if top:
            facts.append(f"top class {top[0].label} (selectivity {number(top[0].selectivity, 2)})")
        else:
            facts.append("no class above the mean")
    return facts


def _mode_meta(
    atlas: Atlas, layer: int, head: int, index: int, query: Mapping[str, str], atlases: Sequence[Atlas]
) -> PageMeta:
    mode = SignedMode(layer, head, index, _SIGNS.get(query.get("sign", ""), Sign.pos))
    basis = _BASES.get(query.get("basis", ""), Basis.faithful)
    name = signed_mode_name(mode)
    title = PAGE_TITLES["mode"](atlas.model_id, layer, head, index, mode.sign.value)
    if basis not in atlas.bases:
        description = f"Query-key singular mode {name} of {atlas.model_id}: this atlas has no {basis.value} basis."
        return PageMeta(title, description, site_preview_path(atlases), _ALT)
    facts = "; ".join(mode_facts(atlas, mode, basis))
    description = (
        f"Query-key singular mode {name} of {atlas.model_id} ({basis.value} basis): {facts}. "
        "Its best dataset images with their query (red) and key (cyan) maps."
    )
    alt = f"{name} of {atlas.model_id}: {facts}; its best images with their query and key maps"
    return PageMeta(title, description, mode_preview_path(atlas, mode, basis), alt)


def head_facts(atlas: Atlas, layer: int, head: int) -> str:
    sigma = atlas.sigma(layer, head)
    active = int(atlas.active(layer, head).sum())
    total = float(sigma.sum())
    share = f", M0 carries {percent(float(sigma[0]) / total)} of Σσ" if total > 0 else ""
    return f"{count(active, 'active mode')} of {len(sigma)}; σ of M0 = {number(float(sigma[0]))}{share}"


def _head_meta(atlas: Atlas, layer: int, head: int) -> PageMeta:
    name = mode_name(layer, head)
    facts = head_facts(atlas, layer, head)
    description = f"Head {name} of {atlas.model_id}: its query-key spectrum ({facts}) and its modes' best images."
    alt = f"The singular values σ of head {name} of {atlas.model_id} and the best images of its mode M0 pos"
    title = PAGE_TITLES["head"](atlas.model_id, layer, head)
    return PageMeta(title, description, head_preview_path(atlas, layer, head), alt)


def _model_meta(atlas: Atlas, rest: list[str], query: Mapping[str, str], atlases: Sequence[Atlas]) -> PageMeta:
    generic = site_preview_path(atlases)
    shape = (
        f"{count(atlas.n_layers, 'layer')} × {count(atlas.n_heads, 'head')}, {count(atlas.n_modes, 'mode')} per head, "
        f"over {atlas.manifest.dataset.name}"
    )
    if rest == ["modes"]:
        description = f"Every signed mode of {atlas.model_id} in one table ({shape}): σ, firing, top class."
        return PageMeta(PAGE_TITLES["modeIndex"](atlas.model_id), description, generic, _ALT)
    if len(rest) == 2:
        return _head_meta(atlas, *position(rest))
    if len(rest) == 3:
        layer, head, index = position(rest)
        return _mode_meta(atlas, layer, head, index, query, atlases)
    description = f"The query-key singular modes of {atlas.model_id} ({shape})."
    return PageMeta(PAGE_TITLES["model"](atlas.model_id), description, generic, _ALT)


def atlases_with_class(atlases: Sequence[Atlas], label: str) -> list[Atlas]:
    """The served atlases whose statistics have the class ``label`` (case and ``_``/space insensitive)."""
    return [atlas for atlas in atlases if atlas.statistics is not None and atlas.statistics.class_id(label) is not None]


def _class_meta(label: str, atlases: Sequence[Atlas]) -> PageMeta:
    models = atlases_with_class(atlases, label)
    description = (
        f"The signed modes most selective for the class {label} in {count(len(models), 'served model')}, "
        "with their best images."
    )
    alt = f"The modes most selective for the class {label}, each with its best image and its selectivity"
    return PageMeta(PAGE_TITLES["class"](label), description, class_preview_path(label, atlases), alt)


async def describe_address(
    path: str, query: Mapping[str, str], atlases: Sequence[Atlas], lists: ListStore
) -> tuple[str | None, PageMeta]:
    """Why the dashboard address ``path`` (decoded, without its leading ``/``) with ``query`` names no page
    (``None`` when it names one), and its tags."""
    problem = await address_problem(path, query, atlases, lists.exists_async)
    if problem is not None:
        generic = site_preview_path(atlases)
        return problem, PageMeta(PAGE_TITLES["notFound"](), "This address names no page of qkatlas.", generic, _ALT)
    parts = address_parts(path)
    if parts[0] == "lists" and len(parts) == 2:
        pinned = await lists.get_async(parts[1])
        if pinned is not None:
            return None, _list_meta(pinned.title, [mode.model_id for mode in pinned.modes], atlases)
    return None, page_meta(path, query, atlases)


def _list_meta(title: str, model_ids: Sequence[str], atlases: Sequence[Atlas]) -> PageMeta:
    models = ", ".join(dict.fromkeys(model_ids))
    description = f"A shared list of {count(len(model_ids), 'query-key mode')} from {models}, side by side."
    return PageMeta(PAGE_TITLES["list"](title), description, site_preview_path(atlases), _ALT)


def page_meta(path: str, query: Mapping[str, str], atlases: Sequence[Atlas]) -> PageMeta:
    """The tags of the dashboard address ``path`` (decoded, without its leading ``/``) with ``query``, which
    names a page (``describe_address`` checks it)."""
    generic = site_preview_path(atlases)
    alt = _ALT
    parts = address_parts(path)
    if parts[0] == "m":
        address = model_address(parts[1:], atlases)
        assert not isinstance(address, str), "address_problem accepted it"
        return _model_meta(*address, query, atlases)
    if parts[0] == "classes" and len(parts) == 2:
        return _class_meta(parts[1], atlases)
    if parts[0] == "classes":
        description = "Every class of the served datasets, with its modes in each model."
        return PageMeta(PAGE_TITLES["classes"](), description, generic, alt)
    if parts[0] == "search":
        text = query.get("q", "").strip()
        description = f"Search the modes of {count(len(atlases), 'served model')} by name or class"
        return PageMeta(PAGE_TITLES["search"](text), f"{description}.", generic, alt)
    if parts[0] == "lists":
        description = "Collect modes from any served models into one shareable list."
        return PageMeta(PAGE_TITLES["lists"](), description, generic, alt)
    if parts[0] == "upload":
        # Private: the same tags for every upload, nothing of its content.
        description = "See which modes fire on your own image, in every served model."
        return PageMeta(PAGE_TITLES["upload"](), description, generic, alt)
    names = ", ".join(atlas.model_id for atlas in atlases) or "no model yet"
    return PageMeta(PAGE_TITLES["home"](), f"Browse {_TAGLINE} ({names}).", generic, alt)


def page_head(meta: PageMeta, url: str, origin: str) -> str:
    """The ``<head>`` tags of ``meta`` for the page at ``url`` (absolute), its preview at ``origin``; every
    value HTML-escaped."""
    width, height = PREVIEW_SIZE
    image = f"{origin}{meta.image}"
    properties = {
        "og:type": "website",
        "og:site_name": SITE_NAME,
        "og:title": meta.title or SITE_NAME,
        "og:description": meta.description,
        "og:url": url,
        "og:image": image,
        "og:image:type": "image/png",
        "og:image:width": str(width),
        "og:image:height": str(height),
        "og:image:alt": meta.image_alt,
    }
    names = {
        "description": meta.description,
        "twitter:card": "summary_large_image",
        "twitter:title": meta.title or SITE_NAME,
        "twitter:description": meta.description,
        "twitter:image": image,
        "twitter:image:alt": meta.image_alt,
    }
    lines = [f"<title>{escape(meta.document_title)}</title>"]
    lines += [f'<meta name="{name}" content="{escape(value)}" />' for name, value in names.items()]
    lines += [f'<meta property="{name}" content="{escape(value)}" />' for name, value in properties.items()]
    return "\n    ".join(lines)
