"""The planners' side of the exchange under ``/quan-tri``: the unit's inbox of questions and
information requests with their due dates, answering, re-routing, moderation, consultations.

A planner sees and acts on their organisation's items only (an admin on all, and on the
questions no unit was found for); every change needs the session's CSRF token and is written to
the audit log in its own transaction, as in the rest of the workspace.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select, true

from planning_gis.errors import InvalidInput
from planning_gis.exchange import consultations, questions, requests
from planning_gis.exchange.common import date_vi, hanoi_date
from planning_gis.models import COMMENT_TOPICS, Organisation, Plan, Question
from planning_gis.web import db, params
from planning_gis.web.accounts import (
    client_ip,
    current_user,
    get_session,
    login_required,
    staff_blueprint,
)
from planning_gis.web.exchange import _settings

bp = staff_blueprint(Blueprint("exchange_ws", __name__, url_prefix="/quan-tri"))


def _commit(then: str):  # noqa: ANN202
    get_session().commit()
    return redirect(then, code=303)


def _date(raw: str | None, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError as exc:
        raise InvalidInput(f"{name} must be YYYY-MM-DD",
                           message_vi="Ngày phải có dạng năm-tháng-ngày (YYYY-MM-DD).") from exc


@bp.get("/hoi-dap")
@login_required
def inbox():
    params.check_known(request.args, {"da-tra-loi"})
    user = current_user()
    answered = request.args.get("da-tra-loi") == "1"
    conn = db.get_conn()
    return render_template(
        "workspace/exchange/inbox.html", answered=answered,
        questions=questions.inbox(conn, user, answered=answered),
        requests=requests.inbox(conn, user), today=hanoi_date(), date_vi=date_vi,
        moderation=consultations.moderation_queue(conn, user),
        hidden=list(get_session().scalars(
            select(Question).where(Question.hidden)
            .where(Question.organisation_id == user.organisation_id
                   if user.role != "admin" else true()))))


@bp.get("/hoi-dap/<qid>")
@login_required
def question(qid: str):
    s = get_session()
    q = questions.get_for_staff(s, current_user(), params.id_arg(qid, "question"))
    plan_docs = []
    if q.plan_id:
        plan = s.get(Plan, q.plan_id)
        plan_docs = list(plan.documents)[:200] if plan else []
    return render_template(
        "workspace/exchange/question.html", q=q, date_vi=date_vi, today=hanoi_date(),
        organisations=list(s.scalars(select(Organisation).order_by(Organisation.name))),
        plan_docs=plan_docs, chosen=set(q.answer_document_ids or []),
        documents=questions.documents_of(s, q))


def _ids(values: list[str]) -> list[int]:
    out = []
    for v in values:
        for part in v.replace(",", " ").split():
            out.append(params.id_arg(part, "document"))
    return out


@bp.post("/hoi-dap/<qid>/tra-loi")
@login_required
def answer(qid: str):
    f = request.form
    q = questions.answer(get_session(), _settings(), current_user(),
                         params.id_arg(qid, "question"), body=f.get("answer"),
                         document_ids=_ids(f.getlist("document_ids")),
                         info_sheet=f.get("info_sheet") == "1", private=f.get("private") == "1",
                         ip=client_ip())
    return _commit(url_for("exchange_ws.question", qid=q.id))


@bp.post("/hoi-dap/<qid>/chuyen")
@login_required
def reroute(qid: str):
    f = request.form
    q = questions.reroute(get_session(), _settings(), current_user(),
                          params.id_arg(qid, "question"),
                          params.id_arg(f.get("organisation_id"), "organisation"),
                          f.get("note"), ip=client_ip())
    return _commit(url_for("exchange_ws.inbox") if current_user().role != "admin"
                   else url_for("exchange_ws.question", qid=q.id))


@bp.post("/hoi-dap/<qid>/rieng")
@login_required
def private(qid: str):
    q = questions.set_private(get_session(), current_user(), params.id_arg(qid, "question"),
                              request.form.get("private") == "1", ip=client_ip())
    return _commit(url_for("exchange_ws.question", qid=q.id))


@bp.post("/hoi-dap/<qid>/kiem-duyet")
@login_required
def moderate_question(qid: str):
    q = questions.moderate(get_session(), current_user(), params.id_arg(qid, "question"),
                           hide=request.form.get("hide") == "1", ip=client_ip())
    return _commit(url_for("exchange_ws.question", qid=q.id))


@bp.get("/thu-tuc/<rid>")
@login_required
def info_request(rid: str):
    r = requests.get_for_staff(get_session(), current_user(), params.id_arg(rid, "request"))
    from geoalchemy2.shape import to_shape

    ring = list(to_shape(r.plot).geoms[0].exterior.coords)[:-1]
    return render_template("workspace/exchange/request.html", r=r,
                           status=requests.status_json(r), corners=ring, date_vi=date_vi,
                           contact=(r.applicant_name, r.contact_email, r.contact_phone))


@bp.post("/thu-tuc/<rid>/<action>")
@login_required
def info_request_action(rid: str, action: str):
    s, user, f = get_session(), current_user(), request.form
    request_id = params.id_arg(rid, "request")
    if action == "bat-dau":
        requests.start(s, user, request_id, ip=client_ip())
    elif action == "tra-loi":
        requests.answer(s, _settings(), user, request_id, officer=f.get("officer"),
                        note=f.get("note"), ip=client_ip())
    elif action == "tra-lai":
        requests.return_request(s, _settings(), user, request_id, reason=f.get("reason"),
                                ip=client_ip())
    else:
        raise InvalidInput(f"unknown action {action!r}", message_vi="Thao tác không hợp lệ.")
    return _commit(url_for("exchange_ws.info_request", rid=request_id))


@bp.get("/lay-y-kien")
@login_required
def consultations_page():
    user = current_user()
    s = get_session()
    q = select(Plan).where(Plan.status == "draft").order_by(Plan.name)
    if user.role != "admin":
        q = q.where(Plan.organisation_id == user.organisation_id)
    conn = db.get_conn()
    return render_template(
        "workspace/exchange/consultations.html", drafts=list(s.scalars(q)),
        rows=consultations.listing(conn, organisation_id=None if user.role == "admin"
                                   else user.organisation_id),
        queue=consultations.moderation_queue(conn, user), topics=COMMENT_TOPICS,
        date_vi=date_vi, today=hanoi_date())


@bp.post("/lay-y-kien")
@login_required
def open_consultation():
    f = request.form
    c = consultations.open_consultation(
        get_session(), current_user(), params.id_arg(f.get("plan_id"), "plan"),
        _date(f.get("opens_on"), "opens_on"), _date(f.get("closes_on"), "closes_on"),
        f.get("summary"), ip=client_ip())
    return _commit(url_for("exchange_ws.consultation", cid=c.id))


@bp.get("/lay-y-kien/<cid>")
@login_required
def consultation(cid: str):
    s = get_session()
    c = consultations.get(s, params.id_arg(cid, "consultation"))
    from planning_gis.exchange.common import require_unit_staff

    require_unit_staff(current_user(), c.organisation_id)
    conn = db.get_conn()
    from planning_gis.models import ConsultationComment

    comments = list(s.scalars(select(ConsultationComment)
                              .where(ConsultationComment.consultation_id == c.id)
                              .order_by(ConsultationComment.id)))
    return render_template("workspace/exchange/consultation.html", c=c,
                           plan=s.get(Plan, c.plan_id), comments=comments,
                           counts=consultations.counts(conn, c.id), topics=COMMENT_TOPICS,
                           state=consultations.state_of(c, hanoi_date()), date_vi=date_vi)


@bp.post("/gop-y/<comment_id>/<action>")
@login_required
def comment_action(comment_id: str, action: str):
    s, user, f = get_session(), current_user(), request.form
    cid = params.id_arg(comment_id, "comment")
    if action == "duyet":
        row = consultations.moderate(s, user, cid, publish=True, ip=client_ip())
    elif action == "tu-choi":
        row = consultations.moderate(s, user, cid, publish=False, ip=client_ip())
    elif action == "phan-hoi":
        row = consultations.respond(s, _settings(), user, cid, f.get("response"), ip=client_ip())
    else:
        raise InvalidInput(f"unknown action {action!r}", message_vi="Thao tác không hợp lệ.")
    return _commit(url_for("exchange_ws.consultation", cid=row.consultation_id))


@bp.post("/lay-y-kien/<cid>/bao-cao")
@login_required
def publish_report(cid: str):
    c = consultations.publish_report(get_session(), current_user(),
                                     params.id_arg(cid, "consultation"),
                                     request.form.get("report"), ip=client_ip())
    return _commit(url_for("exchange_ws.consultation", cid=c.id))

