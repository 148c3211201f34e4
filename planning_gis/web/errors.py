"""Domain errors mapped to HTTP once, and the JSON shape every API error has.

Like titiler's ``DEFAULT_STATUS_CODES``: one dict, registered in one loop. Only 5xx are logged as
errors; a 4xx is the client's mistake and is answered, not alarmed about. A 5xx carries a short
random reference (``ref`` in the JSON body, and in the log line) so that an operator can find the
traceback a citizen reports. "No data in this tile" (TileOutsideBounds) is a 204 with no body for
raster and vector tiles alike; a 404 means an unknown layer, sheet or plan.
"""

from __future__ import annotations

import logging
import secrets

import psycopg
from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from planning_gis import db, errors
from planning_gis.web import MACHINE_PREFIXES
from planning_gis.web.db import READ_URL_KEY

log = logging.getLogger(__name__)

STATUS_CODES: dict[type[errors.PlanningError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.TileOutsideBounds: 204,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.RateLimited: 429,
    errors.ZonesRejected: 422,
    errors.NotReadyYet: 503,
    errors.ConfigurationError: 500,
    errors.PlanningError: 500,
}


#: Machine codes of HTTP errors raised by werkzeug (routing, body and URL limits).
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 414: "uri_too_long"}
HTTP_MESSAGES_VI = {
    400: "Yêu cầu không hợp lệ.",
    404: "Không tìm thấy trang hoặc dữ liệu yêu cầu.",
    405: "Phương thức không được hỗ trợ tại địa chỉ này.",
    413: "Dữ liệu gửi lên quá lớn.",
    414: "Địa chỉ URL quá dài.",
    429: "Quá nhiều yêu cầu; vui lòng thử lại sau.",
    415: "Định dạng dữ liệu gửi lên không được hỗ trợ.",
}


def status_for(exc: errors.PlanningError | type[errors.PlanningError]) -> int:
    """The HTTP status of a domain error (an instance or its class), by its nearest mapped class."""
    for cls in (exc if isinstance(exc, type) else type(exc)).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def wants_html() -> bool:
    """Pages get a Vietnamese HTML error; APIs and tiles get JSON."""
    path = request.path
    if path.startswith(MACHINE_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def new_ref() -> str:
    """A short random reference for one server fault, shown to the client and logged."""
    return secrets.token_hex(4)


def error_response(status: int, code: str, message: str, message_vi: str | None = None,
                   ref: str | None = None) -> Response:
    if wants_html():
        body = render_template(
            "error.html", status=status, message_vi=message_vi or message, message=message,
            ref=ref,
        )
        return Response(body, status=status, mimetype="text/html")
    doc = {"code": code, "detail": message, "detail_vi": message_vi or message}
    if ref:
        doc["ref"] = ref
    resp = jsonify(doc)
    resp.status_code = status
    return resp


def _leave_out_replica(error: str) -> None:
    """When this request read from a replica, leave it out of the reads until its check finds it
    well: the next requests go to another replica or the primary instead of failing too."""
    settings = current_app.config["SETTINGS"]
    url = request.environ.get(READ_URL_KEY)
    router = db.read_router(settings)
    if router is not None and url and url != settings.database_url:
        router.mark_failed(url, error.strip().split("\n")[0])


def register_error_handlers(app: Flask) -> None:
    def _planning(exc: errors.PlanningError) -> Response:
        status = status_for(exc)
        if status == 204:
            # No data here (a tile outside the sheet): an empty answer that caches keep.
            resp = Response(status=204)
            resp.headers["Cache-Control"] = current_app.config["SETTINGS"].tile_cache_control
            return resp
        ref = None
        if isinstance(exc, errors.NotReadyYet):
            resp = error_response(status, exc.code, exc.message, exc.message_vi)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        if status >= 500:
            ref = new_ref()
            log.error("server error [ref %s]: %s", ref, exc, exc_info=exc)
            if isinstance(exc, errors.StorageUnavailable):
                # The message may name our files; the client gets the reference, not the path.
                return error_response(status, exc.code, "the service cannot read its own data; "
                                      f"the fault is logged as {ref}", exc.message_vi, ref)
        resp = error_response(status, exc.code, exc.message, exc.message_vi, ref)
        if isinstance(exc, errors.RateLimited):
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp

    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        ref = None
        if status >= 500:
            ref = new_ref()
            original = getattr(exc, "original_exception", None) or exc
            log.error("server error [ref %s]: %s", ref, original, exc_info=original)
        resp = error_response(status, HTTP_CODES.get(status) or (exc.name or "error").lower()
                              .replace(" ", "_"), exc.description or exc.name,
                              HTTP_MESSAGES_VI.get(status), ref)
        # A 405 names the methods the URL serves (RFC 9110): werkzeug puts them in its headers.
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                resp.headers["Allow"] = value
        return resp

    def _database_down(exc: OperationalError | psycopg.OperationalError) -> Response:
        # SQLAlchemy wraps the driver's error; the hot read paths (web/db.py) raise it bare
        orig = exc.orig if isinstance(exc, OperationalError) else exc
        if getattr(orig, "sqlstate", "") in ("40P01", "40001", "55P03"):
            # A deadlock the database broke, a serialisation failure or a lock timeout: the
            # database is up, this request lost a race; nothing of it was written.
            return _planning(errors.EditConflict(
                "another request changed the same data at the same moment; nothing was saved, "
                "try again",
                message_vi="Dữ liệu vừa được người khác thay đổi cùng lúc; thay đổi chưa được "
                           "lưu, vui lòng thử lại."))
        # The database is unreachable (restarting, connection limit): say so and ask the client
        # to retry, rather than a bare 500 that reads like a bug.
        ref = new_ref()
        log.error("database unavailable [ref %s]: %s", ref, orig or exc)
        _leave_out_replica(str(orig or exc))
        resp = error_response(503, "database_unavailable",
                              "the database is unavailable; try again in a moment",
                              "Cơ sở dữ liệu tạm thời không truy cập được; vui lòng thử lại sau.",
                              ref)
        resp.headers["Retry-After"] = "5"
        return resp

    app.register_error_handler(errors.PlanningError, _planning)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(psycopg.OperationalError, _database_down)
