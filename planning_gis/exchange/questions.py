"""Questions on a place or a plan: routed to the unit that answers for it, answered in public.

Routing. A question asked at a point (or a plot: its point on surface) goes to the organisation
that owns the plan governing there, ranked exactly as the look-up ranks plans
(:func:`layers.lookup.rank_plans`: the most detailed plan in force); where no plan governs, or
its plan has no organisation, to the organisation of the smallest current administrative unit
containing the point (``organisations.admin_unit_id``); failing both, to the admins, who route
it by hand. A question asked on a plan's page goes to that plan's organisation. Staff may
re-route a question with a note; the note and who moved it stay in ``routing``.

Privacy. The asker's name and contact are read by the unit only. When the answer is published
the question and the answer are copied to ``public_body``/``public_answer`` with e-mail
addresses, phone numbers and the asker's name removed, and only those copies are ever shown.
A unit marks a question private (one family's land): it is answered to the asker alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from layers.lookup import POINT, plans_at_sql, rank_plans
from planning_gis.accounts import audit
from planning_gis.crs import STORAGE_SRID
from planning_gis.errors import InvalidInput, NotFound
from planning_gis.exchange import codes, outbox
from planning_gis.exchange import text as texts
from planning_gis.exchange.common import (
    by_private_link,
    date_vi,
    for_unit_staff,
    hanoi_date,
    now,
    organisation_name,
    plot_value,
    staff_emails,
)
from planning_gis.exchange.working_days import add_working_days
from planning_gis.models import Organisation, Plan, PlanDocument, Question, User
from planning_gis.settings import Settings

#: The plans at a point, as the look-up reads them, with the organisation that owns each.
ROUTE_PLANS_SQL = text(f"""
SELECT x.*, p.organisation_id
FROM ({plans_at_sql(POINT, "ARRAY[]::integer[]")}) x JOIN plans p ON p.id = x.id""")

#: The current administrative units at a point, smallest first, those with a unit's
#: organisation before those without.
ROUTE_UNITS_SQL = text(f"""
SELECT u.id AS unit_id, o.id AS organisation_id
FROM admin_units u LEFT JOIN organisations o ON o.admin_unit_id = u.id
WHERE ST_Intersects(u.geom, {POINT})
  AND (u.valid_from IS NULL OR u.valid_from <= :today)
  AND (u.valid_to IS NULL OR u.valid_to >= :today)
ORDER BY (o.id IS NULL), ST_Area(u.geom), u.id
LIMIT 1""")


@dataclass(frozen=True)
class Route:
    organisation_id: int | None
    plan_id: int | None
    admin_unit_id: int | None
    routed_by: str  # plan, unit, none


def route_point(conn: Connection, easting: float, northing: float, today: dt.date) -> Route:
    """The unit responsible for a point (see the module docstring)."""
    at = {"e": easting, "n": northing}
    rows = conn.execute(ROUTE_PLANS_SQL, at).all()
    governing = next((r for r, _state, role in rank_plans(rows, today) if role == "governing"),
                     None)
    unit = conn.execute(ROUTE_UNITS_SQL, {**at, "today": today}).first()
    unit_id = unit.unit_id if unit else None
    if governing is not None and governing.organisation_id is not None:
        return Route(governing.organisation_id, governing.id, unit_id, "plan")
    if unit is not None and unit.organisation_id is not None:
        return Route(unit.organisation_id, governing.id if governing else None, unit_id, "unit")
    return Route(None, governing.id if governing else None, unit_id, "none")


@dataclass(frozen=True)
class Asked:
    question: Question
    key: str  # the private link's key: shown once, only its sha256 is stored


def track_url(settings: Settings, code: str, key: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/hoi-dap/theo-doi/{code}?k={key}"


def ask(session: Session, settings: Settings, *, body: object, name: object = None,
        email: object = None, phone: object = None, point: tuple[float, float] | None = None,
        plot: BaseGeometry | None = None, plan_id: int | None = None,
        today: dt.date | None = None) -> Asked:
    """Record a citizen's question, route it, queue the e-mails; nothing is written on error."""
    body_text = texts.clean(body, "Nội dung câu hỏi", "question",
                            max_chars=settings.citizen_text_max_chars)
    asker = texts.clean(name, "Họ tên", "name", max_chars=120, required=False)
    contact_email, contact_phone = texts.contact(email, phone)
    today = today or hanoi_date()
    if plot is not None:
        surface = plot.representative_point()
        point = (surface.x, surface.y)
    if plan_id is not None:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}", message_vi="Không tìm thấy đồ án quy hoạch.")
        route = Route(plan.organisation_id, plan.id, None, "plan" if plan.organisation_id
                      else "none")
        if point is not None and route.organisation_id is None:
            route = route_point(session.connection(), *point, today)
    elif point is not None:
        route = route_point(session.connection(), *point, today)
    else:
        raise InvalidInput("a question is asked at a place or on a plan",
                           message_vi="Hãy chọn vị trí trên bản đồ hoặc đồ án để đặt câu hỏi.")
    key, digest = codes.new_key()
    q = Question(
        code=codes.new_code("question"), token_sha256=digest,
        organisation_id=route.organisation_id, plan_id=route.plan_id,
        admin_unit_id=route.admin_unit_id, routed_by=route.routed_by,
        geom=from_shape(Point(*point), STORAGE_SRID) if point else None,
        plot=plot_value(plot) if plot is not None else None,
        body=body_text, asker_name=asker, contact_email=contact_email,
        contact_phone=contact_phone, status="received", is_private=False, hidden=False,
        reports=0, answer_info_sheet=False, answer_document_ids=[], routing=[],
        due_on=add_working_days(today, settings.question_deadline_working_days),
    )
    session.add(q)
    session.flush()
    unit = organisation_name(session, q.organisation_id)
    audit.record(session, None, "question.ask", "question", q.id,
                 {"code": q.code, "organisation_id": q.organisation_id,
                  "routed_by": q.routed_by})
    link = track_url(settings, q.code, key)
    outbox.queue(session, contact_email, f"Đã nhận câu hỏi {q.code}", (
        f"Câu hỏi của bạn đã được tiếp nhận với mã {q.code}.\n"
        f"Đơn vị trả lời: {unit}. Hạn trả lời: {date_vi(q.due_on)}.\n\n"
        f"Theo dõi câu hỏi (đường dẫn riêng, không chia sẻ): {link}\n"), "question.received")
    for addr in staff_emails(session, q.organisation_id):
        outbox.queue(session, addr, f"Câu hỏi mới {q.code} – hạn {date_vi(q.due_on)}", (
            f"Đơn vị {unit} nhận câu hỏi mới {q.code}, hạn trả lời {date_vi(q.due_on)}.\n"
            f"Xem và trả lời: {settings.public_base_url.rstrip('/')}/quan-tri/hoi-dap/{q.id}\n"),
            "question.new")
    return Asked(q, key)


def track(session: Session, code: str | None, key: str | None) -> Question:
    """The question a private link names (the same 404 for a wrong code and a wrong key)."""
    return by_private_link(session, Question, code, key, NotFound(
        "no question with this code and key",
        message_vi="Mã theo dõi hoặc đường dẫn không đúng. Hãy kiểm tra lại đường dẫn trong "
                   "e-mail hoặc phiếu tiếp nhận."))


def get_for_staff(session: Session, user: User | None, question_id: int) -> Question:
    return for_unit_staff(session, user, Question, question_id, NotFound(
        f"no question {question_id}", message_vi="Không tìm thấy câu hỏi."))


INBOX_SQL = text("""
SELECT q.id, q.code, q.status, q.created_at, q.due_on, q.answered_at, q.plan_id, q.is_private,
       q.hidden, q.reports, left(q.body, 160) AS excerpt, q.organisation_id
FROM questions q
WHERE q.organisation_id = :org AND q.status = ANY(:states)
ORDER BY q.due_on, q.id
LIMIT :limit""")
INBOX_ALL_SQL = text("""
SELECT q.id, q.code, q.status, q.created_at, q.due_on, q.answered_at, q.plan_id, q.is_private,
       q.hidden, q.reports, left(q.body, 160) AS excerpt, q.organisation_id
FROM questions q
WHERE q.status = ANY(:states) AND (CAST(:unassigned AS boolean) IS FALSE
                                   OR q.organisation_id IS NULL)
ORDER BY q.due_on, q.id
LIMIT :limit""")


def inbox(conn: Connection, user: User, *, answered: bool = False, today: dt.date | None = None,
          limit: int = 200) -> list[dict[str, Any]]:
    """The unit's questions by due date (an admin sees every unit's), each marked overdue."""
    today = today or hanoi_date()
    states = ["answered"] if answered else ["received"]
    if user.role == "admin":
        rows = conn.execute(INBOX_ALL_SQL, {"states": states, "unassigned": False,
                                            "limit": limit}).mappings().all()
    else:
        rows = conn.execute(INBOX_SQL, {"org": user.organisation_id, "states": states,
                                        "limit": limit}).mappings().all()
    return [{**r, "overdue": r["status"] == "received" and r["due_on"] < today,
             "late": (r["answered_at"] is not None
                      and hanoi_date(r["answered_at"]) > r["due_on"])} for r in rows]


def answer(session: Session, settings: Settings, user: User | None, question_id: int, *,
           body: object, document_ids: list[int] | None = None, info_sheet: bool = False,
           private: bool = False, ip: str | None = None) -> Question:
    """Publish the unit's answer (with personal data removed) and tell the asker."""
    q = get_for_staff(session, user, question_id)
    answer_text = texts.clean(body, "Nội dung trả lời", "answer",
                              max_chars=settings.citizen_text_max_chars * 2)
    ids = sorted(set(document_ids or []))
    if ids:
        found = set(session.scalars(select(PlanDocument.id).where(PlanDocument.id.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise InvalidInput(f"no document(s) {missing} in the library",
                               message_vi=f"Không có văn bản số {missing} trong thư viện.")
    first = q.status != "answered"
    q.status = "answered"
    q.answer_text = answer_text
    q.answer_officer = user.full_name or user.email
    q.answered_by = user.id
    q.answered_at = q.answered_at if not first and q.answered_at else now()
    q.answer_document_ids = ids
    q.answer_info_sheet = bool(info_sheet and q.geom is not None)
    q.is_private = bool(private)
    q.public_body = texts.redact(q.body, q.asker_name)
    q.public_answer = texts.redact(answer_text, q.asker_name)
    audit.record(session, user, "question.answer" if first else "question.answer_edit",
                 "question", q.id, {"documents": ids, "private": q.is_private}, ip)
    if first:
        outbox.queue(session, q.contact_email, f"Câu hỏi {q.code} đã được trả lời", (
            f"Đơn vị {organisation_name(session, q.organisation_id)} đã trả lời câu hỏi "
            f"{q.code} của bạn.\n\n{answer_text}\n\n"
            "Xem câu trả lời và tài liệu kèm theo bằng đường dẫn riêng trong e-mail tiếp nhận "
            f"câu hỏi, hoặc tra mã {q.code} tại {settings.public_base_url.rstrip('/')}"
            "/hoi-dap/theo-doi\n"), "question.answered")
    return q


def reroute(session: Session, settings: Settings, user: User | None, question_id: int,
            organisation_id: int, note: object, ip: str | None = None) -> Question:
    """Hand the question to another unit, with a note saying why (kept in ``routing``)."""
    q = get_for_staff(session, user, question_id)
    if q.status == "answered":
        raise InvalidInput("an answered question is not re-routed",
                           message_vi="Câu hỏi đã được trả lời, không chuyển được nữa.")
    target = session.get(Organisation, organisation_id)
    if target is None:
        raise InvalidInput(f"no organisation {organisation_id}",
                           message_vi="Không có đơn vị được chọn.")
    if target.id == q.organisation_id:
        raise InvalidInput("the question is already with this unit",
                           message_vi="Câu hỏi đã thuộc đơn vị này.")
    why = texts.clean(note, "Ghi chú chuyển", "note", max_chars=1000)
    q.routing = [*q.routing, {"from": q.organisation_id, "to": target.id, "note": why,
                              "by": user.full_name or user.email, "at": now().isoformat()}]
    q.organisation_id = target.id
    q.routed_by = "staff"
    audit.record(session, user, "question.reroute", "question", q.id,
                 {"to": target.id, "note": why}, ip)
    for addr in staff_emails(session, target.id):
        outbox.queue(session, addr, f"Câu hỏi {q.code} được chuyển đến đơn vị", (
            f"Câu hỏi {q.code} được chuyển đến {target.name}: {why}\n"
            f"Hạn trả lời: {date_vi(q.due_on)}.\n"
            f"{settings.public_base_url.rstrip('/')}/quan-tri/hoi-dap/{q.id}\n"),
            "question.rerouted")
    return q


def set_private(session: Session, user: User | None, question_id: int, private: bool,
                ip: str | None = None) -> Question:
    q = get_for_staff(session, user, question_id)
    q.is_private = bool(private)
    audit.record(session, user, "question.private" if private else "question.public",
                 "question", q.id, None, ip)
    return q


def report(session: Session, settings: Settings, question_id: int) -> None:
    """A citizen's "báo cáo vi phạm" on a published answer; enough reports hide it until a
    moderator decides."""
    q = session.get(Question, question_id)
    if q is None or q.status != "answered" or q.is_private or q.hidden:
        raise NotFound(f"no published question {question_id}",
                       message_vi="Không tìm thấy câu hỏi đã công bố.")
    q.reports += 1
    if q.reports >= settings.report_hide_threshold:
        q.hidden = True
    audit.record(session, None, "question.report", "question", q.id, {"reports": q.reports})


def moderate(session: Session, user: User | None, question_id: int, *, hide: bool,
             ip: str | None = None) -> Question:
    q = get_for_staff(session, user, question_id)
    q.hidden = bool(hide)
    if not hide:
        q.reports = 0
    audit.record(session, user, "question.hide" if hide else "question.restore", "question",
                 q.id, None, ip)
    return q


PUBLIC_COLUMNS = ("id, code, plan_id, organisation_id, organisation, asked_on, answered_on, "
                  "due_on, public_body, public_answer")


def public_list(conn: Connection, *, organisation_id: int | None = None, plan_id: int | None
                = None, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """Published answers, newest first (no personal data: the public view has none)."""
    rows = conn.execute(text(
        f"SELECT {PUBLIC_COLUMNS} FROM public_questions"
        " WHERE (CAST(:org AS integer) IS NULL OR organisation_id = :org)"
        " AND (CAST(:plan AS integer) IS NULL OR plan_id = :plan)"
        " ORDER BY answered_on DESC, id DESC LIMIT :limit OFFSET :offset"),
        {"org": organisation_id, "plan": plan_id, "limit": limit, "offset": offset})
    return [dict(r) for r in rows.mappings()]


def public_get(conn: Connection, question_id: int) -> dict[str, Any]:
    row = conn.execute(text(f"SELECT {PUBLIC_COLUMNS} FROM public_questions WHERE id = :id"),
                       {"id": question_id}).mappings().first()
    if row is None:
        raise NotFound(f"no published question {question_id}",
                       message_vi="Không tìm thấy câu hỏi đã công bố (có thể chưa được trả lời"
                                  " hoặc là câu hỏi riêng).")
    return dict(row)


def documents_of(session: Session, q: Question) -> list[PlanDocument]:
    ids = list(q.answer_document_ids or [])
    if not ids:
        return []
    return list(session.scalars(select(PlanDocument).where(PlanDocument.id.in_(ids))
                                .order_by(PlanDocument.id)))


def public_json(row: dict[str, Any]) -> dict[str, Any]:
    """A published question as the API gives it (dates as ISO text)."""
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
