"""`/api/docs` needs nothing from outside the service: every address on the page is local and answers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

#: What may name another host in HTML: an attribute value or a string in the page's script.
_ADDRESS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def test_the_docs_page_references_only_local_addresses_that_answer(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    addresses = [a or b for a, b in _ADDRESS.findall(html)]
    assert {"/api/openapi.json", "/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"} <= set(
        addresses
    )
    assert not re.search(r"https?:|//[a-z]", html, re.IGNORECASE), "the page names another host"
    for address in addresses:
        assert address.startswith("/") and not address.startswith("//"), address
        assert client.get(address).status_code == 200, address
