"""The HTTP source: a running qkatlas service's read API (``http://host:port``), its JSON validated against the
service's own response records. Every request for a model's parts names the atlas revision it was opened at
(``?v=``), so a model rebuilt on the server meanwhile answers ``AtlasLookupError`` instead of mixing atlases."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from backend.schemas import (
    Basis,
    ClassAcrossModels,
    ErrorBody,
    HeadDetail,
    ModeDetail,
    ModelDetail,
    ModelSummary,
    ModeMaps,
    ModeSamples,
    SearchResults,
)
from qkatlas.read.sources import AtlasLookupError, AtlasUnreachable, HeadAddress, ModeAddress

Record = TypeVar("Record", bound=BaseModel)
_MODEL_LIST = TypeAdapter(list[ModelSummary])
Params = dict[str, str | int]


def _head_path(address: HeadAddress) -> str:
    return f"/api/models/{quote(address.model)}/layers/{address.layer}/heads/{address.head}"


def _mode_path(address: ModeAddress) -> str:
    return f"{_head_path(address.head)}/modes/{address.mode}"


def _mode_params(address: ModeAddress) -> Params:
    return {"basis": address.head.basis.value, "sign": address.sign.value, "v": address.head.revision}


def _basis_params(basis: Basis | None, limit: int) -> Params:
    """A search's parameters: without a basis, the service ranks in each atlas's first."""
    return {"limit": limit} if basis is None else {"limit": limit, "basis": basis.value}


class HttpSource:
    """The service at ``url`` (``http://host:port``, the dashboard's address); an ``AtlasSource``."""

    def __init__(self, url: str, *, timeout_s: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        """``transport`` replaces the network (tests)."""
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)

    @property
    def location(self) -> str:
        return self.url

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: Params | None = None) -> httpx.Response:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AtlasUnreachable(f"{self.url} cannot be reached: {exc}") from None
        if response.is_success:
            return response
        try:
            detail = ErrorBody.model_validate_json(response.content).detail
        except ValidationError:
            detail = response.text[:500] or response.reason_phrase
        if response.status_code == 404:
            raise AtlasLookupError(detail)
        if response.status_code < 500:
            raise ValueError(f"{self.url}{path} refused the request ({response.status_code}): {detail}")
        raise AtlasUnreachable(f"{self.url}{path} answered {response.status_code}: {detail}")

    def _record(self, record: type[Record], path: str, params: Params | None = None) -> Record:
        response = self._get(path, params)
        try:
            return record.model_validate_json(response.content)
        except ValidationError as exc:
            raise AtlasUnreachable(f"{self.url}{path} did not answer a qkatlas {record.__name__}: {exc}") from None

    def models(self) -> list[ModelSummary]:
        response = self._get("/api/models")
        try:
            return _MODEL_LIST.validate_json(response.content)
        except ValidationError:
            raise AtlasUnreachable(f"{self.url} is not a qkatlas service (/api/models is no list of models)") from None

    def model(self, slug: str) -> ModelDetail:
        return self._record(ModelDetail, f"/api/models/{quote(slug)}")

    def head(self, address: HeadAddress) -> HeadDetail:
        params: Params = {"basis": address.basis.value, "v": address.revision}
        return self._record(HeadDetail, _head_path(address), params)

    def mode(self, address: ModeAddress) -> ModeDetail:
        return self._record(ModeDetail, _mode_path(address), _mode_params(address))

    def samples(self, address: ModeAddress) -> ModeSamples:
        return self._record(ModeSamples, f"{_mode_path(address)}/samples", _mode_params(address))

    def maps(self, address: ModeAddress, rank: int) -> ModeMaps:
        return self._record(ModeMaps, f"{_mode_path(address)}/top/{rank}/maps", _mode_params(address))

    def image(self, image_id: str) -> bytes:
        return self._get(f"/api/images/{quote(image_id)}").content

    def search(self, text: str, basis: Basis | None, limit: int) -> SearchResults:
        return self._record(SearchResults, "/api/search", {"q": text, **_basis_params(basis, limit)})

    def class_modes(self, label: str, basis: Basis | None, limit: int) -> ClassAcrossModels:
        path = f"/api/classes/{quote(label, safe='')}"
        return self._record(ClassAcrossModels, path, _basis_params(basis, limit))
