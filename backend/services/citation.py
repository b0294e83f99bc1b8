"""The software citation: read from the repository's ``CITATION.cff`` (its one source), with a BibTeX entry
made from it for the dashboard's Share menu."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from backend.schemas import SoftwareCitation

#: The repository root's citation file (copied next to ``backend/`` in the service image).
CITATION_FILE = Path(__file__).resolve().parents[2] / "CITATION.cff"
#: The BibTeX key of the software entry.
BIBTEX_KEY = "qkatlas"


@cache
def software_citation(path: Path = CITATION_FILE) -> SoftwareCitation:
    cff: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    authors = [_author_name(author) for author in cff["authors"]]
    citation = SoftwareCitation(
        title=cff["title"],
        version=str(cff["version"]),
        authors=authors,
        license=cff.get("license"),
        repository=cff.get("repository-code"),
        message=cff["message"],
        bibtex="",
    )
    return citation.model_copy(update={"bibtex": bibtex(citation)})


def _author_name(author: dict[str, str]) -> str:
    """A CFF person (``given-names`` ``family-names``) or entity (``name``)."""
    if "name" in author:
        return author["name"]
    return " ".join(part for part in (author.get("given-names"), author["family-names"]) if part)


def bibtex(citation: SoftwareCitation) -> str:
    """A biblatex ``@software`` entry; each author braced whole, so that an entity ("qkatlas developers") is
    not split into given and family names."""
    fields = [
        ("title", citation.title),
        ("author", " and ".join(f"{{{name}}}" for name in citation.authors)),
        ("version", citation.version),
        ("license", citation.license),
        ("url", citation.repository),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value is not None)
    return f"@software{{{BIBTEX_KEY},\n{body}\n}}"
