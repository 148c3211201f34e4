"""The planning-information request (thủ tục "cung cấp thông tin quy hoạch").

A citizen or a firm submits a plot and contact details and gets a tracking code. The unit that
answers for the place (routed like a question) has a legal deadline of
``request_deadline_working_days`` working days (10 by default), counted from the day after
receipt with Vietnam's public holidays and weekends excluded (:mod:`working_days`). It answers
with the information sheet of the plot, signed off by a named officer, or returns the request
with a reason. States: received → in_progress → answered | returned.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

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
from planning_gis.exchange.questions import route_point
from planning_gis.exchange.working_days import add_working_days, skipped_holidays
from planning_gis.models import InfoRequest, User
from planning_gis.settings import Settings

STATUS_LABELS = {
    "received": "Đã tiếp nhận",
    "in_progress": "Đang xử lý",
    "answered": "Đã trả lời",
    "returned": "Trả lại hồ sơ",
}
def track_url(settings: Settings, code: str, key: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/thu-tuc/theo-doi/{code}?k={key}"


def submit(session: Session, settings: Settings, *, plot: BaseGeometry, name: object,
           email: object = None, phone: object = None, purpose: object = None,
           today: dt.date | None = None) -> tuple[InfoRequest, str]:
    """Record a request for the plot (EPSG:5897), route it, compute its legal due date."""
    applicant = texts.clean(name, "Họ tên người đề nghị", "name", max_chars=120)
    contact_email, contact_phone = texts.contact(email, phone)
    why = texts.clean(purpose, "Mục đích", "purpose", max_chars=1000, required=False)
    today = today or hanoi_date()
    surface = plot.representative_point()
    route = route_point(session.connection(), surface.x, surface.y, today)
    days = settings.request_deadline_working_days
    key, digest = codes.new_key()
    r = InfoRequest(
        code=codes.new_code("request"), token_sha256=digest,
        organisation_id=route.organisation_id,
        plot=plot_value(plot),
        geom=from_shape(surface, STORAGE_SRID), area_m2=plot.area, purpose=why,
        applicant_name=applicant, contact_email=contact_email,
        contact_phone=contact_phone, status="received", working_days=days,
        due_on=add_working_days(today, days))
    session.add(r)
    session.flush()
    audit.record(session, None, "request.submit", "info_request", r.id,
                 {"code": r.code, "organisation_id": r.organisation_id})
    unit = organisation_name(session, r.organisation_id)
    outbox.queue(session, contact_email, f"Đã tiếp nhận đề nghị cung cấp thông tin {r.code}", (
        f"Đề nghị cung cấp thông tin quy hoạch của bạn đã được tiếp nhận, mã {r.code}.\n"
        f"Đơn vị giải quyết: {unit}. Hạn trả kết quả: {date_vi(r.due_on)} "
        f"({days} ngày làm việc, không tính thứ Bảy, Chủ nhật và ngày lễ, Tết).\n\n"
        f"Theo dõi: {track_url(settings, r.code, key)}\n"), "request.received")
    for addr in staff_emails(session, r.organisation_id):
        outbox.queue(session, addr, f"Đề nghị cung cấp thông tin {r.code} – hạn "
                     f"{date_vi(r.due_on)}",
                     f"{settings.public_base_url.rstrip('/')}/quan-tri/thu-tuc/{r.id}\n",
                     "request.new")
    return r, key


def track(session: Session, code: str | None, key: str | None) -> InfoRequest:
    """The request a private link names (the same 404 for a wrong code and a wrong key)."""
    return by_private_link(session, InfoRequest, code, key, NotFound(
        "no request with this code and key",
        message_vi="Mã hồ sơ hoặc đường dẫn không đúng. Hãy kiểm tra lại đường dẫn trong phiếu "
                   "tiếp nhận."))


def get_for_staff(session: Session, user: User | None, request_id: int) -> InfoRequest:
    return for_unit_staff(session, user, InfoRequest, request_id, NotFound(
        f"no request {request_id}", message_vi="Không tìm thấy hồ sơ."))


def start(session: Session, user: User | None, request_id: int, ip: str | None = None
          ) -> InfoRequest:
    r = get_for_staff(session, user, request_id)
    if r.status != "received":
        raise InvalidInput("only a received request can be started",
                           message_vi="Chỉ hồ sơ mới tiếp nhận mới chuyển sang đang xử lý.")
    r.status = "in_progress"
    audit.record(session, user, "request.start", "info_request", r.id, None, ip)
    return r


def answer(session: Session, settings: Settings, user: User | None, request_id: int, *,
           officer: object, note: object = None, ip: str | None = None) -> InfoRequest:
    """Answer with the plot's information sheet, signed off by a named officer."""
    r = get_for_staff(session, user, request_id)
    if r.status in ("answered", "returned"):
        raise InvalidInput("the request is closed", message_vi="Hồ sơ đã được giải quyết.")
    r.officer_name = texts.clean(officer, "Họ tên cán bộ ký", "officer", max_chars=120)
    r.answer_note = texts.clean(note, "Ghi chú", "note", max_chars=settings.citizen_text_max_chars,
                                required=False)
    r.status = "answered"
    r.answered_at = now()
    r.answered_by = user.id
    audit.record(session, user, "request.answer", "info_request", r.id,
                 {"on_time": hanoi_date(r.answered_at) <= r.due_on}, ip)
    outbox.queue(session, r.contact_email, f"Kết quả cung cấp thông tin quy hoạch {r.code}", (
        f"Hồ sơ {r.code} đã có kết quả, do {r.officer_name} ký.\n"
        "Tải phiếu thông tin quy hoạch bằng đường dẫn riêng trong phiếu tiếp nhận.\n"),
        "request.answered")
    return r


def return_request(session: Session, settings: Settings, user: User | None, request_id: int, *,
                   reason: object, ip: str | None = None) -> InfoRequest:
    r = get_for_staff(session, user, request_id)
    if r.status in ("answered", "returned"):
        raise InvalidInput("the request is closed", message_vi="Hồ sơ đã được giải quyết.")
    r.return_reason = texts.clean(reason, "Lý do trả lại", "reason", max_chars=2000)
    r.status = "returned"
    r.answered_at = now()
    r.answered_by = user.id
    audit.record(session, user, "request.return", "info_request", r.id, None, ip)
    outbox.queue(session, r.contact_email, f"Hồ sơ {r.code} được trả lại",
                 f"Hồ sơ {r.code} được trả lại với lý do: {r.return_reason}\n", "request.returned")
    return r


REQUEST_INBOX_SQL = text("""
SELECT r.id, r.code, r.status, r.received_at, r.due_on, r.answered_at, r.area_m2,
       r.organisation_id
FROM info_requests r
WHERE r.organisation_id = :org AND r.status = ANY(:states)
ORDER BY r.due_on, r.id LIMIT :limit""")
REQUEST_INBOX_ALL_SQL = text("""
SELECT r.id, r.code, r.status, r.received_at, r.due_on, r.answered_at, r.area_m2,
       r.organisation_id
FROM info_requests r WHERE r.status = ANY(:states)
ORDER BY r.due_on, r.id LIMIT :limit""")


def inbox(conn: Connection, user: User, *, closed: bool = False, today: dt.date | None = None,
          limit: int = 200) -> list[dict[str, Any]]:
    today = today or hanoi_date()
    states = ["answered", "returned"] if closed else ["received", "in_progress"]
    if user.role == "admin":
        rows = conn.execute(REQUEST_INBOX_ALL_SQL, {"states": states, "limit": limit})
    else:
        rows = conn.execute(REQUEST_INBOX_SQL, {"org": user.organisation_id, "states": states,
                                                "limit": limit})
    return [{**r, "label": STATUS_LABELS[r["status"]],
             "overdue": r["status"] in ("received", "in_progress") and r["due_on"] < today}
            for r in rows.mappings()]


def status_json(r: InfoRequest) -> dict[str, Any]:
    """What the citizen's tracking page and API show (their own request: no contact echoed)."""
    received = hanoi_date(r.received_at) if r.received_at else hanoi_date()
    return {
        "code": r.code, "status": r.status, "status_vi": STATUS_LABELS[r.status],
        "received_on": received.isoformat(), "due_on": r.due_on.isoformat(),
        "working_days": r.working_days,
        "holidays_in_period": [{"date": d.isoformat(), "name": n}
                               for d, n in skipped_holidays(received, r.due_on)],
        "answered_on": hanoi_date(r.answered_at).isoformat() if r.answered_at else None,
        "on_time": (hanoi_date(r.answered_at) <= r.due_on) if r.answered_at else None,
        "officer": r.officer_name, "note": r.answer_note, "return_reason": r.return_reason,
        "area_m2": round(r.area_m2, 1),
    }


def plot_of(r: InfoRequest) -> BaseGeometry:
    return to_shape(r.plot)
