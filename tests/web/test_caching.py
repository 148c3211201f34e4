"""HTTP as clients expect it, through the real gunicorn server: ETag/304, CORS, gzip."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

TMS = get_tms("WebMercatorQuad")


def _get(url: str, headers: dict | None = None, method: str = "GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _paths(city) -> list[str]:
    t = TMS.tile(*CENTRE_LONLAT, 16)
    return [
        f"/tiles/sheets/{city.ids['sheet']}/{t.z}/{t.x}/{t.y}.png",
        f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt",
        "/ogc/collections/zones/items?limit=3",
    ]


@pytest.mark.parametrize("i", range(3))
def test_etag_and_304(city, live_server, i):
    url = live_server + _paths(city)[i]
    status, headers, body = _get(url)
    assert status == 200 and body
    etag = headers["ETag"]
    assert "max-age" in headers["Cache-Control"]
    status, headers2, body2 = _get(url, {"If-None-Match": etag})
    assert status == 304 and body2 == b""
    assert headers2["ETag"] == etag
    status, _, _ = _get(url, {"If-None-Match": '"something-else"'})
    assert status == 200


def test_cors_on_get_and_preflight(city, live_server):
    status, headers, _ = _get(live_server + "/ogc/collections", {"Origin": "https://x.example"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = _get(live_server + "/api/lookup", {
        "Origin": "https://x.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"}, method="OPTIONS")
    assert status == 200 and "POST" in headers["Access-Control-Allow-Methods"]
    # errors carry CORS too, so a browser client can read the message
    status, headers, body = _get(live_server + "/ogc/collections/nope")
    assert status == 404 and headers["Access-Control-Allow-Origin"] == "*"
    assert json.loads(body)["detail_vi"]


def _comparable(body: bytes):
    """The body, minus the OGC items' timeStamp (it moves on by the second between requests)."""
    if body.startswith(b"{"):
        doc = json.loads(body)
        doc.pop("timeStamp", None)
        return doc
    return body


@pytest.mark.parametrize("i", [1, 2])
def test_gzip_json_and_mvt(city, live_server, i):
    url = live_server + _paths(city)[i]
    _, plain_headers, plain = _get(url)
    status, headers, body = _get(url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert _comparable(gzip.decompress(body)) == _comparable(plain) and len(body) < len(plain)
    # a client holding the compressed variant's tag also gets a 304
    status, _, _ = _get(url, {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert status == 304
    assert "Content-Encoding" not in plain_headers


def test_png_is_not_gzipped(city, live_server):
    _, headers, _ = _get(live_server + _paths(city)[0], {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers


@pytest.mark.parametrize("path", ["/static/css/citizen.css", "/static/js/citizen.js",
                                  "/static/vendor/leaflet/leaflet.js"])
def test_static_css_and_js_are_gzipped_with_etag_and_304(live_server, path):
    url = live_server + path
    status, plain_headers, plain = _get(url)
    assert status == 200 and plain and "Content-Encoding" not in plain_headers
    assert "Accept-Encoding" in plain_headers["Vary"]
    status, headers, body = _get(url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == plain and len(body) < len(plain)
    assert headers["ETag"] != plain_headers["ETag"]
    # either variant's tag revalidates, with or without gzip
    for tag in (headers["ETag"], plain_headers["ETag"]):
        for enc in ({"Accept-Encoding": "gzip"}, {}):
            status, h304, b304 = _get(url, {"If-None-Match": tag, **enc})
            assert status == 304 and b304 == b"", (tag, enc)
            assert "Accept-Encoding" in h304["Vary"]
