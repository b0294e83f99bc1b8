"""The frontend container's nginx, run natively: what tests and benchmarks use instead of Docker.

``deploy/nginx.conf`` is a template of the official nginx image: its entrypoint substitutes
``${BACKEND_UPSTREAM}`` with envsubst and includes the result from the image's main config.
:func:`write_nginx_config` does the same under a local folder, with the container's listen port,
dashboard root and cache folder mapped to local ones, so that what runs here is the file Compose ships.
"""

from __future__ import annotations

import os
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("nginx.conf")
#: Where the frontend container keeps its proxy cache (the Compose volume ``nginx-cache`` mounts here).
CONTAINER_CACHE_DIR = "/var/cache/nginx/qkatlas"

# The parts of the official image's main nginx.conf that deploy/nginx.conf relies on, every path under
# the run's folder. Room for a load test's connections (wrk keeps its connections open for the whole
# run, as browsers keep theirs); nothing else differs from the image's defaults in a way that matters.
_MAIN = """daemon off;
{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{
        text/html html; text/css css; application/javascript js; image/svg+xml svg;
        application/json json; image/png png; image/jpeg jpg;
    }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/default.conf;
}}
"""


def write_nginx_config(prefix: Path, *, port: int, backend_upstream: str, html: Path, workers: int = 1) -> list[str]:
    """Render deploy/nginx.conf into ``prefix`` as the image would, listening on 127.0.0.1:``port`` and
    proxying to ``backend_upstream`` (host:port), with the dashboard from ``html`` and the cache under
    ``prefix``; returns the nginx command line that runs it in the foreground (append ``-t`` to check).

    Raises ``ValueError`` when the template no longer contains a container path this maps, or names a
    variable the frontend container does not set.
    """
    template = TEMPLATE.read_text()
    local = {
        "${BACKEND_UPSTREAM}": backend_upstream,
        "listen 80;": f"listen 127.0.0.1:{port} backlog=4096;",
        "/usr/share/nginx/html": str(html),
        CONTAINER_CACHE_DIR: str(prefix / "cache"),
    }
    for container, here in local.items():
        if container not in template:
            raise ValueError(f"deploy/nginx.conf no longer contains {container!r}")
        template = template.replace(container, here)
    if "${" in template:
        raise ValueError("deploy/nginx.conf names a variable the frontend container does not set")
    (prefix / "default.conf").write_text(template)
    # As root, nginx's workers would drop to `nobody`, who cannot read a private temporary folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = prefix / "nginx.conf"
    main.write_text(_MAIN.format(prefix=prefix, user=user, workers=workers))
    return ["nginx", "-p", str(prefix), "-c", str(main), "-e", str(prefix / "error.log")]
