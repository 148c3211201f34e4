"""The citizens' side of the two-way exchange: questions, consultation comments, information
requests, tracking links and each unit's public record, as pages (Vietnamese, plain HTML forms
that work without scripts) and as a JSON API under ``/api/``.

Every anonymous post passes the same gate before any service runs: a per-client rate limit
counted in PostgreSQL (shared by every worker and node; :mod:`planning_gis.exchange.rate_limit`),
the body limit of ``web/limits.py``, and a honeypot field (``website``) that people never see and
robots fill in. A page's form that fails is shown again with the Vietnamese message and what was
typed; the API answers the project's JSON error. Nothing here reads contact data back out: the
public pages and the API read the services' public functions, built on the ``public_*`` views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID, WGS84
from planning_gis.errors import InvalidInput, NotFound, PlanningError, SpamSuspected
from planning_gis.exchange import consultations, questions, rate_limit, record, requests
from planning_gis.exchange.common import date_vi, hanoi_date
from planning_gis.models import COMMENT_TOPICS, Plan
from planning_gis.settings import Settings
from planning_gis.web import db, params
from planning_gis.web.accounts import client_ip, get_session
from planning_gis.web.errors import status_for
from planning_gis.web.json_body import parse_json, read_json_body

bp = Blueprint("exchange", __name__)

HONEYPOT = "website"
QUESTION_FIELDS = frozenset({"body", "name", "email", "phone", "plan_id", "plot", HONEYPOT,
                             *params.POINT_PARAMS})
COMMENT_FIELDS = frozenset({"body", "topic", "zone_id", "name", "email", "phone", HONEYPOT,
                            *params.POINT_PARAMS})
REQUEST_FIELDS = frozenset({"name", "email", "phone", "purpose", "plot", "corners", "crs",
                            HONEYPOT})
TRACK_PARAMS = frozenset({"k", "code"})


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def gate(fields: Mapping[str, Any]) -> None:
    """Rate limit, then honeypot: what every anonymous post meets first."""
    settings = _settings()
    rate_limit.hit(db.get_conn(), rate_limit.client_key(settings.secret_key, client_ip()),
                   [(settings.citizen_posts_per_minute, 60),
                    (settings.citizen_posts_per_day, 86400)])
    if str(fields.get(HONEYPOT) or "").strip():
        raise SpamSuspected("the form was filled in by a robot",
                            message_vi="Không gửi được biểu mẫu. Nếu bạn không phải máy tự động,"
                                       " hãy tải lại trang và thử lại.")


def _json_fields(known: frozenset[str]) -> dict[str, Any]:
    body = read_json_body(InvalidInput)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", message_vi="Dữ liệu gửi lên phải là đối tượng "
                                                            "JSON.")
    params.check_known(body, known)
    return body


def _form_fields(known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in request.form.items() if k in known}


def _point_of(fields: Mapping[str, Any]) -> tuple[float, float] | None:
    given = {k: fields[k] for k in params.POINT_PARAMS if fields.get(k) not in (None, "")}
    if not given:
        return None
    pt = params.point(given)
    return pt.easting, pt.northing


def _id_of(fields: Mapping[str, Any], name: str) -> int | None:
    return params.int_arg({name: fields.get(name)}, name, None, 1, 2**62)


def _plot_of(fields: Mapping[str, Any], code: int = WGS84) -> params.StoredPlot | None:
    raw = fields.get("plot")
    if raw in (None, ""):
        return None
    doc = parse_json(raw, InvalidInput) if isinstance(raw, str) else raw
    return params.geojson_plot(doc, code, _settings())


def _commit_or_rollback(work: Callable[[], Any]) -> Any:
    """Run a service call in the request's ORM session; commit it all or nothing."""
    s = get_session()
    try:
        result = work()
        s.commit()
        return result
    except Exception:
        s.rollback()
        raise


# --- questions ------------------------------------------------------------------------------

def _ask(fields: Mapping[str, Any]) -> questions.Asked:
    gate(fields)
    plot = _plot_of(fields)
    return _commit_or_rollback(lambda: questions.ask(
        get_session(), _settings(), body=fields.get("body"), name=fields.get("name"),
        email=fields.get("email"), phone=fields.get("phone"), point=_point_of(fields),
        plot=plot.geom if plot else None, plan_id=_id_of(fields, "plan_id")))


@bp.post("/api/questions")
def api_ask():
    """A question as JSON: ``body``, ``email`` or ``phone``, optional ``name``, and a place
    (``lon``/``lat``, ``x_north``/``y_east``, a GeoJSON ``plot``) or a ``plan_id``."""
    asked = _ask(_json_fields(QUESTION_FIELDS))
    q = asked.question
    resp = jsonify({"code": q.code, "track_url": questions.track_url(_settings(), q.code,
                                                                     asked.key),
                    "organisation": _org_name(q.organisation_id), "due_on": q.due_on.isoformat(),
                    "routed_by": q.routed_by})
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _org_name(org_id: int | None) -> str | None:
    if org_id is None:
        return None
    from planning_gis.models import Organisation

    return get_session().get(Organisation, org_id).name


@bp.get("/api/questions")
def api_questions():
    params.check_known(request.args, {"organisation", "plan", "limit", "offset"})
    rows = questions.public_list(
        db.get_conn(), organisation_id=params.int_arg(request.args, "organisation", None, 1,
                                                      2**31),
        plan_id=params.int_arg(request.args, "plan", None, 1, 2**31),
        limit=params.int_arg(request.args, "limit", 20, 1, 200),
        offset=params.int_arg(request.args, "offset", 0, 0, 10**7))
    return jsonify({"questions": [questions.public_json(r) for r in rows]})


@bp.get("/api/questions/<qid>")
def api_question(qid: str):
    params.check_known(request.args, ())
    row = questions.public_get(db.get_conn(), params.id_arg(qid, "question"))
    return jsonify(questions.public_json(row))


def _question_status(q: Any) -> dict[str, Any]:
    return {"code": q.code, "status": q.status, "asked_on": hanoi_date(q.created_at).isoformat(),
            "due_on": q.due_on.isoformat(), "organisation": _org_name(q.organisation_id),
            "body": q.body, "answer": q.answer_text, "answered_by": q.answer_officer,
            "answered_on": hanoi_date(q.answered_at).isoformat() if q.answered_at else None,
            "documents": [{"id": d.id, "title": d.title,
                           "url": url_for("documents.document_page", doc_id=d.id)}
                          for d in questions.documents_of(get_session(), q)],
            "private": q.is_private,
            "rerouted": [{"note": r["note"], "at": r["at"][:10]} for r in q.routing]}


def _tracked(service: Any, code: str) -> Any:
    """The question or request behind a private link (its code and the key ``k``): the
    tracking pages, their API and the answer sheet all read it this one way."""
    params.check_known(request.args, TRACK_PARAMS)
    return service.track(get_session(), code, request.args.get("k"))


@bp.get("/api/questions/track/<code>")
def api_track_question(code: str):
    q = _tracked(questions, code)
    resp = jsonify(_question_status(q))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/api/questions/<qid>/report")
def api_report_question(qid: str):
    gate({})
    _commit_or_rollback(lambda: questions.report(get_session(), _settings(),
                                                 params.id_arg(qid, "question")))
    return jsonify({"reported": True}), 202


@bp.get("/hoi-dap")
def questions_page():
    params.check_known(request.args, {"page", "don-vi"})
    page = params.int_arg(request.args, "page", 1, 1, 10_000) or 1
    org = params.int_arg(request.args, "don-vi", None, 1, 2**31)
    rows = questions.public_list(db.get_conn(), organisation_id=org, limit=20,
                                 offset=(page - 1) * 20)
    return render_template("exchange/questions.html", rows=rows, page=page, date_vi=date_vi)


def _ask_context(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The place or plan the form is about, and who will answer (shown before sending)."""
    ctx: dict[str, Any] = {"fields": fields, "plan": None, "unit": None, "point": None}
    plan_id = _id_of(fields, "plan_id")
    if plan_id is not None:
        plan = get_session().get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}", message_vi="Không tìm thấy đồ án quy hoạch.")
        ctx["plan"] = plan
        ctx["unit"] = _org_name(plan.organisation_id)
    pt = _point_of(fields)
    if pt is None and fields.get("plot"):
        surface = _plot_of(fields).geom.representative_point()
        pt = (surface.x, surface.y)
    if pt is not None:
        ctx["point"] = pt
        if plan_id is None:
            route = questions.route_point(db.get_conn(), *pt, hanoi_date())
            ctx["unit"] = _org_name(route.organisation_id)
    return ctx


@bp.get("/hoi-dap/hoi")
def ask_page():
    params.check_known(request.args, {"plan_id", "plot", *params.POINT_PARAMS})
    fields = dict(request.args)
    return render_template("exchange/ask.html", **_ask_context(fields))


@bp.post("/hoi-dap/hoi")
def ask_submit():
    fields = _form_fields(QUESTION_FIELDS)
    try:
        asked = _ask(fields)
    except PlanningError as exc:
        ctx = _safe_ctx(_ask_context, fields)
        return render_template("exchange/ask.html", error=exc, **ctx), status_for(exc)
    q = asked.question
    return render_template(
        "exchange/received.html", kind="question", code=q.code, due_on=q.due_on,
        unit=_org_name(q.organisation_id), date_vi=date_vi,
        link=url_for("exchange.track_question_page", code=q.code, k=asked.key)), 201


def _safe_ctx(build: Callable[[Mapping[str, Any]], dict[str, Any]],
              fields: Mapping[str, Any]) -> dict[str, Any]:
    """The form's context even when what was typed is what failed (then without the place)."""
    try:
        return build(fields)
    except PlanningError:
        return {"fields": fields, "plan": None, "unit": None, "point": None}


@bp.get("/hoi-dap/<qid>")
def question_page(qid: str):
    params.check_known(request.args, ())
    row = questions.public_get(db.get_conn(), params.id_arg(qid, "question"))
    from planning_gis.models import Question

    q = get_session().get(Question, row["id"])
    return render_template("exchange/question.html", q=row,
                           documents=questions.documents_of(get_session(), q),
                           sheet=_sheet_link(q), date_vi=date_vi)


def _sheet_link(q: Any) -> str | None:
    if not q.answer_info_sheet or q.geom is None:
        return None
    from geoalchemy2.shape import to_shape

    from planning_gis.crs import vn2000_to_lonlat

    pt = to_shape(q.geom)
    lon, lat = vn2000_to_lonlat(pt.x, pt.y)
    return url_for("citizen.info_sheet", lon=f"{lon:.7f}", lat=f"{lat:.7f}")


def _report_page(report: Callable[[Session, Settings, int], None], raw_id: str,
                 what: str) -> tuple[str, int]:
    """A citizen's "Báo cáo vi phạm" form (under a published answer or comment): the same gate
    as every post, then ``report`` of the item; a thank-you notice, or the reason on it."""
    try:
        gate(request.form)
        _commit_or_rollback(lambda: report(get_session(), _settings(),
                                           params.id_arg(raw_id, what)))
    except PlanningError as exc:
        return render_template("exchange/notice.html", error=exc), status_for(exc)
    return render_template("exchange/notice.html",
                           message="Cảm ơn bạn. Báo cáo đã được ghi nhận và sẽ được xem xét."), 202


@bp.post("/hoi-dap/<qid>/bao-cao")
def report_question_page(qid: str):
    return _report_page(questions.report, qid, "question")


@bp.get("/hoi-dap/theo-doi")
def track_form():
    params.check_known(request.args, TRACK_PARAMS)
    code, key = request.args.get("code"), request.args.get("k")
    if code:
        return track_question_page(code)
    return render_template("exchange/track.html", key=key)


def _track_page(template: str, **context: Any) -> Response:
    """A tracking page: never cached, and its address (which holds the private key) is not
    sent on as a referrer by the links it holds."""
    resp = Response(render_template(template, date_vi=date_vi, **context))
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.get("/hoi-dap/theo-doi/<code>")
def track_question_page(code: str):
    q = _tracked(questions, code)
    return _track_page("exchange/track_question.html", q=_question_status(q),
                       sheet=_sheet_link(q))


# --- consultations --------------------------------------------------------------------------

def _consultation_doc(cid: int) -> dict[str, Any]:
    c = consultations.get(get_session(), cid)
    plan = get_session().get(Plan, c.plan_id)
    today = hanoi_date()
    conn = db.get_conn()
    return {"id": c.id, "plan": {"id": plan.id, "name": plan.name, "status": plan.status},
            "organisation": _org_name(c.organisation_id), "opens_on": c.opens_on.isoformat(),
            "closes_on": c.closes_on.isoformat(),
            "days": consultations.window_days(c.opens_on, c.closes_on),
            "state": consultations.state_of(c, today), "summary": c.summary,
            "report_published": c.report_published_at is not None,
            "report_text": c.report_text,
            "counts": consultations.counts(conn, c.id),
            "comments": [{k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in r.items()}
                         for r in consultations.public_comments(conn, c.id)]}


@bp.get("/api/consultations")
def api_consultations():
    params.check_known(request.args, ())
    rows = consultations.listing(db.get_conn())
    return jsonify({"consultations": [
        {"id": r["id"], "plan_id": r["plan_id"], "plan_name": r["plan_name"],
         "organisation": r["organisation"], "opens_on": r["opens_on"].isoformat(),
         "closes_on": r["closes_on"].isoformat(), "state": r["state"],
         "comments_published": r["published"]} for r in rows]})


@bp.get("/api/consultations/<cid>")
def api_consultation(cid: str):
    params.check_known(request.args, ())
    return jsonify(_consultation_doc(params.id_arg(cid, "consultation")))


def _comment(cid: int, fields: Mapping[str, Any]) -> Any:
    gate(fields)
    return _commit_or_rollback(lambda: consultations.comment(
        get_session(), _settings(), cid, body=fields.get("body"), topic=fields.get("topic"),
        zone_id=_id_of(fields, "zone_id"), point=_point_of(fields), name=fields.get("name"),
        email=fields.get("email"), phone=fields.get("phone")))


@bp.post("/api/consultations/<cid>/comments")
def api_comment(cid: str):
    """A comment on the draft plan (``topic``, ``body``; a ``zone_id`` or a spot optional);
    published after moderation; 409 outside the consultation's window."""
    row = _comment(params.id_arg(cid, "consultation"), _json_fields(COMMENT_FIELDS))
    return jsonify({"id": row.id, "state": row.state}), 201


@bp.post("/api/comments/<comment_id>/report")
def api_report_comment(comment_id: str):
    gate({})
    _commit_or_rollback(lambda: consultations.report(get_session(), _settings(),
                                                     params.id_arg(comment_id, "comment")))
    return jsonify({"reported": True}), 202


@bp.get("/lay-y-kien")
def consultations_page():
    params.check_known(request.args, ())
    return render_template("exchange/consultations.html",
                           rows=consultations.listing(db.get_conn()), date_vi=date_vi)


def _consultation_ctx(cid: int, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    doc = _consultation_doc(cid)
    from sqlalchemy import text

    zones = db.get_conn().execute(text(
        "SELECT id, label FROM land_use_zones WHERE plan_id = :p ORDER BY label LIMIT 2000"),
        {"p": doc["plan"]["id"]}).all()
    outline = db.get_conn().execute(text(
        "SELECT ST_AsGeoJSON(ST_Transform(geom, 4326), 7) FROM plans WHERE id = :p"),
        {"p": doc["plan"]["id"]}).scalar()
    from planning_gis.crs import vn2000_to_lonlat

    spots = []
    for k in doc["comments"]:
        if k.get("easting") is not None:
            lon, lat = vn2000_to_lonlat(k["easting"], k["northing"])
            spots.append({"lon": lon, "lat": lat, "text": (k["public_body"] or "")[:200]})
    return {"c": doc, "zones": zones, "topics": COMMENT_TOPICS, "fields": fields or {},
            "spots": spots,
            "outline": parse_json(outline) if outline else None, "date_vi": date_vi,
            "state_vi": consultations.STATE_LABELS[doc["state"]]}


@bp.get("/lay-y-kien/<cid>")
def consultation_page(cid: str):
    params.check_known(request.args, ())
    return render_template("exchange/consultation.html",
                           **_consultation_ctx(params.id_arg(cid, "consultation")))


@bp.post("/lay-y-kien/<cid>/gop-y")
def comment_submit(cid: str):
    consultation_id = params.id_arg(cid, "consultation")
    fields = _form_fields(COMMENT_FIELDS)
    try:
        _comment(consultation_id, fields)
    except PlanningError as exc:
        get_session().rollback()
        return (render_template("exchange/consultation.html", error=exc,
                                **_consultation_ctx(consultation_id, fields)), status_for(exc))
    return render_template("exchange/notice.html", message=(
        "Cảm ơn bạn đã góp ý. Góp ý sẽ được công khai sau khi được kiểm duyệt."),
        back=url_for("exchange.consultation_page", cid=consultation_id)), 201


@bp.post("/lay-y-kien/gop-y/<comment_id>/bao-cao")
def report_comment_page(comment_id: str):
    return _report_page(consultations.report, comment_id, "comment")


@bp.get("/lay-y-kien/<cid>/bao-cao.csv")
def report_csv(cid: str):
    params.check_known(request.args, ())
    c = consultations.get(get_session(), params.id_arg(cid, "consultation"))
    resp = Response(consultations.report_csv(db.get_conn(), c.id), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="bao-cao-y-kien-{c.id}.csv"'
    return resp


@bp.get("/lay-y-kien/<cid>/bao-cao.pdf")
def report_pdf(cid: str):
    params.check_known(request.args, ())
    c = consultations.get(get_session(), params.id_arg(cid, "consultation"))
    plan = get_session().get(Plan, c.plan_id)
    body = consultations.report_pdf(db.get_conn(), _settings(), c, plan.name)
    resp = Response(body, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="bao-cao-y-kien-{c.id}.pdf"'
    return resp


# --- planning-information requests ----------------------------------------------------------

def _request_plot(fields: Mapping[str, Any]) -> params.StoredPlot:
    settings = _settings()
    corners = str(fields.get("corners") or "").strip()
    if corners:
        return params.corners_plot(corners, settings)
    code = params.plot_crs({"crs": fields.get("crs")} if fields.get("crs") else {},
                           (WGS84, STORAGE_SRID))
    upload = request.files.get("plot_file") if request.files else None
    if upload is not None and upload.filename:
        raw = upload.read(settings.max_json_bytes + 1)
        plot = _plot_of({"plot": raw.decode("utf-8", "replace")}, code)
    else:
        plot = _plot_of(fields, code)
    if plot is None:
        raise InvalidInput("give the plot: drawn, as VN-2000 corners, or as a GeoJSON file",
                           message_vi="Hãy cho biết thửa đất: vẽ trên bản đồ, nhập tọa độ các "
                                      "đỉnh VN-2000 hoặc gửi tệp GeoJSON.")
    return plot


def _submit_request(fields: Mapping[str, Any]) -> tuple[Any, str]:
    gate(fields)
    plot = _request_plot(fields)
    return _commit_or_rollback(lambda: requests.submit(
        get_session(), _settings(), plot=plot.geom, name=fields.get("name"),
        email=fields.get("email"), phone=fields.get("phone"), purpose=fields.get("purpose")))


@bp.post("/api/info-requests")
def api_request():
    """A planning-information request as JSON: a GeoJSON ``plot`` (WGS 84, or ``crs`` 5897)
    or VN-2000 ``corners`` (one "X Y" a line), ``name``, ``email`` or ``phone``, ``purpose``."""
    r, key = _submit_request(_json_fields(REQUEST_FIELDS))
    resp = jsonify({**requests.status_json(r), "organisation": _org_name(r.organisation_id),
                    "track_url": requests.track_url(_settings(), r.code, key)})
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/info-requests/track/<code>")
def api_track_request(code: str):
    r = _tracked(requests, code)
    resp = jsonify({**requests.status_json(r), "organisation": _org_name(r.organisation_id)})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/thu-tuc/cung-cap-thong-tin")
def request_page():
    params.check_known(request.args, ())
    return render_template("exchange/request.html", fields={},
                           days=_settings().request_deadline_working_days)


@bp.post("/thu-tuc/cung-cap-thong-tin")
def request_submit():
    fields = _form_fields(REQUEST_FIELDS)
    try:
        r, key = _submit_request(fields)
    except PlanningError as exc:
        return (render_template("exchange/request.html", error=exc, fields=fields,
                                days=_settings().request_deadline_working_days),
                status_for(exc))
    return render_template(
        "exchange/received.html", kind="request", code=r.code, due_on=r.due_on,
        unit=_org_name(r.organisation_id), date_vi=date_vi, status=requests.status_json(r),
        link=url_for("exchange.track_request_page", code=r.code, k=key)), 201


@bp.get("/thu-tuc/theo-doi/<code>")
def track_request_page(code: str):
    r = _tracked(requests, code)
    return _track_page("exchange/track_request.html", r=requests.status_json(r),
                       key=request.args.get("k"), unit=_org_name(r.organisation_id))


@bp.get("/thu-tuc/theo-doi/<code>/phieu.pdf")
def request_sheet(code: str):
    """The answer: the plot's information sheet with the request's sign-off."""
    r = _tracked(requests, code)
    if r.status != "answered":
        raise NotFound("the request is not answered yet",
                       message_vi="Hồ sơ chưa có kết quả.")
    from planning_gis.web.citizen import plot_sheet_pdf

    sign_off = [["Mã hồ sơ", r.code], ["Đơn vị trả lời", _org_name(r.organisation_id) or "—"],
                ["Cán bộ ký", r.officer_name or ""],
                ["Ngày trả lời", date_vi(r.answered_at)], ["Ghi chú", r.answer_note or ""]]
    plot = requests.plot_of(r)
    resp = Response(plot_sheet_pdf(plot, plot.area, sign_off), mimetype="application/pdf")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Disposition"] = f'inline; filename="phieu-{r.code}.pdf"'
    return resp


# --- each unit's record ---------------------------------------------------------------------

RECORD_PARAMS = frozenset({"months", "organisation"})


def _record() -> dict[str, Any]:
    params.check_known(request.args, RECORD_PARAMS)
    return record.unit_record(
        db.get_conn(), months=params.int_arg(request.args, "months", 12, 1, 120) or 12,
        organisation_id=params.int_arg(request.args, "organisation", None, 1, 2**31))


@bp.get("/api/units/record")
def api_record():
    resp = jsonify(_record())
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/cong-khai/don-vi")
def record_page():
    return render_template("exchange/record.html", rec=_record())
