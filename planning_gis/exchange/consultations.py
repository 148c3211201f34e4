"""Community consultation on draft plans (lấy ý kiến cộng đồng dân cư).

A plan in the status "draft" gets a consultation window that its unit sets within Law
47/2024/QH15 Art. 37: at least 20 and at most 30 days, both ends counted (the database refuses
any other window too). During the window citizens comment on the plan, on one of its zones or
on a spot they tap; a comment is public once a moderator publishes it (with personal data
removed), and counted by zone and by topic. The unit answers comments in public and, after the
window, publishes the summary report (báo cáo tổng hợp, tiếp thu, giải trình) as PDF and CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from planning_gis.accounts import audit
from planning_gis.crs import STORAGE_SRID
from planning_gis.errors import InvalidInput, NotFound, WindowClosed
from planning_gis.exchange import outbox
from planning_gis.exchange import text as texts
from planning_gis.exchange.common import date_vi, hanoi_date, now, require_unit_staff
from planning_gis.models import (
    COMMENT_TOPICS,
    Consultation,
    ConsultationComment,
    LandUseZone,
    Plan,
    User,
)
from planning_gis.settings import Settings

MIN_DAYS, MAX_DAYS = 20, 30


def window_days(opens_on: dt.date, closes_on: dt.date) -> int:
    return (closes_on - opens_on).days + 1


def state_of(c: Consultation | Any, today: dt.date) -> str:
    """upcoming, open or closed on ``today`` (Hanoi's date)."""
    if today < c.opens_on:
        return "upcoming"
    return "open" if today <= c.closes_on else "closed"


STATE_LABELS = {"upcoming": "Sắp lấy ý kiến", "open": "Đang lấy ý kiến",
                "closed": "Đã kết thúc lấy ý kiến"}


def open_consultation(session: Session, user: User | None, plan_id: int, opens_on: dt.date,
                      closes_on: dt.date, summary: object = None, *,
                      today: dt.date | None = None, ip: str | None = None) -> Consultation:
    """Set the window of a draft plan's consultation (or change it before it opens)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}", message_vi="Không tìm thấy đồ án.")
    require_unit_staff(user, plan.organisation_id)
    if plan.status != "draft":
        raise InvalidInput("only a draft plan is put to consultation",
                           message_vi="Chỉ đồ án ở trạng thái dự thảo mới được lấy ý kiến.")
    days = window_days(opens_on, closes_on)
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(
            f"the consultation lasts {days} days; Law 47/2024/QH15 Art. 37 requires 20 to 30",
            message_vi=f"Thời gian lấy ý kiến là {days} ngày; Luật 47/2024/QH15 Điều 37 quy "
                       "định tối thiểu 20 ngày và tối đa 30 ngày.")
    today = today or hanoi_date()
    if closes_on < today:
        raise InvalidInput("the window is in the past",
                           message_vi="Thời gian lấy ý kiến đã qua.")
    about = texts.clean(summary, "Giới thiệu", "summary", max_chars=4000, required=False)
    c = session.scalar(select(Consultation).where(Consultation.plan_id == plan.id))
    if c is None:
        c = Consultation(plan_id=plan.id, organisation_id=plan.organisation_id,
                         created_by=user.id)
        session.add(c)
    elif state_of(c, today) != "upcoming" and (opens_on != c.opens_on):
        raise InvalidInput("an opened consultation keeps its start date",
                           message_vi="Đợt lấy ý kiến đã bắt đầu, không đổi ngày bắt đầu.")
    c.opens_on, c.closes_on, c.summary = opens_on, closes_on, about
    session.flush()
    audit.record(session, user, "consultation.window", "consultation", c.id,
                 {"plan_id": plan.id, "opens_on": opens_on.isoformat(),
                  "closes_on": closes_on.isoformat()}, ip)
    return c


def get(session: Session, consultation_id: int) -> Consultation:
    c = session.get(Consultation, consultation_id)
    if c is None:
        raise NotFound(f"no consultation {consultation_id}",
                       message_vi="Không tìm thấy đợt lấy ý kiến.")
    return c


def comment(session: Session, settings: Settings, consultation_id: int, *, body: object,
            topic: str | None, zone_id: int | None = None,
            point: tuple[float, float] | None = None, name: object = None, email: object = None,
            phone: object = None, today: dt.date | None = None) -> ConsultationComment:
    """A citizen's comment, held for moderation; refused outside the window."""
    c = get(session, consultation_id)
    today = today or hanoi_date()
    st = state_of(c, today)
    if st != "open":
        when = (f"opens on {c.opens_on}" if st == "upcoming" else f"closed on {c.closes_on}")
        when_vi = (f"bắt đầu ngày {date_vi(c.opens_on)}" if st == "upcoming"
                   else f"đã kết thúc ngày {date_vi(c.closes_on)}")
        raise WindowClosed(f"the consultation {when}; comments are not taken now",
                           message_vi=f"Đợt lấy ý kiến {when_vi}; hiện không nhận góp ý.")
    text_ = texts.clean(body, "Nội dung góp ý", "comment",
                        max_chars=settings.citizen_text_max_chars)
    if topic not in COMMENT_TOPICS:
        raise InvalidInput(f"unknown topic {topic!r}: use one of {', '.join(COMMENT_TOPICS)}",
                           message_vi="Hãy chọn chủ đề góp ý.")
    author = texts.clean(name, "Họ tên", "name", max_chars=120, required=False)
    contact_email = texts.clean_email(email)
    contact_phone = texts.clean_phone(phone)
    if zone_id is not None:
        zone = session.get(LandUseZone, zone_id)
        if zone is None or zone.plan_id != c.plan_id:
            raise InvalidInput(f"zone {zone_id} is not a zone of this plan",
                               message_vi="Ô quy hoạch được chọn không thuộc đồ án này.")
    if point is not None:
        inside = session.execute(text(
            "SELECT ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:e, :n), :srid), 50) FROM plans"
            " WHERE id = :id"), {"e": point[0], "n": point[1], "srid": STORAGE_SRID,
                                 "id": c.plan_id}).scalar()
        if not inside:
            raise InvalidInput("the spot is outside the draft plan",
                               message_vi="Vị trí góp ý nằm ngoài ranh giới đồ án dự thảo.")
    if point is None:
        # the zone's (or the plan's) point on surface: every comment has a place on the layer
        point = tuple(session.execute(text(
            "SELECT ST_X(s), ST_Y(s) FROM (SELECT ST_PointOnSurface(geom) AS s FROM "
            + ("land_use_zones WHERE id = :id" if zone_id is not None else
               "plans WHERE id = :id") + ") x"),
            {"id": zone_id if zone_id is not None else c.plan_id}).one())
    row = ConsultationComment(
        consultation_id=c.id, zone_id=zone_id, topic=topic, body=text_, author_name=author,
        contact_email=contact_email, contact_phone=contact_phone, state="pending", reports=0,
        geom=from_shape(Point(*point), STORAGE_SRID))
    session.add(row)
    session.flush()
    audit.record(session, None, "comment.post", "consultation_comment", row.id,
                 {"consultation_id": c.id, "topic": topic})
    return row


def _comment_for_staff(session: Session, user: User | None, comment_id: int
                       ) -> ConsultationComment:
    row = session.get(ConsultationComment, comment_id)
    if row is None:
        raise NotFound(f"no comment {comment_id}", message_vi="Không tìm thấy góp ý.")
    require_unit_staff(user, get(session, row.consultation_id).organisation_id)
    return row


def moderate(session: Session, user: User | None, comment_id: int, *, publish: bool,
             ip: str | None = None) -> ConsultationComment:
    row = _comment_for_staff(session, user, comment_id)
    row.state = "published" if publish else "rejected"
    row.public_body = texts.redact(row.body, row.author_name) if publish else None
    if publish:
        row.reports = 0
    audit.record(session, user, "comment.publish" if publish else "comment.reject",
                 "consultation_comment", row.id, None, ip)
    return row


def respond(session: Session, settings: Settings, user: User | None, comment_id: int,
            body: object, ip: str | None = None) -> ConsultationComment:
    """The unit's public response (tiếp thu, giải trình) to a published comment."""
    row = _comment_for_staff(session, user, comment_id)
    if row.state != "published":
        raise InvalidInput("publish the comment before answering it",
                           message_vi="Hãy duyệt công khai góp ý trước khi trả lời.")
    row.response_text = texts.redact(texts.clean(body, "Nội dung phản hồi", "response",
                                                 max_chars=settings.citizen_text_max_chars))
    first = row.responded_at is None
    row.responded_at = now()
    row.responded_by = user.id
    audit.record(session, user, "comment.respond", "consultation_comment", row.id, None, ip)
    if first:
        outbox.queue(session, row.contact_email, "Phản hồi góp ý đồ án quy hoạch dự thảo",
                     f"Đơn vị đã phản hồi góp ý của bạn:\n\n{row.response_text}\n",
                     "comment.responded")
    return row


def report(session: Session, settings: Settings, comment_id: int) -> None:
    """A citizen's report of a published comment; enough reports send it back to moderation."""
    row = session.get(ConsultationComment, comment_id)
    if row is None or row.state != "published":
        raise NotFound(f"no published comment {comment_id}",
                       message_vi="Không tìm thấy góp ý đã công bố.")
    row.reports += 1
    if row.reports >= settings.report_hide_threshold:
        row.state = "pending"
    audit.record(session, None, "comment.report", "consultation_comment", row.id,
                 {"reports": row.reports})


def publish_report(session: Session, user: User | None, consultation_id: int, body: object, *,
                   today: dt.date | None = None, ip: str | None = None) -> Consultation:
    c = get(session, consultation_id)
    require_unit_staff(user, c.organisation_id)
    if state_of(c, today or hanoi_date()) != "closed":
        raise InvalidInput("the summary report is published after the window closes",
                           message_vi="Báo cáo tổng hợp được công bố sau khi kết thúc lấy ý "
                                      "kiến.")
    c.report_text = texts.clean(body, "Nội dung báo cáo", "report", max_chars=20000)
    c.report_published_at = now()
    audit.record(session, user, "consultation.report", "consultation", c.id, None, ip)
    return c


LIST_SQL = text("""
SELECT c.id, c.plan_id, p.name AS plan_name, p.status AS plan_status, c.opens_on, c.closes_on,
       c.summary, c.report_published_at, c.organisation_id, o.name AS organisation,
       (SELECT count(*) FROM consultation_comments k WHERE k.consultation_id = c.id) AS received,
       (SELECT count(*) FROM consultation_comments k WHERE k.consultation_id = c.id
          AND k.state = 'published') AS published
FROM consultations c JOIN plans p ON p.id = c.plan_id
LEFT JOIN organisations o ON o.id = c.organisation_id
WHERE (CAST(:org AS integer) IS NULL OR c.organisation_id = :org)
ORDER BY c.closes_on DESC, c.id DESC""")


def listing(conn: Connection, today: dt.date | None = None,
            organisation_id: int | None = None) -> list[dict[str, Any]]:
    today = today or hanoi_date()
    rows = conn.execute(LIST_SQL, {"org": organisation_id}).mappings().all()
    return [{**r, "state": state_of(_Window(r), today),
             "state_vi": STATE_LABELS[state_of(_Window(r), today)]} for r in rows]


class _Window:
    def __init__(self, row: Any) -> None:
        self.opens_on, self.closes_on = row["opens_on"], row["closes_on"]


PUBLIC_COMMENTS_SQL = text("""
SELECT c.id, c.topic, c.zone_id, z.label AS zone_label, c.public_body, c.response_text,
       c.posted_on, c.responded_on, ST_X(c.geom) AS easting, ST_Y(c.geom) AS northing
FROM public_comments c LEFT JOIN land_use_zones z ON z.id = c.zone_id
WHERE c.consultation_id = :id
ORDER BY c.id LIMIT :limit OFFSET :offset""")


def public_comments(conn: Connection, consultation_id: int, limit: int = 500, offset: int = 0
                    ) -> list[dict[str, Any]]:
    rows = conn.execute(PUBLIC_COMMENTS_SQL, {"id": consultation_id, "limit": limit,
                                              "offset": offset}).mappings().all()
    return [{**r, "topic_vi": COMMENT_TOPICS[r["topic"]][0]} for r in rows]


COUNTS_SQL = text("""
SELECT count(*) AS received,
       count(*) FILTER (WHERE state = 'published') AS published,
       count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'rejected') AS rejected,
       count(*) FILTER (WHERE responded_at IS NOT NULL) AS responded
FROM consultation_comments WHERE consultation_id = :id""")
BY_TOPIC_SQL = text("""
SELECT topic, count(*) AS n FROM consultation_comments
WHERE consultation_id = :id AND state = 'published' GROUP BY topic ORDER BY n DESC, topic""")
BY_ZONE_SQL = text("""
SELECT c.zone_id, z.label, count(*) AS n FROM consultation_comments c
LEFT JOIN land_use_zones z ON z.id = c.zone_id
WHERE c.consultation_id = :id AND c.state = 'published'
GROUP BY c.zone_id, z.label ORDER BY n DESC, z.label NULLS LAST""")


def counts(conn: Connection, consultation_id: int) -> dict[str, Any]:
    """Totals, and the published comments by topic and by zone (None: the plan or a spot)."""
    totals = dict(conn.execute(COUNTS_SQL, {"id": consultation_id}).mappings().one())
    by_topic = [{"topic": r.topic, "topic_vi": COMMENT_TOPICS[r.topic][0], "count": r.n}
                for r in conn.execute(BY_TOPIC_SQL, {"id": consultation_id})]
    by_zone = [{"zone_id": r.zone_id, "label": r.label or "Toàn đồ án / vị trí chọn",
                "count": r.n} for r in conn.execute(BY_ZONE_SQL, {"id": consultation_id})]
    return {**totals, "by_topic": by_topic, "by_zone": by_zone}


def moderation_queue(conn: Connection, user: User) -> list[dict[str, Any]]:
    """Comments waiting for a moderator (new, or sent back by citizens' reports)."""
    rows = conn.execute(text("""
        SELECT k.id, k.consultation_id, k.topic, k.body, k.reports, k.created_at, p.name
        FROM consultation_comments k JOIN consultations c ON c.id = k.consultation_id
        JOIN plans p ON p.id = c.plan_id
        WHERE k.state = 'pending' AND (CAST(:org AS integer) IS NULL OR c.organisation_id = :org)
        ORDER BY k.id LIMIT 500"""),
        {"org": None if user.role == "admin" else user.organisation_id})
    return [{**r, "topic_vi": COMMENT_TOPICS[r["topic"]][0]} for r in rows.mappings()]


REPORT_FIELDS = ("id", "posted_on", "topic", "zone_label", "comment", "response",
                 "responded_on")


def report_rows(conn: Connection, consultation_id: int) -> list[dict[str, Any]]:
    return [{"id": r["id"], "posted_on": r["posted_on"], "topic": r["topic_vi"],
             "zone_label": r["zone_label"] or "", "comment": r["public_body"],
             "response": r["response_text"] or "", "responded_on": r["responded_on"] or ""}
            for r in public_comments(conn, consultation_id, limit=100_000)]


def report_csv(conn: Connection, consultation_id: int) -> str:
    """The summary as CSV (UTF-8 with BOM so that spreadsheet programs read the diacritics);
    a cell starting with = + - @ is quoted with a leading apostrophe (no formula injection)."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.DictWriter(out, fieldnames=REPORT_FIELDS)
    w.writeheader()
    for row in report_rows(conn, consultation_id):
        w.writerow({k: ("'" + str(v) if str(v)[:1] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()


def report_pdf(conn: Connection, settings: Settings, c: Consultation, plan_name: str) -> bytes:
    """The báo cáo tổng hợp, tiếp thu, giải trình as a PDF: counts, every published comment
    and the unit's response, and the unit's report text when published."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from planning_gis.citizen.info_sheet import _fonts

    regular, bold = _fonts(settings)
    base = ParagraphStyle("b", fontName=regular, fontSize=9, leading=12)
    h1 = ParagraphStyle("h1", parent=base, fontName=bold, fontSize=14, leading=18, alignment=1)
    h2 = ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11, leading=14, spaceBefore=6)

    def p(value: object, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(str(value if value is not None else "")).replace("\n", "<br/>"),
                         style)

    n = counts(conn, c.id)
    story: list[Any] = [
        p("BÁO CÁO TỔNG HỢP, TIẾP THU, GIẢI TRÌNH Ý KIẾN CỘNG ĐỒNG", h1),
        p(plan_name, ParagraphStyle("s", parent=base, alignment=1)), Spacer(1, 4 * mm),
        p(f"Thời gian lấy ý kiến: {date_vi(c.opens_on)} – {date_vi(c.closes_on)} "
          f"({window_days(c.opens_on, c.closes_on)} ngày). Số góp ý nhận được: {n['received']};"
          f" công khai: {n['published']}; đã phản hồi: {n['responded']}; không công khai: "
          f"{n['rejected']}."),
        p("Theo chủ đề", h2),
        Table([[p("Chủ đề"), p("Số góp ý")]] + [[p(t["topic_vi"]), p(t["count"])]
                                                for t in n["by_topic"]] or [[p("—"), p("0")]],
              colWidths=[120 * mm, 40 * mm]),
        p("Theo ô quy hoạch", h2),
        Table([[p("Ô quy hoạch"), p("Số góp ý")]] + [[p(z["label"]), p(z["count"])]
                                                    for z in n["by_zone"]],
              colWidths=[120 * mm, 40 * mm]),
        p("Góp ý và phản hồi", h2),
    ]
    rows = [[p("#"), p("Ngày"), p("Chủ đề / ô"), p("Góp ý"), p("Tiếp thu, giải trình")]]
    for r in report_rows(conn, c.id):
        rows.append([p(r["id"]), p(date_vi(r["posted_on"])),
                     p(f"{r['topic']} {r['zone_label']}"), p(r["comment"]), p(r["response"])])
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.3, "#999999"),
                       ("VALIGN", (0, 0), (-1, -1), "TOP")])
    table = Table(rows, colWidths=[10 * mm, 20 * mm, 32 * mm, 60 * mm, 58 * mm], repeatRows=1)
    table.setStyle(grid)
    story.append(table)
    if c.report_text:
        story += [p("Báo cáo của đơn vị", h2), p(c.report_text)]
    for item in story:
        if isinstance(item, Table) and item is not table:
            item.setStyle(grid)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                      topMargin=12 * mm, bottomMargin=12 * mm,
                      title="Báo cáo tổng hợp ý kiến cộng đồng").build(story)
    return out.getvalue()
