"""``/api/lookup``: what the plans say at a point (GET) or over a plot (POST)."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from flask import Blueprint, Flask, Response, current_app, request
from shapely.geometry import mapping
from werkzeug.wrappers import Request
from zlib_ng import gzip_ng

from layers.editions import EDITION_PSYCOPG, EditionCache, SharedEditionCache
from layers.lookup import PlanRegister, lookup_plot, point_answer_json, point_rows
from planning_gis.crs import STORAGE_SRID, ResolvedPoint, vn2000_to_lonlat
from planning_gis.settings import Settings
from planning_gis.web import db, params
from planning_gis.web.caching import cors_headers
from planning_gis.web.db import hot_edition, on_hot_connection, recent_editions
from planning_gis.web.limits import url_bytes
from planning_gis.web.ops import FAST_LOOKUP_ROUTE, ROUTE_KEY
from planning_gis.web.tile_fastpath import STATUS_LINES, kept_reply

bp = Blueprint("lookup", __name__, url_prefix="/api")

#: GET: a point and the date; POST: the plot's CRS and the date.
GET_PARAMS = params.POINT_PARAMS | {"date"}
POST_PARAMS = frozenset({"crs", "date"})


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys, as the app's other JSON answers are, by orjson: the
    standard library's encoder was an eighth of a new point's CPU (0.16 against 0.02 ms for a
    city point's plans). The answer holds only JSON's own types (dates are already text)."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class PlansAnswer:
    """The plans part of an answer as UTF-8 JSON, with the governing plan's id."""

    plans_json: bytes
    governing: int | None

    @classmethod
    def of(cls, plans: list[dict]) -> PlansAnswer:
        return cls(_dumps(plans), next((p["id"] for p in plans if p["governing"]), None))

    @property
    def empty(self) -> bool:
        return self.plans_json == b"[]"


@dataclass(frozen=True)
class AnswerAtPoint:
    """A whole answer for one exact point, gzipped once with its ETag: a repeat of the same
    point (a shared link, a map re-opened) costs one edition read, no look-up statement, no
    hashing and, for the clients that accept gzip, no compression."""

    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes, gzip_level: int) -> AnswerAtPoint:
        return cls(gzipped=gzip_ng.compress(body, compresslevel=gzip_level, mtime=0),
                   etag=hashlib.blake2b(body, digest_size=12).hexdigest())

    @property
    def size(self) -> int:
        return len(self.gzipped) + 300


#: Stands for the plans in the serialised answer until their own JSON is put in its place.
_PLANS_SLOT = "\ue000plans\ue000"
_PLANS_SLOT_JSON = f'"{_PLANS_SLOT}"'.encode()


def _body(query: dict[str, Any], answer: PlansAnswer, on: dt.date) -> bytes:
    doc = {
        "query": query,
        "date": on.isoformat(),
        "governing_plan_id": answer.governing,
        "plans": _PLANS_SLOT,
        "source": {
            "database": "Hanoi planning-map service",
            "crs": f"EPSG:{STORAGE_SRID}",
            "note": "zones traced from the plans' drawings; see each zone's accuracy",
            "note_vi": "Ranh giới ô đất số hóa từ bản vẽ quy hoạch; xem độ chính xác của từng ô",
        },
    }
    if answer.empty:
        doc["message"] = "no plan held here covers this place"
        doc["message_vi"] = "Chưa có đồ án quy hoạch nào trong hệ thống phủ vị trí này"
    head, _, tail = _dumps(doc).partition(_PLANS_SLOT_JSON)
    return b"".join((head, answer.plans_json, tail, b"\n"))


def _answer(query: dict[str, Any], answer: PlansAnswer, on: dt.date) -> Response:
    resp = Response(_body(query, answer, on), mimetype="application/json")
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


def _send(cached: AnswerAtPoint) -> Response:
    """The kept answer as the client accepts it, built by the fast path's own builder, tagged
    so that caching.py neither hashes nor compresses it again (its one rule for conditional
    GETs answers If-None-Match with a 304 by the same tag)."""
    settings = current_app.config["SETTINGS"]
    status, headers, body = kept_reply(
        "application/json", cached.etag, lambda: gzip.decompress(cached.gzipped),
        cached.gzipped, request.headers.get("Accept-Encoding", ""), "",
        settings.api_cache_control, cors_headers(settings))
    return Response(body, status=status, headers=headers)


def _context(settings: Settings, url_root: str) -> dict[str, Any]:
    """What an answer depends on besides the point, the date and the data."""
    return {"url_template": settings.document_url_template,
            "base_url": url_root.rstrip("/"),
            "documents_per_plan": settings.lookup_documents_per_plan}


#: Runs a read on a connection to the server the request reads from, once more on a new
#: connection to the primary if the first one fails (``web/db.py``'s ``on_hot_connection``).
ReadOnce = Callable[[Callable[[psycopg.Connection], Any]], Any]


@bp.get("/lookup")
def lookup_get() -> Response:
    """Zones at ``lon``/``lat`` (WGS 84) or ``x_north``/``y_east`` (VN-2000, ``crs=``)."""
    params.check_known(request.args, GET_PARAMS)
    point = params.point(request.args)
    on = params.date_arg(request.args)
    settings: Settings = current_app.config["SETTINGS"]
    context = _context(settings, request.url_root)
    cache: EditionCache = current_app.extensions["lookup_cache"]
    documents: EditionCache = current_app.extensions["lookup_documents_cache"]
    register: PlanRegister = current_app.extensions["plan_register"]
    read: ReadOnce = db.read_on_hot_connection
    edition = request.environ.get(EDITION_KEY)  # read by the fast path, on this same server
    asked = edition is not None  # ...which also looked the answer up (and counted the miss)
    if edition is None:
        row = read(lambda conn: conn.execute(EDITION_PSYCOPG, ("lookup",)).fetchone())
        edition = row[0] if row else None
    if not cache.max_bytes or edition is None:  # off, or the editions are not tracked
        def fresh(conn: psycopg.Connection) -> Response:
            rows = point_rows(conn, point.easting, point.northing, register)
            return _answer(point.as_dict(), PlansAnswer(*point_answer_json(
                conn, rows, today=on, dumps=_dumps, documents=documents, **context)), on)
        return read(fresh)
    answer, _made = kept_answer(read, cache, documents, register, point, on, context,
                                edition, settings.gzip_level, asked=asked)
    return _send(answer)


def kept_answer(read: ReadOnce, cache: EditionCache, documents: EditionCache,
                register: PlanRegister, point: ResolvedPoint, on: dt.date,
                context: dict[str, Any], edition: int, gzip_level: int,
                asked: bool) -> tuple[AnswerAtPoint, bool]:
    """The exact point's whole answer (gzipped), kept under the look-up ``edition``, made on a
    miss by ``read``, which retries on a new connection: the maker does so while the requests
    waiting for it wait, so a storm on connections the server cut still makes the point once.
    Each plan's list of documents is kept too (a new point's plans were nearly all listed for
    earlier points), and the plans' rows in ``register``. Both the view and the fast path
    answer with it. Also whether this request made it: one that waited for another's making
    (a storm on a new point) was answered from the kept value.

    Answers are not kept by zones and plans: of 2,000 random city points, one shared its zones
    with another, and those answers took half of the cache.
    """
    query = point.as_dict()
    maker: list[bool] = []  # this request made the answer

    def answer_from(conn: psycopg.Connection) -> tuple[AnswerAtPoint, int | None]:
        rows = point_rows(conn, point.easting, point.northing, register)
        answer = PlansAnswer(*point_answer_json(conn, rows, today=on, dumps=_dumps,
                                                documents=documents, **context))
        made = AnswerAtPoint.of(_body(query, answer, on), gzip_level)
        # Kept unless its rows are older than the key's edition (a replica behind the server
        # the edition was read from) or of two editions (PointRows.edition None): rows newer
        # than the key are harmless (layers/editions.py), as the key goes with that edition.
        # Keeping those too matters in the second after an edit, while a process still reuses
        # the edition it read (PLANNING_EDITION_CHECK_MS): each request of a storm then waited
        # for its forerunner's answer, found nothing kept, and made its own.
        return made, made.size if rows.edition is not None and rows.edition >= edition \
            else None

    def make() -> tuple[AnswerAtPoint, int | None]:
        maker.append(True)
        return read(answer_from)

    answer = cache.get_or_make(_at_point_key(edition, point, on, context), make, asked=asked)
    return answer, bool(maker)


@bp.post("/lookup")
def lookup_post() -> Response:
    """Each zone's share of a plot (GeoJSON; ``crs=`` EPSG:4326 by default, or EPSG:5897)."""
    settings = current_app.config["SETTINGS"]
    params.check_known(request.args, POST_PARAMS)
    code = params.plot_crs(request.args)
    plot = params.stored_plot(settings, code)
    geom, area = plot.geom, plot.area_m2
    c = geom.centroid
    on = params.date_arg(request.args)
    plans = lookup_plot(db.get_conn(), geom.wkt, area, today=on,
                        **_context(settings, request.url_root))
    lon, lat = vn2000_to_lonlat(c.x, c.y)
    query = {"plot_area_m2": round(area, 2), "centroid": {"lon": round(lon, 7),
             "lat": round(lat, 7)}, "crs": f"EPSG:{code}", "plot": mapping(geom)
             if len(geom.wkt) < 20000 else None}
    return _answer(query, PlansAnswer.of(plans), on)


#: WSGI environ key: the look-up edition the fast path read before it passed a miss to Flask.
EDITION_KEY = "planning.lookup_edition"
LOOKUP_PATH = "/api/lookup"


def _at_point_key(edition: int, point: ResolvedPoint, on: dt.date,
                  context: dict[str, Any]) -> tuple:
    """Where the exact point's whole answer is kept: the view and the fast path both ask here."""
    return ("at", edition, *point.as_dict().values(), on, *context.values())


class KeptLookupFastPath:
    """Wraps ``app.wsgi_app``: a look-up of an exact point is answered without Flask, as the
    cached-tile fast path does for tiles (web/tile_fastpath.py). A point answered before under
    the current edition (a shared link, a map opened again, many citizens at one announced
    place) is sent as kept; a new point is looked up here too, with the view's own function
    (:func:`kept_answer`) and reply builder: Flask's request machinery (context, routing,
    hooks, parsing the parameters again) was a fifth of a new point's CPU. Whatever is not
    plainly answerable (a bad parameter, an unreadable edition, a database error) goes to the
    view, which answers it: its 4xx, or its retry on a new connection and its 503.
    """

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app
        self.settings: Settings = app.config["SETTINGS"]
        self.cache: EditionCache = app.extensions["lookup_cache"]
        self.documents: EditionCache = app.extensions["lookup_documents_cache"]
        self.register: PlanRegister = app.extensions["plan_register"]
        self.cors = cors_headers(self.settings)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.recent = recent_editions(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (method in ("GET", "HEAD") and environ.get("PATH_INFO") == LOOKUP_PATH
                and self.cache.max_bytes):
            reply = self._reply(environ)
            if reply is not None:
                status, headers, body = reply
                start_response(STATUS_LINES[status], headers)
                return [] if method == "HEAD" else [body]
        return self.wsgi_app(environ, start_response)

    def _reply(self, environ: dict[str, Any]) -> tuple[int, list, bytes] | None:
        if url_bytes(environ) > self.settings.max_url_bytes:
            return None  # the view's 414
        req = Request(environ)
        args = req.args
        if any("\x00" in k or "\x00" in v for k, v in args.items(multi=True)):
            return None  # the view's 400
        try:
            params.check_known(args, GET_PARAMS)
            point = params.point(args)
            on = params.date_arg(args)
        except Exception:  # noqa: BLE001 - any refusal is the view's to word (it parses again)
            return None
        edition = hot_edition(environ, self.settings, self.cookie_name, "lookup", self.recent)
        if edition is None:
            return None
        environ[EDITION_KEY] = edition  # should the view answer, under the edition read here
        context = _context(self.settings, req.url_root)
        cached = self.cache.get(_at_point_key(edition, point, on, context))
        if cached is not None:
            environ[ROUTE_KEY] = FAST_LOOKUP_ROUTE
        else:
            looked_up = self._look_up(environ, point, on, context, edition)
            if looked_up is None:
                return None
            cached, made = looked_up
            # the view's route label for a new point's answer made here; one that waited for
            # another request's making was answered kept
            environ[ROUTE_KEY] = LOOKUP_PATH if made else FAST_LOOKUP_ROUTE
        return kept_reply("application/json", cached.etag,
                          lambda: gzip.decompress(cached.gzipped), cached.gzipped,
                          environ.get("HTTP_ACCEPT_ENCODING", ""),
                          environ.get("HTTP_IF_NONE_MATCH", ""),
                          self.settings.api_cache_control, self.cors)

    def _look_up(self, environ: dict[str, Any], point: ResolvedPoint, on: dt.date,
                 context: dict[str, Any], edition: int
                 ) -> tuple[AnswerAtPoint, bool] | None:
        """A new point's answer and whether it was made here, or None after a database error
        (the view then answers)."""
        read: ReadOnce = functools.partial(on_hot_connection, environ, self.settings,
                                           self.cookie_name)
        try:
            return kept_answer(read, self.cache, self.documents, self.register, point, on,
                               context, edition, self.settings.gzip_level, asked=True)
        except psycopg.Error:  # a second I/O fault, or another error: the view answers
            return None


#: The share of ``PLANNING_LOOKUP_CACHE_MB`` that keeps the plans' document lists (the city's
#: 1,500 plans take about 8 MB); the rest keeps answers.
DOCUMENTS_SHARE = 0.4


def init_app(app: Flask) -> None:
    """The app's look-up caches, bounded together by ``PLANNING_LOOKUP_CACHE_MB``: answers by
    exact point, and each plan's listed documents; shared by the server's worker processes when
    it gives them a folder (``PLANNING_SHARED_CACHE_DIR``, see gunicorn_config)."""
    settings: Settings = app.config["SETTINGS"]
    total = settings.lookup_cache_mb * 1024 * 1024
    documents = int(total * DOCUMENTS_SHARE)
    if total and settings.shared_cache_dir:
        folder = Path(settings.shared_cache_dir)
        app.extensions["lookup_cache"] = SharedEditionCache(
            total - documents, str(folder / "lookup-answers"), _encode_answer, _decode_answer)
        app.extensions["lookup_documents_cache"] = SharedEditionCache(
            documents, str(folder / "lookup-documents"), _encode_documents, _decode_documents)
    else:
        app.extensions["lookup_cache"] = EditionCache(total - documents)
        app.extensions["lookup_documents_cache"] = EditionCache(documents)
    app.extensions["plan_register"] = PlanRegister()
    app.wsgi_app = KeptLookupFastPath(app, app.wsgi_app)


#: An answer's ETag (blake2b, 12 bytes, as 24 hex digits) then its gzipped body.
_ETAG_CHARS = 24


def _encode_answer(answer: AnswerAtPoint) -> bytes:
    return answer.etag.encode("ascii") + answer.gzipped


def _decode_answer(raw: bytes) -> AnswerAtPoint:
    return AnswerAtPoint(gzipped=raw[_ETAG_CHARS:], etag=raw[:_ETAG_CHARS].decode("ascii"))


def _encode_documents(listed: tuple[bytes, int]) -> bytes:
    """A plan's listed documents (JSON) and how many it has: the count, 4 bytes, then the JSON."""
    return listed[1].to_bytes(4, "big") + listed[0]


def _decode_documents(raw: bytes) -> tuple[bytes, int]:
    return raw[4:], int.from_bytes(raw[:4], "big")
