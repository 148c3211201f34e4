"""HTTP as map clients expect it: ETag and 304, Cache-Control, CORS, gzip of JSON and MVT.

One ``after_request`` hook does all of it for every response, so that no view repeats the rules.
The ETag is a strong hash of the uncompressed body; the gzip variant gets its own tag (``-gz``)
because it is a different byte sequence, and a client holding either is answered with a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading

from flask import Flask, Response, current_app, request
from werkzeug.security import safe_join
from zlib_ng import gzip_ng

from planning_gis.settings import Settings
from planning_gis.web import MACHINE_PREFIXES

#: Bodies worth compressing: JSON of every flavour and Mapbox vector tiles (PNG/WebP are not).
COMPRESSIBLE = (
    "application/json",
    "application/geo+json",
    "application/schema+json",
    "application/vnd.oai.openapi+json",
    "application/vnd.mapbox-vector-tile",
    "text/html",
)
#: Static text files (our CSS/JS and the vendored Leaflet) sent gzipped to clients that accept it.
STATIC_COMPRESSIBLE = ("text/css", "application/javascript", "text/javascript")

#: Compressed static files by (path, mtime, size): each file is compressed once per process.
_static_gz: dict[tuple[str, float, int], bytes] = {}
_static_gz_lock = threading.Lock()


def _etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def entity_tags(if_none_match: str) -> set[str]:
    """The entity tags of an If-None-Match header, unquoted, weak or strong alike."""
    return {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")
            if t.strip()}


def _client_tags() -> set[str]:
    return entity_tags(request.headers.get("If-None-Match", ""))


def cors_headers(settings: Settings) -> list[tuple[str, str]]:
    """CORS headers of every GET answer (also sent by the cached-tile fast path)."""
    return [("Access-Control-Allow-Origin", settings.cors_allow_origin),
            ("Access-Control-Expose-Headers", "ETag, Content-Crs, Link")]


def add_cors(resp: Response) -> None:
    for name, value in cors_headers(current_app.config["SETTINGS"]):
        resp.headers[name] = value
    if request.method == "OPTIONS":
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type, If-None-Match"
        resp.headers["Access-Control-Max-Age"] = "86400"


def _static_file() -> str | None:
    """The file a static endpoint (the app's or a blueprint's) is sending, if any."""
    endpoint = request.endpoint or ""
    if endpoint != "static" and not endpoint.endswith(".static"):
        return None
    owner = current_app if endpoint == "static" else current_app.blueprints.get(
        endpoint.rsplit(".", 1)[0])
    folder = getattr(owner, "static_folder", None)
    filename = (request.view_args or {}).get("filename")
    if not folder or not filename:
        return None
    return safe_join(folder, filename)


def _static_gzipped(path: str) -> bytes | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_mtime, st.st_size)
    data = _static_gz.get(key)
    if data is None:
        with open(path, "rb") as f:
            data = gzip.compress(f.read(), compresslevel=9, mtime=0)
        with _static_gz_lock:
            for old in [k for k in _static_gz if k[0] == path]:
                del _static_gz[old]
            _static_gz[key] = data
    return data


def finish_static(resp: Response) -> Response:
    """CSS and JavaScript: gzip (compressed once per file), Vary, and 304 for either tag.

    The file's own ETag (from Flask's send_file) names the plain bytes; the gzip variant is sent
    as ``<tag>-gz``, and a client holding either tag gets a 304.
    """
    resp.vary.add("Accept-Encoding")
    if resp.status_code != 200:
        return resp
    tag, _ = resp.get_etag()
    if tag and _client_tags() & {tag, tag + "-gz"}:
        not_modified = Response(status=304)
        for h in ("Cache-Control", "Vary", "Last-Modified", "Access-Control-Allow-Origin",
                  "Access-Control-Expose-Headers"):
            if h in resp.headers:
                not_modified.headers[h] = resp.headers[h]
        not_modified.set_etag(tag)
        resp.close()
        return not_modified
    if ("gzip" not in request.headers.get("Accept-Encoding", "").lower()
            or "Content-Encoding" in resp.headers or "Content-Range" in resp.headers):
        return resp
    path = _static_file()
    data = _static_gzipped(path) if path else None
    if data is None:
        return resp
    resp.close()
    resp.direct_passthrough = False
    resp.set_data(data)
    resp.headers["Content-Encoding"] = "gzip"
    if tag:
        resp.set_etag(tag + "-gz")
    return resp


def finish_response(resp: Response) -> Response:
    """Add CORS; then, for a 200 GET with a body, the ETag/304 and gzip rules."""
    add_cors(resp)
    if (request.method in ("GET", "HEAD") and resp.mimetype in STATIC_COMPRESSIBLE
            and _static_file() is not None):
        return finish_static(resp)
    if request.method not in ("GET", "HEAD") or resp.status_code != 200 or resp.direct_passthrough:
        return resp
    if not request.path.startswith(MACHINE_PREFIXES) and resp.mimetype not in COMPRESSIBLE:
        return resp
    settings = current_app.config["SETTINGS"]
    preset, _ = resp.get_etag()
    if preset:
        # The view already tagged (and, by the same rules, maybe compressed) its body: cached
        # vector tiles do, so that a hit neither hashes nor compresses anything again.
        body = b""
        tag = preset.removesuffix("-gz")
        compress = False
    else:
        body = resp.get_data()
        tag = _etag(body)
        accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        compress = (
            accepts_gzip
            and resp.mimetype in COMPRESSIBLE
            and len(body) >= settings.gzip_min_bytes
            and "Content-Encoding" not in resp.headers
        )
    if resp.mimetype in COMPRESSIBLE:
        resp.vary.add("Accept-Encoding")
    if request.path.startswith(MACHINE_PREFIXES):
        if not resp.headers.get("Cache-Control"):
            resp.headers["Cache-Control"] = settings.api_cache_control
        sent = tag + "-gz" if compress else tag
        if _client_tags() & {tag, tag + "-gz"}:
            not_modified = Response(status=304)
            for h in ("Cache-Control", "Vary", "Access-Control-Allow-Origin",
                      "Access-Control-Expose-Headers"):
                if h in resp.headers:
                    not_modified.headers[h] = resp.headers[h]
            not_modified.set_etag(preset or sent)
            return not_modified
        resp.set_etag(preset or sent)
    if compress:
        resp.set_data(gzip_ng.compress(body, compresslevel=settings.gzip_level, mtime=0))
        resp.headers["Content-Encoding"] = "gzip"
    return resp


def init_app(app: Flask) -> None:
    app.after_request(finish_response)
