"""The HTTP source of the atlas from Python: the requests it makes (every read of a model pinned to the revision it
was opened at) and how it reports what the service answers, against a stand-in transport."""

from __future__ import annotations

import httpx
import pytest

from backend.schemas import Basis, Sign
from qkatlas.read import AtlasLookupError, AtlasUnreachable, HttpSource
from qkatlas.read.sources import HeadAddress, ModeAddress

MODE = ModeAddress(HeadAddress("dino-vits16__imagenette", "rev123", 3, 2, Basis.exact), 5, Sign.neg)


def _source(handler: httpx.MockTransport) -> HttpSource:
    return HttpSource("http://atlas.example:8000/", transport=handler)


def test_a_modes_parts_are_requested_at_its_address_pinned_to_its_revision() -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(404, json={"detail": "gone"})

    source = _source(httpx.MockTransport(answer))
    for read in (lambda: source.mode(MODE), lambda: source.samples(MODE), lambda: source.maps(MODE, 1)):
        with pytest.raises(AtlasLookupError, match="gone"):
            read()
    with pytest.raises(AtlasLookupError):
        source.class_modes("red/blue wine", None, 4)
    base = "/api/models/dino-vits16__imagenette/layers/3/heads/2/modes/5"
    assert [url.raw_path.decode().partition("?")[0] for url in seen] == [
        base,
        f"{base}/samples",
        f"{base}/top/1/maps",
        "/api/classes/red%2Fblue%20wine",
    ]
    assert all(dict(url.params) == {"basis": "exact", "sign": "neg", "v": "rev123"} for url in seen[:3])
    assert dict(seen[3].params) == {"limit": "4"}


@pytest.mark.parametrize(
    ("response", "error", "words"),
    [
        (httpx.Response(404, json={"detail": "no mode 99: each head has 64 modes"}), AtlasLookupError, "no mode 99"),
        (httpx.Response(422, json={"detail": [{"msg": "too long"}]}), ValueError, "refused the request \\(422\\)"),
        (httpx.Response(503, text="busy"), AtlasUnreachable, "answered 503"),
        (httpx.Response(200, html="<html>a web page</html>"), AtlasUnreachable, "not a qkatlas service"),
    ],
)
def test_what_the_service_answers_becomes_a_clear_error(
    response: httpx.Response, error: type[Exception], words: str
) -> None:
    source = _source(httpx.MockTransport(lambda request: response))
    with pytest.raises(error, match=words):
        source.models()


def test_a_service_that_cannot_be_reached_says_so() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(AtlasUnreachable, match=r"http://atlas\.example:8000 cannot be reached: connection refused"):
        _source(httpx.MockTransport(refuse)).models()
