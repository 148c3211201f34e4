"""Limits every request meets before a view runs: URL length, NUL bytes, body size.

Why here, once: a URL of 8 000 bytes, a ``%00`` in any query parameter (PostgreSQL cannot store
NUL in text, so it surfaced as a 500 from whichever query read it) and a body of any size were
each handled, or not, by every view on its own. This hook answers them all the same way, as the
project's JSON errors: 414 over ``PLANNING_MAX_URL_BYTES`` (gunicorn's own request-line limit is
set higher so that it is ours that answers), 400 for a NUL, 413 over ``PLANNING_MAX_JSON_BYTES``
for every body except the workspace's multipart uploads (scans, PDFs, zone files), which keep
``PLANNING_MAX_UPLOAD_BYTES``. The body limit is checked from Content-Length before reading and
enforced by werkzeug while reading a chunked body.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestURITooLarge

from planning_gis.errors import InvalidInput, TooLarge

#: Where multipart uploads keep the big limit: the signed-in workspace.
UPLOAD_PREFIX = "/quan-tri/"
#: ``app.extensions`` key of the accounts module's "is someone signed in?" (no import cycle).
SIGNED_IN = "planning.signed_in"
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def url_bytes(environ: dict) -> int:
    """Bytes of the request target as the client sent it (path and query string)."""
    raw = environ.get("RAW_URI")
    if raw:
        return len(raw)
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    return len(path.encode("latin-1", "replace")) + (len(query) + 1 if query else 0)


def body_limit(path: str, mimetype: str) -> int:
    """The most bytes a request body may have: small, except for a signed-in planner's uploads.

    An anonymous multipart POST to the workspace is refused by sign-in and CSRF only after its
    body has been parsed, so it gets the small limit: nobody can make the server spool 2 GB to
    disk without an account.
    """
    settings = current_app.config["SETTINGS"]
    if mimetype == "multipart/form-data" and path.startswith(UPLOAD_PREFIX):
        signed_in: Callable[[], bool] | None = current_app.extensions.get(SIGNED_IN)
        if signed_in is None or signed_in():
            return settings.max_upload_bytes
    return settings.max_json_bytes


def check_request() -> None:
    """before_request: refuse what no view should see (see the module's docstring)."""
    settings = current_app.config["SETTINGS"]
    if url_bytes(request.environ) > settings.max_url_bytes:
        raise RequestURITooLarge(
            f"the URL is longer than {settings.max_url_bytes} bytes")
    if "\x00" in request.path or any("\x00" in key or "\x00" in value
                                     for key, value in request.args.items(multi=True)):
        raise InvalidInput("the URL contains a NUL character (%00)",
                           message_vi="Địa chỉ URL chứa ký tự NUL (%00) không hợp lệ")
    limit = body_limit(request.path, request.mimetype)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the request body is {request.content_length} bytes; the limit is {limit}",
                       message_vi=f"Dữ liệu gửi lên quá lớn (tối đa {limit} byte)")
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in FORM_MIMETYPES:
        # Form fields reach SQL as text, which cannot hold NUL (a 500 from psycopg otherwise).
        if any("\x00" in key or "\x00" in value
               for key, value in request.form.items(multi=True)):
            raise InvalidInput("a form field contains a NUL character",
                               message_vi="Một trường của biểu mẫu chứa ký tự NUL không hợp lệ")


def init_app(app: Flask) -> None:
    app.before_request(check_request)
