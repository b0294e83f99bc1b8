"""The security headers have one definition (backend/api/security.py): deploy/nginx.conf carries its rendering;
the dashboard's page has the place where the server writes the link-preview tags, whose titles are the
dashboard's own (one table of cases)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from backend.api.docs import docs_page
from backend.api.security import NGINX_CONF, content_security_policy, render_nginx_conf
from backend.services.page_meta import HEAD_PLACEHOLDER, PAGE_TITLES, PageMeta

ROOT = Path(__file__).resolve().parents[2]


def test_nginx_conf_renders_the_python_policy() -> None:
    text = NGINX_CONF.read_text()
    assert render_nginx_conf(text) == text, "run: python -m backend.api.security"


def test_nginx_sends_security_headers_from_the_server_level_only() -> None:
    # A location with an add_header (or proxy_hide_header) of its own would inherit none of the server's.
    server = NGINX_CONF.read_text().split("server {", 1)[1]
    depth, adds_in_locations = 0, []
    for line in server.splitlines():
        if depth >= 1 and line.strip().startswith(("add_header", "proxy_hide_header")):
            adds_in_locations.append(line)
        depth += line.count("{") - line.count("}")
    assert adds_in_locations == []


def test_the_app_page_has_the_place_for_the_link_preview_tags() -> None:
    html = (ROOT / "frontend" / "index.html").read_text()
    assert html.count(HEAD_PLACEHOLDER) == 1 and "<title>" not in html


@pytest.mark.parametrize(
    ("path", "query", "framing"),
    [
        ("/m/planted/L0/H0/M0", "embed=1", "*"),
        ("/m/planted/L0/H0", "sign=neg&embed=1", "*"),
        ("/lists/abc", "embed=1", "*"),
        ("/m/planted/L0/H0/M0", "embed=0&embed=1", "'self'"),  # the first value counts, as nginx's $arg_embed
        ("/m/planted/L0/H0/M0", "", "'self'"),
        ("/search", "embed=1", "'self'"),
        ("/", "embed=1", "'self'"),
        ("/api/models", "embed=1", "'self'"),
    ],
)
def test_only_embed_addresses_may_be_framed_by_other_sites(path: str, query: str, framing: str) -> None:
    policy = content_security_policy(path, query)
    assert f"frame-ancestors {framing}" in policy
    assert "default-src 'self'" in policy and "object-src 'none'" in policy and "base-uri 'self'" in policy


def test_the_docs_policy_allows_exactly_the_docs_page_inline_script() -> None:
    html = bytes(docs_page().body).decode()
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    policy = content_security_policy("/api/docs", "")
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]


def test_the_server_names_pages_as_the_dashboard_does() -> None:
    cases = json.loads((ROOT / "frontend" / "src" / "lib" / "common" / "pageTitleCases.json").read_text())
    assert {case["page"] for case in cases} == set(PAGE_TITLES)
    for case in cases:
        title = PAGE_TITLES[case["page"]](*case["args"])
        assert title == case["title"]
        assert PageMeta(title, "", "", "").document_title == case["document"]
