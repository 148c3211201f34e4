"""Security headers on every response: pages, API, tiles (the cached-tile fast path too),
static files and errors.

Why a WSGI middleware and not an ``after_request`` hook: cached vector tiles are answered by
``planning_gis.web.tile_fastpath`` before Flask runs, and a 304 or an error page made by another hook
must carry the headers as well. Wrapping ``app.wsgi_app`` last in ``create_app`` puts one list,
:func:`security_headers`, on every answer of both paths.

The Content-Security-Policy allows scripts and styles from our own origin only (no inline
script, so a label that slips into the page as HTML cannot run). Leaflet positions its panes
with ``element.style`` (the CSSOM, which ``style-src`` does not restrict) and injects no
``<style>`` element, and our pages have no inline ``style=`` attribute, so ``style-src``
needs no ``'unsafe-inline'``. Images may come from ``data:``/``blob:`` URLs (Leaflet's empty
tile, the plot's PDF link) and from the external base map when one is configured; fetch and
XHR go to our own origin, or to a ``blob:`` URL our script made itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from planning_gis.settings import Settings


def base_map_source(url_template: str) -> str | None:
    """The CSP source of an external base map's tile URL template, or None when none is set.

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` gives ``https://*.tile.example.org``: the
    ``{s}`` subdomain placeholder becomes the CSP wildcard.
    """
    template = (url_template or "").strip()
    if not template:
        return None
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{" in host:
        first, _, rest = host.partition(".")
        if "{" in rest or not rest or not first.startswith("{"):
            return None
        host = "*." + rest
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    """Our pages' policy: own origin only, no inline script, no framing, no plugins."""
    images = ["'self'", "data:", "blob:"]
    base = base_map_source(settings.base_map_url)
    if base:
        images.append(base)
    # The static read side (PMTiles on another origin: object storage, a CDN) is fetched by
    # our script with range requests: that origin only, never a wildcard.
    connect = ["'self'", "blob:"]
    static = urlsplit(settings.static_tiles_url or "")
    if static.scheme in ("http", "https") and static.netloc:
        connect.append(f"{static.scheme}://{static.netloc.rsplit('@', 1)[-1]}")
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src " + " ".join(images),
        # blob: URLs are made by our own script (the plot's information-sheet PDF) and can be
        # read back by it; they hold nothing from elsewhere.
        "connect-src " + " ".join(connect),
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
    return "; ".join(directives)


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """The headers every response carries (one list for Flask and the tile fast path)."""
    return [
        ("Content-Security-Policy", content_security_policy(settings)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every response that does not set them itself."""

    def __init__(self, wsgi_app: Callable, headers: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self.headers = headers
        self.names = {name.lower() for name, _ in headers}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        def start(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None):
            present = {name.lower() for name, _ in response_headers} & self.names
            if present:
                extra = [h for h in self.headers if h[0].lower() not in present]
            else:
                extra = self.headers
            return start_response(status, [*response_headers, *extra], exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    """Wrap the app's WSGI callable; call it last in ``create_app`` so that it wraps the
    cached-tile fast path as well."""
    app.wsgi_app = SecurityHeadersMiddleware(app.wsgi_app, security_headers(app.config["SETTINGS"]))
