"""CITATION.cff is valid Citation File Format 1.2.0 and agrees with pyproject; the BibTeX entry the service
serves (and the dashboard shows) says what it says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from backend.services.citation import CITATION_FILE, software_citation

ROOT = Path(__file__).resolve().parents[2]


def _cff() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_citation_file_is_cff_1_2_0_with_its_required_keys() -> None:
    cff = _cff()
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert isinstance(cff[key], str | list) and cff[key], key
    # Each author is a person (family-names) or an entity (name), as the schema requires.
    assert all("name" in author or "family-names" in author for author in cff["authors"])
    assert cff["type"] in ("software", "dataset")
    # A licence is claimed exactly when the repository has a licence file (it has none so far).
    assert ("license" in cff) == bool(list(ROOT.glob("LICENSE*")))


def test_citation_version_is_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert str(_cff()["version"]) == pyproject["project"]["version"]


def test_service_reads_the_repository_file() -> None:
    assert CITATION_FILE == ROOT / "CITATION.cff"


def test_bibtex_entry_has_the_file_s_fields() -> None:
    cff = _cff()
    entry = software_citation().bibtex
    head, _, rest = entry.partition("\n")
    assert head == "@software{qkatlas," and entry.endswith("\n}")
    fields = dict(re.findall(r"^  (\w+) = \{(.*)\},?$", rest, flags=re.MULTILINE))
    assert fields == {
        "title": cff["title"],
        "author": " and ".join("{" + author["name"] + "}" for author in cff["authors"]),
        "version": str(cff["version"]),
    }
    # Braces balance: a BibTeX reader sees one entry.
    assert entry.count("{") == entry.count("}")
