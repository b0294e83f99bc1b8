"""The committed OpenAPI schema (the dashboard's generated client is built from it) must not drift."""

from backend.export_openapi import SCHEMA_PATH, openapi_schema, render


def test_committed_openapi_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == render(openapi_schema()), (
        "backend/openapi.json is stale: run `python -m backend.export_openapi` and commit it"
    )
