"""Which dashboard addresses name a page (``backend.services.pages``): the model-name rule against the
table of cases the dashboard is tested against too, and each route's good and bad addresses against
stand-in atlases whose shapes are known."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from backend.services.pages import page_problem, resolve_model_name
from qkatlas.atlas import Atlas

CASES = Path(__file__).resolve().parents[2] / "frontend" / "src" / "lib" / "address" / "modelNameCases.json"


@dataclass
class _Statistics:
    classes: tuple[str, ...]

    def class_id(self, label: str) -> int | None:
        wanted = label.lower().replace("_", " ")
        return next((i for i, name in enumerate(self.classes) if name.lower().replace("_", " ") == wanted), None)


@dataclass
class _Atlas:
    """What the rules read of an atlas."""

    slug: str
    model_slug: str
    model_id: str
    n_layers: int = 12
    n_heads: int = 6
    n_modes: int = 64
    statistics: _Statistics | None = None


def _atlases(*atlases: _Atlas) -> list[Atlas]:
    return cast(list[Atlas], list(atlases))


@pytest.mark.parametrize("case", json.loads(CASES.read_text())["cases"], ids=lambda case: case["why"])
def test_model_names_resolve_as_the_shared_cases_say(case: dict[str, Any]) -> None:
    atlases = _atlases(*(_Atlas(**atlas) for atlas in json.loads(CASES.read_text())["atlases"]))
    assert [atlas.slug for atlas in resolve_model_name(case["name"], atlases)] == case["atlases"]


DINO = _Atlas(
    "facebook--dino-vits16__imagenet-val",
    "facebook--dino-vits16",
    "facebook/dino-vits16",
    statistics=_Statistics(("golden_retriever", "tench")),
)
NO_STATISTICS = _Atlas("planted__shapes", "planted", "planted", n_layers=2, n_heads=2, n_modes=4)
UPLOAD = "0123456789abcdef0123456789abcdef"

GOOD = [
    "",
    "search",
    "upload",
    "classes",
    "classes/",
    "m/facebook--dino-vits16__imagenet-val",
    "m/dino-vits16",
    "m/facebook/dino-vits16",
    "m/facebook/dino-vits16/L3/H2/M0",
    "m/dino-vits16/L3/H2/M0",
    "m/dino-vits16/L11/H5",
    "m/dino-vits16/L11/H5/M63",
    "m/dino-vits16/modes",
    "m/dino-vits16/modes?layer=11&head=5",
    "m/planted/L1/H1/M3",
    f"upload/{UPLOAD}",
    f"upload/{UPLOAD}?model=dino-vits16&layer=11&head=5",
]
BAD = [
    "nowhere",
    "m",
    "m/resnet",
    "m/resnet/L0/H0",
    "m/dino-vits16/L12/H0",
    "m/dino-vits16/L0/H6",
    "m/dino-vits16/L0/H0/M64",
    "m/dino-vits16/Lfoo/H0",
    "m/dino-vits16/H0/L0",
    "m/dino-vits16/L0",
    "m/dino-vits16/L0/H0/M0/extra",
    "m/dino-vits16/modes?layer=99",
    "m/dino-vits16/modes?head=6",
    "m/dino-vits16/modes?layer=x",
    "m/planted/L2/H0",
    "upload/not-an-id",
    f"upload/{UPLOAD}?model=resnet",
    f"upload/{UPLOAD}?model=dino-vits16&layer=12",
    f"upload/{UPLOAD}?model=dino-vits16&head=6",
    f"upload/{UPLOAD}/extra",
]


def _problem(address: str, *atlases: _Atlas) -> str | None:
    path, _, query = address.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    return page_problem(path, params, _atlases(*atlases))


@pytest.mark.parametrize("address", GOOD)
def test_addresses_of_pages_that_exist(address: str) -> None:
    assert _problem(address, DINO, NO_STATISTICS) is None


@pytest.mark.parametrize("address", BAD)
def test_addresses_that_name_nothing_say_why(address: str) -> None:
    problem = _problem(address, DINO, NO_STATISTICS)
    assert problem is not None and problem != ""


def test_a_class_page_exists_when_a_served_dataset_has_the_class() -> None:
    assert _problem("classes/golden retriever", DINO) is None
    assert _problem("classes/GOLDEN_RETRIEVER", DINO, NO_STATISTICS) is None
    assert _problem("classes/retriever", DINO) == "no served dataset has a class 'retriever'"
    # An atlas without statistics cannot tell: not found (the page says which atlases cannot say).
    assert _problem("classes/retriever", DINO, NO_STATISTICS) == "no served dataset has a class 'retriever'"
    assert _problem("classes/golden retriever", NO_STATISTICS) is not None


def test_a_name_two_atlases_answer_to_names_no_page() -> None:
    other = _Atlas("facebook--dino-vits16__imagenette", "facebook--dino-vits16", "facebook/dino-vits16")
    assert _problem("m/dino-vits16/L0/H0", DINO, other) == "2 served atlases answer to 'dino-vits16'"
    assert _problem("m/facebook--dino-vits16__imagenette/L0/H0", DINO, other) is None
