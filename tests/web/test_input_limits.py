"""Issue 12: limits every request meets, answered as JSON by the real gunicorn server.

405 names the allowed methods, a URL over PLANNING_MAX_URL_BYTES is our JSON 414 (not
gunicorn's HTML page), a body over PLANNING_MAX_JSON_BYTES is refused from its Content-Length
before it is read, and a NUL byte in any query parameter is a 400 before any SQL sees it.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from flask import request

from planning_gis.errors import InvalidInput
from planning_gis.web.json_body import nesting_depth

pytestmark = pytest.mark.db


def _call(url: str, method: str = "GET", data: bytes | None = None):
    req = urllib.request.Request(url, method=method, data=data,
                                 headers={"Accept": "application/json",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _json_error(headers, body: bytes) -> dict:
    assert headers["Content-Type"].startswith("application/json"), body[:200]
    doc = json.loads(body)
    assert doc["code"] and doc["detail"] and doc["detail_vi"]
    return doc


@pytest.mark.parametrize("method,path,allowed", [
    ("PUT", "/api/lookup", {"GET", "POST"}),
    ("DELETE", "/ogc/collections/zones/items", {"GET"}),
    ("POST", "/api/search", {"GET"}),
    ("PATCH", "/tiles/zones/14/13024/7216.mvt", {"GET"}),
])
def test_wrong_method_is_405_with_allow(live_server, method, path, allowed):
    status, headers, body = _call(live_server + path, method, b"{}" if method != "DELETE" else None)
    assert status == 405
    assert _json_error(headers, body)["code"] == "method_not_allowed"
    assert allowed <= {m.strip() for m in headers["Allow"].split(",")}


def test_long_url_is_our_json_414(live_server, demo):
    """4 096 < URL < gunicorn's limit: our 414, in JSON (gunicorn answered an HTML page)."""
    pad = "x" * (demo.max_url_bytes + 10)
    status, headers, body = _call(f"{live_server}/api/search?q=ha+noi&pad={pad}")
    assert status == 414
    assert _json_error(headers, body)["code"] == "uri_too_long"


def test_url_under_the_limit_is_served(live_server):
    status, _, _ = _call(f"{live_server}/api/search?q={'a' * 150}")
    assert status == 200


def test_body_over_the_json_limit_is_refused_before_reading(live_server, demo):
    """Only the headers are sent: the 413 comes from Content-Length alone, at once."""
    parts = urlsplit(live_server)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"POST /api/lookup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 41000000\r\nConnection: close\r\n\r\n")
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
    assert resp.status == 413
    assert _json_error(resp.headers, body)["code"] == "too_large"


@pytest.mark.parametrize("path", [
    "/api/documents?issuer=a%00b",
    "/tai-lieu?issuer=x%00",
    "/api/search?q=ha%00noi",
    "/api/citizen/find?q=ab%00c",
    "/ogc/collections/units/items?name=%00",
    "/api/lookup?lon=105.8&lat=21.0&date=2020-01-01%00",
])
def test_nul_in_a_query_parameter_is_400(live_server, path):
    status, headers, body = _call(live_server + path)
    assert status == 400, body[:300]
    assert _json_error(headers, body)["code"] == "invalid_input"


@pytest.mark.parametrize("raw", ['{"a": NaN}', '{"a": [Infinity]}', '{"a": "x\\u0000"}',
                                 '[' * 3000 + ']' * 3000])
def test_every_get_json_in_the_app_is_strict(app, raw):
    """The app's JSON provider is the strict parser: the workspace's JSON API is covered too."""
    with app.test_request_context("/quan-tri/api/x", method="POST", data=raw,
                                  content_type="application/json"):
        with pytest.raises(InvalidInput):
            request.get_json(silent=True)


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth(b'{"a": [1, [2, {"b": "[[[[{{{{"}]]}') == 4
    assert nesting_depth(b'"' + b'\\"[' * 100_000) == 0  # unterminated string: one linear scan
    assert nesting_depth(b"[" * 5000 + b"]" * 5000) == 5000


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "planninglimitsboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    body += b"\x00" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_anonymous_upload_to_the_workspace_has_the_small_limit(client, demo):
    """Without an account nobody can make the server spool a big body before sign-in refuses."""
    body, ctype = _multipart(demo.max_json_bytes + 1)
    r = client.post("/quan-tri/do-an/1/to-ban-do", data=body, content_type=ctype,
                    headers={"Accept": "application/json"})
    assert r.status_code == 413, r.get_data(as_text=True)[:300]
    assert r.get_json()["code"] == "too_large"


def test_a_signed_in_planner_keeps_the_upload_limit(app, demo):
    """The same body from a signed-in planner passes the limit (and is judged as a scan)."""
    from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
    from tests.workspace.conftest import CAU_GIAY, plan_of, sign_in, token_of

    c = app.test_client()
    assert sign_in(c, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD).status_code == 302
    body, ctype = _multipart(demo.max_json_bytes + 1)
    r = c.post(f"/quan-tri/do-an/{plan_of(demo, CAU_GIAY)}/to-ban-do", data=body,
               content_type=ctype, headers={"Accept": "application/json",
                                            "X-CSRF-Token": token_of(c)})
    assert r.status_code == 400, r.get_data(as_text=True)[:300]  # not a scan, but not 413
    assert r.get_json()["code"] != "too_large"


@pytest.mark.parametrize("path", ["/quan-tri/dang-nhap", "/quan-tri/do-an/moi"])
def test_nul_in_a_form_field_is_a_400(client, path):
    r = client.post(path, data={"email": "a\x00b@example.org", "name": "x\x00y", "password": "p"},
                    headers={"Accept": "application/json"})
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert "NUL" in r.get_json()["detail"]
