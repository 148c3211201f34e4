"""Security headers (CSP, nosniff, frame and referrer rules) on every kind of response."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request

import pytest

from planning_gis.web.security_headers import base_map_source, content_security_policy
from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

pytestmark = pytest.mark.db
TMS = get_tms("WebMercatorQuad")


def _assert_secured(headers, what: str) -> None:
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (what, csp)
    assert directives.get("default-src") == ["'self'"], (what, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (what, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (what, csp)
    assert directives.get("object-src") == ["'none'"], (what, csp)
    assert directives.get("base-uri") == ["'self'"] and directives.get("form-action") == ["'self'"]
    assert directives.get("connect-src") == ["'self'", "blob:"], (what, csp)
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "same-origin")


def test_every_kind_of_response_carries_the_headers(city, city_client):
    c = city_client
    t = TMS.tile(*CENTRE_LONLAT, 16)
    tile = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    first = c.get(tile)
    hit = c.get(tile)  # answered by the cached-tile fast path, before Flask
    assert c.application.extensions["mvt_cache"].hits >= 1
    not_modified = c.get(tile, headers={"If-None-Match": hit.headers["ETag"]})
    assert not_modified.status_code == 304
    answers = {
        "citizen page": c.get("/"),
        "library page": c.get("/tai-lieu"),
        "sign-in page": c.get("/quan-tri/dang-nhap"),
        "workspace redirect": c.get("/quan-tri/"),
        "API": c.get("/api/legend"),
        "API error": c.get("/api/lookup?lon=abc&lat=1"),
        "page 404": c.get("/khong-co-trang-nay", headers={"Accept": "text/html"}),
        "static JS": c.get("/static/js/citizen.js"),
        "static CSS": c.get("/static/css/app.css"),
        "tile (Flask)": first,
        "tile (fast path)": hit,
        "tile 304 (fast path)": not_modified,
        "OGC": c.get("/ogc/collections"),
        "API docs": c.get("/api/docs"),
    }
    assert answers["API error"].status_code == 400
    assert answers["page 404"].status_code == 404
    for what, resp in answers.items():
        _assert_secured(resp.headers, what)
    # The docs page used an inline <style>, which the policy blocks: it links a file now.
    assert "<style" not in answers["API docs"].get_data(as_text=True)


def test_the_real_server_sends_them_too(city, live_server):
    t = TMS.tile(*CENTRE_LONLAT, 16)
    for path in ("/", f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt", f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt",
                 "/static/js/citizen.js", "/api/lookup?lon=x&lat=y"):
        try:
            with urllib.request.urlopen(live_server + path, timeout=30) as r:
                headers = r.headers
        except urllib.error.HTTPError as exc:
            headers = exc.headers
        _assert_secured(headers, path)


def test_a_configured_base_map_host_is_allowed_for_images(demo):
    s = dataclasses.replace(demo, base_map_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    csp = content_security_policy(s)
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img == "img-src 'self' data: blob: https://*.tile.example.org"
    assert "example.org" not in content_security_policy(dataclasses.replace(demo, base_map_url=""))
    assert base_map_source("https://tiles.example.vn:8443/{z}/{x}/{y}.png") == \
        "https://tiles.example.vn:8443"
    assert base_map_source("javascript:alert(1)") is None


def test_a_static_tiles_origin_is_allowed_for_fetch_only(demo):
    """The PMTiles archives on object storage / a CDN: the page's script reads them with range
    requests (connect-src); a path on our own site needs nothing more than 'self'."""
    s = dataclasses.replace(demo, static_tiles_url="https://tiles.example.vn:8443/hanoi/v1")
    csp = content_security_policy(s)
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
    assert connect == "connect-src 'self' blob: https://tiles.example.vn:8443"
    assert "example.vn" not in next(d for d in csp.split("; ") if d.startswith("script-src"))
    same = content_security_policy(dataclasses.replace(demo, static_tiles_url="/pmtiles"))
    assert "connect-src 'self' blob:;" in same
