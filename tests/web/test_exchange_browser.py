"""The exchange walked in Debian's Chromium against the real gunicorn, job worker and PostGIS:
a citizen asks at a point of the map, gets a code, the responsible unit's planner answers in
the workspace, the citizen's private link shows the answer, the e-mails arrive through a real
SMTP server and the unit's public record counts the answer; a comment on a draft plan in its
window, and refused after it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import uuid

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from planning_gis.exchange import outbox
from tests.exchange.conftest import CAU_GIAY

pytestmark = [pytest.mark.db, pytest.mark.browser]


def _record(page, base: str, org: int) -> dict:
    return page.evaluate(f"fetch('{base}/api/units/record?organisation={org}')"
                         ".then(r => r.json())")["units"][0]["totals"]


def _sign_in(browser, base: str):
    from tests.conftest import open_watched_page

    staff = open_watched_page(browser, viewport={"width": 1280, "height": 800})
    staff.goto(f"{base}/quan-tri/dang-nhap")
    staff.fill("input[name=email]", planner_email(CAU_GIAY))
    staff.fill("input[name=password]", DEMO_PLANNER_PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(re.compile(r".*/quan-tri/?$"))
    return staff


def test_citizen_question_to_planner_answer(page, browser, live_server, demo, smtp,
                                            cau_giay, artifacts):
    port, inbox, _c = smtp
    org, lon, lat, _e, _n = cau_giay
    email = f"nguoidan-{uuid.uuid4().hex[:8]}@example.vn"
    page.goto(f"{live_server}/#z=17&c={lat:.6f},{lon:.6f}")
    page.wait_for_selector("#map[data-first-tile]", timeout=20000)
    before = _record(page, live_server, org)
    page.locator("#map").click()
    page.wait_for_selector("#panel[data-ready]", timeout=10000)
    page.click("#ask-question")
    page.wait_for_selector("#ask-form")
    assert page.inner_text("#answering-unit") == CAU_GIAY
    page.fill("#ask-form textarea[name=body]", "Nhà tôi ở đây có nằm trong chỉ giới đường đỏ "
                                                "không? <script>alert(1)</script>")
    page.fill("#ask-form input[name=email]", email)
    page.click("#ask-form button[type=submit]")
    page.wait_for_selector("#tracking-code")
    code = page.inner_text("#tracking-code")
    assert re.fullmatch(r"HD-[0-9A-Z]{8}", code)
    link = page.get_attribute("#private-link", "href")
    page.screenshot(path=str(artifacts / "exchange-question-received.png"))

    staff = _sign_in(browser, live_server)
    staff.goto(f"{live_server}/quan-tri/hoi-dap")
    row = staff.locator("#question-inbox tr", has_text=code)
    assert "2026" in row.inner_text() or "20" in row.inner_text()  # its due date is shown
    row.locator("a").click()
    staff.wait_for_selector("#answer-form")
    assert email in staff.inner_text("#asker-contact")
    staff.fill("#answer-form textarea[name=answer]",
               "Vị trí không nằm trong chỉ giới đường đỏ của tuyến Vành đai 2,5.")
    staff.check("#answer-form input[name=info_sheet]")
    staff.click("#answer-form button[type=submit]")
    staff.wait_for_selector("text=Đã trả lời ngày")
    staff.screenshot(path=str(artifacts / "exchange-planner-answered.png"))
    assert staff.console_errors == [] and staff.csp_violations == []
    staff.context.close()

    page.goto(f"{live_server}{link}")
    assert page.inner_text("#question-status") == "Đã trả lời"
    assert "Vành đai 2,5" in page.inner_text("#answer-body")
    assert "<script>" in page.inner_text(".q")  # shown as text, not run
    # the e-mails: queued with the events, sent by the worker's code through a real SMTP server
    settings = dataclasses.replace(demo, smtp_host="127.0.0.1", smtp_port=port)
    end = time.monotonic() + 20
    while len(inbox.to(email)) < 2 and time.monotonic() < end:
        outbox.send_due(settings)
        time.sleep(0.2)
    assert len(inbox.to(email)) == 2  # received, answered: once each
    after = _record(page, live_server, org)
    assert after["questions_answered"] == before["questions_answered"] + 1
    page.goto(f"{live_server}/cong-khai/don-vi")
    assert CAU_GIAY in page.inner_text("main")
    assert page.console_errors == [] and page.foreign_requests == []


def test_comment_on_a_draft_plan_in_its_window_then_refused(page, live_server, demo,
                                                            draft_plan):
    today = dt.date.today()
    with db.session_scope(demo) as s:
        cid = s.execute(text("SELECT id FROM consultations WHERE plan_id = :p"),
                        {"p": draft_plan}).scalar()
        if cid is None:
            cid = s.execute(text(
                "INSERT INTO consultations (plan_id, organisation_id, opens_on, closes_on)"
                " SELECT id, organisation_id, :o, :c FROM plans WHERE id = :p RETURNING id"),
                {"p": draft_plan, "o": today, "c": today + dt.timedelta(days=19)}).scalar()
        else:
            s.execute(text("UPDATE consultations SET opens_on = :o, closes_on = :c WHERE id ="
                           " :id"), {"o": today, "c": today + dt.timedelta(days=19), "id": cid})
    page.goto(f"{live_server}/lay-y-kien/{cid}")
    page.wait_for_selector("#consultation-map[data-ready]")
    assert page.inner_text("#consultation-state") == "Đang lấy ý kiến"
    page.locator("#consultation-map").click()  # a spot inside the draft plan
    assert "Vị trí góp ý" in page.inner_text("#comment-spot")
    page.select_option("#comment-form select[name=topic]", "cong_cong")
    page.fill("#comment-form textarea[name=body]", "Đề nghị giữ lại vườn hoa.")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector("text=sau khi được kiểm duyệt")
    with db.session_scope(demo) as s:
        n = s.execute(text("SELECT count(*) FROM consultation_comments WHERE consultation_id ="
                           " :c AND body = 'Đề nghị giữ lại vườn hoa.'"), {"c": cid}).scalar()
        assert n == 1
        s.execute(text("UPDATE consultations SET opens_on = opens_on - 40, closes_on = "
                       "closes_on - 40 WHERE id = :id"), {"id": cid})
    page.goto(f"{live_server}/lay-y-kien/{cid}")
    assert page.inner_text("#consultation-state") == "Đã kết thúc lấy ý kiến"
    assert page.locator("#comment-form").count() == 0
    assert page.console_errors == [] and page.foreign_requests == []


def test_information_request_answered_within_its_deadline(page, browser, live_server, demo,
                                                          cau_giay):
    from planning_gis.exchange.common import hanoi_date
    from planning_gis.exchange.working_days import add_working_days

    _org, _lon, _lat, e, n = cau_giay
    page.goto(f"{live_server}/thu-tuc/cung-cap-thong-tin")
    corners = "\n".join(f"{y:.2f} {x:.2f}".replace(".", ",") for x, y in
                        [(e, n), (e + 12, n), (e + 12, n + 20), (e, n + 20)])
    page.fill("#request-form textarea[name=corners]", corners)
    page.fill("#request-form input[name=name]", "Đỗ Minh Châu")
    page.fill("#request-form input[name=phone]", "0988 777 666")
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#tracking-code")
    code = page.inner_text("#tracking-code")
    due = add_working_days(hanoi_date(), 10)  # the day of receipt is Hanoi's
    assert page.inner_text("#due-on") == due.strftime("%d/%m/%Y")
    link = page.get_attribute("#private-link", "href")
    staff = _sign_in(browser, live_server)
    staff.goto(f"{live_server}/quan-tri/hoi-dap")
    staff.locator("#request-inbox tr", has_text=code).locator("a").click()
    staff.fill("#request-answer-form input[name=officer]", "Lê Văn Nam")
    staff.click("#request-answer-form button[type=submit]")
    staff.wait_for_selector("text=đúng hạn")
    assert staff.console_errors == [] and staff.csp_violations == []
    staff.context.close()
    page.goto(f"{live_server}{link}")
    assert page.inner_text("#request-status") == "Đã trả lời"
    assert "đúng hạn" in page.inner_text("main")
    pdf = page.evaluate("fetch(document.querySelector('#request-sheet').href)"
                        ".then(r => r.headers.get('content-type'))")
    assert pdf == "application/pdf"
    assert page.console_errors == [] and page.foreign_requests == []
