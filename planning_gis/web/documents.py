"""Documents and search on the web: the JSON API, the files, and the Vietnamese pages.

``/api/search`` is the one search endpoint (the search boxes call it); ``/tai-lieu`` is the
library, ``/tai-lieu/<id>`` a document with its plans on a small map and its pages readable in
the browser, ``/quy-hoach/<id>`` a plan with its documents in order. Files are served from the
store by id; page images are rendered by pdfium on request (pdfium is not thread-safe: one lock).
"""

from __future__ import annotations

import io
import threading
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import text

from planning_gis.documents import library
from planning_gis.documents import search as search_mod
from planning_gis.documents.pdf_text import open_pdf, render_page
from planning_gis.documents.store import DocumentStore
from planning_gis.errors import NotFound, StoredFileUnreadable
from planning_gis.models import DOCUMENT_TYPES, PLAN_KINDS, PLAN_STATUSES
from planning_gis.web import db, params

bp = Blueprint("documents", __name__)

#: The parameters of ``/api/search``.
SEARCH_PARAMS = frozenset({"q", "limit", "kinds"})

_PDFIUM_LOCK = threading.Lock()
PAGE_DPI_DEFAULT = 110
PAGE_DPI_MAX = 200
IMMUTABLE = "public, max-age=31536000, immutable"

DOCUMENT_SQL = text(
    """
    SELECT d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title, d.file_sha256,
           d.file_size, d.file_name, d.page_count, d.is_fictional, d.created_at
      FROM documents d WHERE d.id = :id
    """
)
DOCUMENT_PLANS_SQL = text(
    """
    SELECT p.id, p.name, p.kind, p.status, p.decision_number, p.decision_date, pd.sort_order,
           ST_AsGeoJSON(ST_Transform(p.geom, 4326), 6)::json AS geometry
      FROM plan_documents pd JOIN plans p ON p.id = pd.plan_id
     WHERE pd.document_id = :id
     ORDER BY p.decision_date NULLS LAST, p.id
    """
)
DOCUMENT_PAGES_SQL = text(
    "SELECT page_no, text, source FROM document_pages WHERE document_id = :id ORDER BY page_no"
)
PLAN_SQL = text(
    """
    SELECT p.id, p.name, p.kind, p.status, p.scale_denominator, p.decision_number,
           p.decision_date, p.approving_body, p.organisation, p.valid_from, p.valid_to,
           p.area_ha, p.description, p.is_fictional, p.supersedes_id, s.name AS supersedes_name,
           (SELECT count(*) FROM land_use_zones z WHERE z.plan_id = p.id) AS zone_count,
           ST_AsGeoJSON(ST_Transform(p.geom, 4326), 6)::json AS geometry
      FROM plans p LEFT JOIN plans s ON s.id = p.supersedes_id
     WHERE p.id = :id
    """
)
PLAN_DOCUMENTS_SQL = text(
    """
    SELECT d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title, d.page_count,
           pd.sort_order
      FROM plan_documents pd JOIN documents d ON d.id = pd.document_id
     WHERE pd.plan_id = :id
     ORDER BY pd.sort_order, d.issued_on NULLS LAST, d.id
    """
)


def _date_vi(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _document(conn: Any, doc_id: int) -> Any:
    row = conn.execute(DOCUMENT_SQL, {"id": doc_id}).first()
    if row is None:
        raise NotFound(f"document {doc_id} not found",
                       message_vi=f"Không tìm thấy văn bản số hiệu #{doc_id}")
    return row


def _document_json(row: Any, plans: list[Any], pages: list[Any] | None = None) -> dict[str, Any]:
    out = {
        "id": row.id, "doc_type": row.doc_type,
        "doc_type_vi": DOCUMENT_TYPES.get(row.doc_type, (row.doc_type, ""))[0],
        "doc_type_en": DOCUMENT_TYPES.get(row.doc_type, ("", row.doc_type))[1],
        "number": row.number, "issued_on": row.issued_on.isoformat() if row.issued_on else None,
        "issuer": row.issuer, "title": row.title, "file_sha256": row.file_sha256,
        "file_size": row.file_size, "file_name": row.file_name, "page_count": row.page_count,
        "is_fictional": row.is_fictional, "file_url": f"/documents/{row.id}/file",
        "url": f"/tai-lieu/{row.id}",
        "plans": [{"id": p.id, "name": p.name, "kind": p.kind, "status": p.status,
                   "decision_number": p.decision_number, "url": f"/quy-hoach/{p.id}"}
                  for p in plans],
    }
    if pages is not None:
        out["pages"] = [{"page": p.page_no, "source": p.source, "text": p.text,
                         "image_url": f"/documents/{row.id}/pages/{p.page_no}.png"}
                        for p in pages]
    return out


def download_name(row: Any) -> str:
    """A Vietnamese file name for a document: "Quyết định phê duyệt 6631-QĐ-UBND.pdf"."""
    type_vi = DOCUMENT_TYPES.get(row.doc_type, (row.doc_type,))[0]
    base = f"{type_vi} {row.number}" if row.number else row.title
    base = "".join(ch if ch.isalnum() or ch in " -_.,()" else "-" for ch in base)
    base = " ".join(base.split())[:120].strip(" .-") or f"van-ban-{row.id}"
    return unicodedata.normalize("NFC", base) + ".pdf"


def _ascii_name(name: str) -> str:
    folded = "".join(
        "d" if ch == "đ" else "D" if ch == "Đ" else unicodedata.normalize("NFD", ch)[0]
        for ch in name
    )
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in folded)


def _content_disposition(name: str) -> str:
    """RFC 6266/5987: an ASCII fallback and the UTF-8 name for browsers that read it."""
    return f"inline; filename=\"{_ascii_name(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def _store() -> DocumentStore:
    return DocumentStore.from_settings(current_app.config["SETTINGS"])


# --- JSON API -----------------------------------------------------------------------------------


@bp.get("/api/search")
def api_search() -> Response:
    """Plans, zones, documents, places and decision numbers for ``q``, best first."""
    params.check_known(request.args, SEARCH_PARAMS)
    kinds_arg = request.args.get("kinds", "").strip()
    kinds = tuple(k.strip() for k in kinds_arg.split(",") if k.strip()) or None
    result = search_mod.search(
        db.get_conn(), request.args.get("q"),
        limit=params.int_arg(request.args, "limit", 20, 1, 100), kinds=kinds
    )
    resp = jsonify(result)
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


@bp.get("/api/documents")
def api_documents() -> Response:
    params.check_known(request.args, params.LIBRARY_PARAMS)
    filters = params.library_filters(request.args)
    result = library.list_documents(db.get_conn(), filters)
    next_args = result.pop("next_args")
    result["links"] = [{"rel": "next", "type": "application/json",
                        "href": url_for("documents.api_documents", **next_args, _external=True)}
                       ] if next_args else []
    resp = jsonify(result)
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


@bp.get("/api/documents/<int:doc_id>")
def api_document(doc_id: int) -> Response:
    conn = db.get_conn()
    row = _document(conn, doc_id)
    plans = conn.execute(DOCUMENT_PLANS_SQL, {"id": doc_id}).all()
    pages = conn.execute(DOCUMENT_PAGES_SQL, {"id": doc_id}).all()
    resp = jsonify(_document_json(row, plans, pages))
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


# --- files --------------------------------------------------------------------------------------


@bp.get("/documents/<int:doc_id>/file")
def document_file(doc_id: int) -> Response:
    """The PDF itself, inline, named in Vietnamese; cached for ever (the URL's bytes never change
    while the id exists, and the ETag is the sha256)."""
    row = _document(db.get_conn(), doc_id)
    fh = _store().open(row.file_sha256)
    resp = send_file(fh, mimetype="application/pdf", conditional=True, etag=row.file_sha256,
                     max_age=3600)
    resp.headers["Content-Disposition"] = _content_disposition(download_name(row))
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/documents/<int:doc_id>/pages/<int:page_no>.png")
def document_page_image(doc_id: int, page_no: int) -> Response:
    """One page rendered to PNG (``?dpi=`` 50..200, default 110) for reading in the browser."""
    row = _document(db.get_conn(), doc_id)
    if not row.page_count or not 1 <= page_no <= row.page_count:
        raise NotFound(f"document {doc_id} has no page {page_no}",
                       message_vi=f"Văn bản #{doc_id} không có trang {page_no}")
    params.check_known(request.args, {"dpi"})
    dpi = params.int_arg(request.args, "dpi", PAGE_DPI_DEFAULT, 50, PAGE_DPI_MAX)
    etag = f"{row.file_sha256}-{page_no}-{dpi}"
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    path = _store().path_for(row.file_sha256)
    if not path.is_file():
        raise StoredFileUnreadable(f"file of document {doc_id} is missing from the store",
                                   message_vi="Không tìm thấy tệp văn bản trong kho")
    with _PDFIUM_LOCK, open_pdf(path) as pdf:
        image = render_page(pdf, page_no, dpi)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=False)
    resp = Response(buf.getvalue(), mimetype="image/png")
    resp.headers["Cache-Control"] = IMMUTABLE
    resp.set_etag(etag)
    return resp


# --- pages --------------------------------------------------------------------------------------


@bp.get("/tai-lieu")
def library_page() -> str:
    filters = params.library_filters(request.args)
    conn = db.get_conn()
    result = library.list_documents(conn, filters)
    plan_name = None
    if filters.plan_id:
        plan_name = conn.execute(text("SELECT name FROM plans WHERE id = :id"),
                                 {"id": filters.plan_id}).scalar()
    return render_template(
        "documents/library.html", result=result, filters=filters,
        facets=library.facets(conn), types=DOCUMENT_TYPES, plan_name=plan_name,
    )


@bp.get("/tai-lieu/<int:doc_id>")
def document_page(doc_id: int) -> str:
    conn = db.get_conn()
    row = _document(conn, doc_id)
    plans = conn.execute(DOCUMENT_PLANS_SQL, {"id": doc_id}).all()
    pages = conn.execute(DOCUMENT_PAGES_SQL, {"id": doc_id}).all()
    q = (request.args.get("q") or "").strip()
    terms = search_mod.parse_query(q).terms if q and search_mod.fold(q).strip() else ()
    shown_pages = [
        {"no": p.page_no, "source": p.source,
         "html": search_mod.highlight(p.text, terms) if terms else p.text}
        for p in pages
    ]
    features = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": p.geometry,
             "properties": {"id": p.id, "name": p.name, "url": f"/quy-hoach/{p.id}"}}
            for p in plans if p.geometry
        ],
    }
    return render_template(
        "documents/document.html", doc=row, plans=plans, pages=shown_pages, features=features,
        types=DOCUMENT_TYPES, kinds=PLAN_KINDS, statuses=PLAN_STATUSES, date_vi=_date_vi,
        download_name=download_name(row), q=q,
    )


@bp.get("/quy-hoach/<int:plan_id>")
def plan_page(plan_id: int) -> str:
    conn = db.get_conn()
    plan = conn.execute(PLAN_SQL, {"id": plan_id}).first()
    if plan is None:
        raise NotFound(f"plan {plan_id} not found",
                       message_vi=f"Không tìm thấy đồ án quy hoạch #{plan_id}")
    docs = conn.execute(PLAN_DOCUMENTS_SQL, {"id": plan_id}).all()
    features = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": plan.geometry,
         "properties": {"id": plan.id, "name": plan.name}}] if plan.geometry else []}
    return render_template(
        "documents/plan.html", plan=plan, docs=docs, features=features, types=DOCUMENT_TYPES,
        kinds=PLAN_KINDS, statuses=PLAN_STATUSES, date_vi=_date_vi,
    )


@bp.get("/tim-kiem")
def search_page() -> str:
    """Search results without JavaScript: the same query as ``/api/search``."""
    q = (request.args.get("q") or "").strip()
    result = search_mod.search(db.get_conn(), q, limit=50) if q else None
    return render_template("documents/search.html", q=q, result=result)
