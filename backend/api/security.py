"""Security headers on every response of the app: one definition here, sent by the backend (``SecurityHeaders``)
and by nginx (deploy/nginx.conf, whose block between the ``security headers`` markers is rendered from this
module by ``python -m backend.api.security``; a unit test holds the file to it).

- ``Content-Security-Policy``: everything from the app's own origin only (images also as ``data:`` and
  ``blob:`` URLs, which the chart downloads draw with), no plugins, no ``<base>``, forms posting home only, and
  framing by the app's own pages only (``frame-ancestors 'self'``) — except an *embed* address (a mode, head
  or list page with ``embed=1``), which any page may frame (``frame-ancestors *``). The offline API docs run
  one inline script (Swagger UI's start-up), allowed by its hash, and Swagger UI's inline styles.
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: strict-origin-when-cross-origin``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.docs import DOCS_URL, docs_page

# Both match the address as the client sent it (still percent-encoded): nginx's ``$request_uri``, which,
# unlike ``$uri``, stays the page's own when nginx serves the page from index.html.
#: The dashboard's pages that may be framed by any site when asked with ``embed=1``.
EMBEDDABLE_PATH = r"^/(m|lists)/"
#: The API docs and their assets.
DOCS_PATH = rf"^{DOCS_URL}(/|\?|$)"

_SELF = "'self'"


def _inline_script_hashes(html: str) -> list[str]:
    """CSP sources allowing each inline ``<script>`` of ``html`` by its SHA-256."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts]


def _policy(directives: Mapping[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


_APP = {
    "default-src": _SELF,
    "img-src": f"{_SELF} data: blob:",
    "object-src": "'none'",
    "base-uri": _SELF,
    "form-action": _SELF,
    "frame-ancestors": _SELF,
}
#: The app's pages and API answers.
APP_POLICY = _policy(_APP)
#: An embed address: the same, framed by anyone.
EMBED_POLICY = _policy({**_APP, "frame-ancestors": "*"})
#: Swagger UI at /api/docs: its start-up script by hash, its inline styles.
DOCS_POLICY = _policy(
    {
        **_APP,
        "script-src": " ".join([_SELF, *_inline_script_hashes(bytes(docs_page().body).decode())]),
        "style-src": f"{_SELF} 'unsafe-inline'",
    }
)
#: Headers sent with every response whatever its address.
FIXED_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}


def _first(query_string: str, name: str) -> str | None:
    """The first value of ``name`` in the query, as nginx's ``$arg_<name>`` reads it."""
    return next((value for key, value in parse_qsl(query_string, keep_blank_values=True) if key == name), None)


def content_security_policy(path: str, query_string: str) -> str:
    """The policy of the response to ``path`` and ``query_string`` (both as sent, percent-encoded)."""
    if re.match(EMBEDDABLE_PATH, path) and _first(query_string, "embed") == "1":
        return EMBED_POLICY
    if re.match(DOCS_PATH, path):
        return DOCS_POLICY
    return APP_POLICY


def security_headers(path: str, query_string: str) -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(path, query_string), **FIXED_HEADERS}


def headers_for(scope: Scope) -> dict[str, str]:
    """``security_headers`` of an HTTP request's scope (its address as sent)."""
    path = scope.get("raw_path") or scope["path"].encode()
    return security_headers(path.decode("latin-1"), scope["query_string"].decode("latin-1"))


class SecurityHeaders:
    """ASGI middleware putting ``security_headers`` on every HTTP response (replacing any a route set); an
    unhandled error's 500 is answered outside all middleware, by a handler that adds them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def _markers(part: str) -> tuple[str, str]:
    return f"# >>> security headers: {part}", f"# <<< security headers: {part}"


def nginx_blocks() -> dict[str, str]:
    """The parts of deploy/nginx.conf that send ``security_headers``: at http level, ``$qkatlas_csp`` picks
    each response's policy as ``content_security_policy`` does; at server level, every response gets the
    headers (``always``: errors too) and the backend's own copies are hidden, so none is sent twice. No
    location may have an ``add_header`` of its own: it would drop these (nginx inherits ``add_header`` only
    into locations that have none)."""
    names = ["Content-Security-Policy", *FIXED_HEADERS]
    maps = f"""map $arg_embed $qkatlas_embed {{
    "1" 1;
    default 0;
}}
map "$qkatlas_embed$request_uri" $qkatlas_csp {{
    "~^1{EMBEDDABLE_PATH.removeprefix("^")}" "{EMBED_POLICY}";
    "~^[01]{DOCS_PATH.removeprefix("^")}" "{DOCS_POLICY}";
    default "{APP_POLICY}";
}}"""
    server = "\n".join(
        [
            "    add_header Content-Security-Policy $qkatlas_csp always;",
            *(f'    add_header {name} "{value}" always;' for name, value in FIXED_HEADERS.items()),
            *(f"    proxy_hide_header {name};" for name in names),
        ]
    )
    return {"maps": maps, "server": server}


def render_nginx_conf(text: str) -> str:
    """``text`` (deploy/nginx.conf) with its security-header blocks rendered from this module."""
    for part, block in nginx_blocks().items():
        begin, end = _markers(part)
        start, stop = text.index(begin) + len(begin), text.index(end)
        indent = "    " if part == "server" else ""
        text = f"{text[:start]}\n{block}\n{indent}{text[stop:]}"
    return text


if __name__ == "__main__":
    NGINX_CONF.write_text(render_nginx_conf(NGINX_CONF.read_text()))
    sys.stdout.write(f"wrote {NGINX_CONF}\n")
