"""The exchange's pages and API: a question's whole path, consultations, information requests,
the public record, and every kind of bad input (empty, oversized, script, wrong code, closed
window, robot, too many posts), each answered in Vietnamese and leaving nothing half-written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from tests.exchange.conftest import CAU_GIAY
from tests.workspace.conftest import sign_in, token_of

pytestmark = pytest.mark.db


@pytest.fixture
def xapp(demo):
    """The app with limits high enough that this module's many posts are not rate limited."""
    from server import create_app

    s = dataclasses.replace(demo, citizen_posts_per_minute=10_000, citizen_posts_per_day=10_000)
    app = create_app(s)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def xclient(xapp):
    c = xapp.test_client()
    # its own address: the rate counters are shared by every server of the test database
    c.environ_base["REMOTE_ADDR"] = "10.200.0.1"
    return c


@pytest.fixture
def planner(xapp):
    c = xapp.test_client()
    assert sign_in(c, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD).status_code == 302
    c.csrf = token_of(c)
    return c


def _email() -> str:
    return f"nguoidan-{uuid.uuid4().hex[:8]}@example.vn"


def _question_id(demo, code: str) -> int:
    with db.session_scope(demo) as s:
        return s.execute(text("SELECT id FROM questions WHERE code = :c"), {"c": code}).scalar()


def _count(demo, table: str) -> int:
    with db.session_scope(demo) as s:
        return s.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_question_path_api(xclient, planner, demo, cau_giay):
    org, lon, lat, _e, _n = cau_giay
    email = _email()
    body = ("Nhà tôi ở ngõ 12 có bị ảnh hưởng bởi quy hoạch không? Gọi tôi: 0912 345 678, "
            f"hoặc {email}. Tôi là Nguyễn Văn Bình.")
    resp = xclient.post("/api/questions", json={"body": body, "name": "Nguyễn Văn Bình",
                                                "email": email, "lon": lon, "lat": lat})
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    assert re.fullmatch(r"HD-[0-9A-Z]{8}", doc["code"])
    assert doc["organisation"] == CAU_GIAY and doc["routed_by"] == "plan"
    key = doc["track_url"].split("k=")[1]
    track = xclient.get(f"/api/questions/track/{doc['code']}?k={key}").get_json()
    assert track["status"] == "received" and track["answer"] is None
    # the unit's inbox lists it with its due date
    inbox = planner.get("/quan-tri/hoi-dap").get_data(as_text=True)
    assert doc["code"] in inbox
    qid = _question_id(demo, doc["code"])
    page = planner.get(f"/quan-tri/hoi-dap/{qid}").get_data(as_text=True)
    assert email in page  # the unit sees the contact
    resp = planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={
        "csrf_token": planner.csrf, "answer": "Thửa đất không nằm trong chỉ giới đường đỏ.",
        "info_sheet": "1"})
    assert resp.status_code == 303
    track = xclient.get(f"/api/questions/track/{doc['code']}?k={key}").get_json()
    assert track["status"] == "answered" and "chỉ giới" in track["answer"]
    public = xclient.get(f"/api/questions/{qid}").get_json()
    assert "0912" not in public["public_body"] and email not in public["public_body"]
    assert "Nguyễn Văn Bình" not in public["public_body"]
    html = xclient.get(f"/hoi-dap/{qid}").get_data(as_text=True)
    assert "Thửa đất không nằm" in html and email not in html and "0912 345 678" not in html
    assert "info-sheet.pdf" in html
    # contact data is in no public answer: list, item, OGC layer, record
    for url in ("/api/questions", "/hoi-dap", f"/ogc/collections/questions/items?code={doc['code']}",
                "/api/units/record", "/cong-khai/don-vi"):
        r = xclient.get(url)
        assert r.status_code == 200, url
        assert email not in r.get_data(as_text=True), url
    feats = xclient.get(f"/ogc/collections/questions/items?code={doc['code']}").get_json()
    assert feats["features"][0]["properties"]["organisation"] == CAU_GIAY


def test_private_question_is_not_published(xclient, planner, demo, cau_giay):
    _org, lon, lat, _e, _n = cau_giay
    doc = xclient.post("/api/questions", json={"body": "Đất của gia đình tôi, thửa số 45.",
                                               "phone": "0987654321", "lon": lon,
                                               "lat": lat}).get_json()
    qid = _question_id(demo, doc["code"])
    planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={
        "csrf_token": planner.csrf, "answer": "Trả lời riêng.", "private": "1"})
    assert xclient.get(f"/api/questions/{qid}").status_code == 404
    key = doc["track_url"].split("k=")[1]
    assert xclient.get(f"/api/questions/track/{doc['code']}?k={key}").get_json()["private"]


def test_reroute_with_note_and_reports_hide(xclient, xapp, planner, demo, cau_giay):
    _org, lon, lat, _e, _n = cau_giay
    doc = xclient.post("/api/questions", json={"body": "Câu hỏi về cống thoát nước.",
                                               "email": _email(), "lon": lon,
                                               "lat": lat}).get_json()
    qid = _question_id(demo, doc["code"])
    with db.session_scope(demo) as s:
        other = s.execute(text("SELECT id FROM organisations WHERE name = 'Sở Quy hoạch – Kiến "
                               "trúc'")).scalar()
    resp = planner.post(f"/quan-tri/hoi-dap/{qid}/chuyen", data={
        "csrf_token": planner.csrf, "organisation_id": str(other),
        "note": "Thuộc quy hoạch phân khu của Sở"})
    assert resp.status_code == 303
    # now another unit's: this planner may not answer it any more
    resp = planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={
        "csrf_token": planner.csrf, "answer": "x"})
    assert resp.status_code == 403
    key = doc["track_url"].split("k=")[1]
    track = xclient.get(f"/api/questions/track/{doc['code']}?k={key}").get_json()
    assert track["rerouted"][0]["note"] == "Thuộc quy hoạch phân khu của Sở"
    assert track["organisation"] == "Sở Quy hoạch – Kiến trúc"


@pytest.mark.parametrize("body,status,code", [
    ({"body": "   ", "email": "a@b.vn"}, 400, "invalid_input"),
    ({"body": "x" * 4001, "email": "a@b.vn"}, 413, "too_large"),
    ({"body": "Câu hỏi", "email": "khong-phai-email"}, 400, "invalid_input"),
    ({"body": "Câu hỏi"}, 400, "invalid_input"),
    ({"body": "Câu hỏi", "email": "a@b.vn", "website": "http://spam"}, 400, "spam_suspected"),
    ({"body": "Câu hỏi", "email": "a@b.vn", "lon": 2.35, "lat": 48.85}, 400, "outside_hanoi"),
    ({"body": "Câu hỏi", "email": "a@b.vn", "plan_id": 999999}, 404, "not_found"),
    ({"body": "Câu hỏi", "email": "a@b.vn", "lon": 105.8, "lat": 21.0, "extra": 1}, 400,
     "unknown_parameter"),
])
def test_bad_questions_are_refused_and_nothing_is_written(xclient, demo, cau_giay, body,
                                                          status, code):
    _org, lon, lat, _e, _n = cau_giay
    body = {"lon": lon, "lat": lat, **body} if "plan_id" not in body else body
    before = _count(demo, "questions"), _count(demo, "outbox")
    resp = xclient.post("/api/questions", json=body)
    assert resp.status_code == status, resp.get_json()
    doc = resp.get_json()
    assert doc["code"] == code and doc["detail_vi"]
    assert (_count(demo, "questions"), _count(demo, "outbox")) == before


def test_script_is_shown_as_text(xclient, planner, demo, cau_giay):
    _org, lon, lat, _e, _n = cau_giay
    doc = xclient.post("/api/questions", json={
        "body": '<script>alert("x")</script><img src=x onerror=alert(1)>', "email": _email(),
        "lon": lon, "lat": lat}).get_json()
    qid = _question_id(demo, doc["code"])
    planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={
        "csrf_token": planner.csrf, "answer": "<b>đậm</b>"})
    html = xclient.get(f"/hoi-dap/{qid}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>đậm" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;đậm" in html
    inbox = planner.get(f"/quan-tri/hoi-dap/{qid}").get_data(as_text=True)
    assert "<script>alert" not in inbox


def test_report_page_counts_a_published_answer(xclient, planner, demo, cau_giay):
    """The "Báo cáo vi phạm" form under a published answer: a thank-you notice, one report."""
    _org, lon, lat, _e, _n = cau_giay
    doc = xclient.post("/api/questions", json={"body": "Câu hỏi để báo cáo.", "email": _email(),
                                               "lon": lon, "lat": lat}).get_json()
    qid = _question_id(demo, doc["code"])
    planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={
        "csrf_token": planner.csrf, "answer": "Trả lời công khai."})
    resp = xclient.post(f"/hoi-dap/{qid}/bao-cao", data={"website": ""})
    assert resp.status_code == 202
    assert "Báo cáo đã được ghi nhận" in resp.get_data(as_text=True)
    with db.session_scope(demo) as s:
        assert s.execute(text("SELECT reports FROM questions WHERE id = :i"),
                         {"i": qid}).scalar() == 1


@pytest.mark.parametrize("url,missing", [
    ("/hoi-dap/{}/bao-cao", "Không tìm thấy câu hỏi đã công bố."),
    ("/lay-y-kien/gop-y/{}/bao-cao", "Không tìm thấy góp ý đã công bố."),
])
def test_report_pages_refuse_in_vietnamese(xclient, url, missing):
    """A report of nothing published, of a mangled id, or by a robot: the notice page with the
    reason and its status."""
    resp = xclient.post(url.format(999999), data={})
    assert resp.status_code == 404 and missing in resp.get_data(as_text=True)
    resp = xclient.post(url.format("12a"), data={})
    assert resp.status_code == 404 and "Không có" in resp.get_data(as_text=True)
    resp = xclient.post(url.format(999999), data={"website": "http://spam"})
    assert resp.status_code == 400 and "máy tự động" in resp.get_data(as_text=True)


def test_wrong_code_or_key_is_a_vietnamese_404(xclient):
    for url in ("/api/questions/track/HD-ZZZZZZZZ?k=abc", "/api/questions/track/nonsense?k=",
                "/api/info-requests/track/TT-00000000?k=x"):
        resp = xclient.get(url)
        assert resp.status_code == 404 and "không đúng" in resp.get_json()["detail_vi"]
    page = xclient.get("/hoi-dap/theo-doi/HD-ZZZZZZZZ?k=abc", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Mã theo dõi" in page.get_data(as_text=True)


def test_page_form_keeps_what_was_typed_on_error(xclient, cau_giay):
    _org, lon, lat, _e, _n = cau_giay
    resp = xclient.post("/hoi-dap/hoi", data={"body": "Câu hỏi của tôi về ô đất", "lon": lon,
                                              "lat": lat, "email": "sai"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Địa chỉ e-mail không hợp lệ" in html and "Câu hỏi của tôi về ô đất" in html
    resp = xclient.post("/hoi-dap/hoi", data={"body": "Câu hỏi hợp lệ", "lon": lon, "lat": lat,
                                              "phone": "0912345678"})
    assert resp.status_code == 201
    html = resp.get_data(as_text=True)
    assert "Mã theo dõi" in html and CAU_GIAY in html
    link = re.search(r'id="private-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Đang chờ trả lời" in xclient.get(link).get_data(as_text=True)


def test_rate_limit_is_shared_and_answered_429(demo, cau_giay):
    from server import create_app

    _org, lon, lat, _e, _n = cau_giay
    s = dataclasses.replace(demo, citizen_posts_per_minute=2)
    # two apps: two workers; the limit is counted in the database they share
    a, b = create_app(s).test_client(), create_app(s).test_client()
    env = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.7.9"}
    body = {"body": "Câu hỏi", "email": "a@b.vn", "lon": lon, "lat": lat}
    before = _count(demo, "questions")
    assert a.post("/api/questions", json=body, environ_base=env).status_code == 201
    assert b.post("/api/questions", json=body, environ_base=env).status_code == 201
    resp = a.post("/api/questions", json=body, environ_base=env)
    if dt.datetime.now().second == 59:  # the minute may have turned between the posts
        pytest.skip("window boundary")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "quá nhiều" in resp.get_json()["detail_vi"]
    assert _count(demo, "questions") == before + 2
    # a page post gets the Vietnamese page
    page = b.post("/hoi-dap/hoi", data=body, environ_base=env, headers={"Accept": "text/html"})
    assert page.status_code == 429 and "quá nhiều" in page.get_data(as_text=True)


def test_oversized_body_is_413_before_reading(xclient):
    resp = xclient.post("/api/questions", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                        content_type="application/json")
    assert resp.status_code == 413


def test_consultation_comment_in_window_then_refused_after(xclient, planner, demo,
                                                           new_draft_plan, cau_giay):
    draft_plan = new_draft_plan
    today = dt.date.today()
    resp = planner.post("/quan-tri/lay-y-kien", data={
        "csrf_token": planner.csrf, "plan_id": str(draft_plan),
        "opens_on": today.isoformat(), "closes_on": (today + dt.timedelta(days=18)).isoformat()})
    assert resp.status_code == 400  # 19 days: below the law's 20
    resp = planner.post("/quan-tri/lay-y-kien", data={
        "csrf_token": planner.csrf, "plan_id": str(draft_plan),
        "opens_on": today.isoformat(), "closes_on": (today + dt.timedelta(days=19)).isoformat()})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    cid = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with db.session_scope(demo) as s:
        zone = s.execute(text("SELECT id FROM land_use_zones WHERE plan_id = :p AND label = "
                              "'DT-1'"), {"p": draft_plan}).scalar()
    r = xclient.post(f"/api/consultations/{cid}/comments", json={
        "body": "Đề nghị giữ cây xanh ở ô DT-1. Liên hệ 0903 111 222.", "topic": "cong_cong",
        "zone_id": zone, "email": _email()})
    assert r.status_code == 201 and r.get_json()["state"] == "pending"
    comment_id = r.get_json()["id"]
    r = xclient.post(f"/api/consultations/{cid}/comments", json={"body": "x", "topic": "bay"})
    assert r.status_code == 400
    doc = xclient.get(f"/api/consultations/{cid}").get_json()
    assert doc["state"] == "open" and doc["comments"] == [] and doc["counts"]["received"] >= 1
    planner.post(f"/quan-tri/gop-y/{comment_id}/duyet", data={"csrf_token": planner.csrf})
    planner.post(f"/quan-tri/gop-y/{comment_id}/phan-hoi", data={
        "csrf_token": planner.csrf, "response": "Tiếp thu: giữ ô cây xanh DT-1."})
    resp = xclient.post(f"/lay-y-kien/gop-y/{comment_id}/bao-cao", data={})
    assert resp.status_code == 202
    assert "Báo cáo đã được ghi nhận" in resp.get_data(as_text=True)
    doc = xclient.get(f"/api/consultations/{cid}").get_json()
    (k,) = [k for k in doc["comments"] if k["id"] == comment_id]
    assert "0903" not in k["public_body"] and k["response_text"].startswith("Tiếp thu")
    assert {"label": "DT-1", "zone_id": zone, "count": 1} in doc["counts"]["by_zone"]
    assert doc["counts"]["by_topic"][0]["topic"] == "cong_cong"
    csv_text = xclient.get(f"/lay-y-kien/{cid}/bao-cao.csv").get_data(as_text=True)
    assert "Tiếp thu: giữ ô cây xanh" in csv_text and "0903" not in csv_text
    pdf = xclient.get(f"/lay-y-kien/{cid}/bao-cao.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    feats = xclient.get(f"/ogc/collections/consultation_comments/items?plan_id={draft_plan}")
    assert feats.get_json()["features"][0]["properties"]["zone_id"] == zone
    page = xclient.get(f"/lay-y-kien/{cid}").get_data(as_text=True)
    assert "Đang lấy ý kiến" in page and "Tiếp thu: giữ ô cây xanh" in page
    # the window closes: the same comment is refused with a Vietnamese message, nothing written
    with db.session_scope(demo) as s:
        s.execute(text("UPDATE consultations SET opens_on = opens_on - 40, closes_on ="
                       " closes_on - 40 WHERE id = :id"), {"id": cid})
    before = _count(demo, "consultation_comments")
    r = xclient.post(f"/api/consultations/{cid}/comments", json={"body": "Muộn", "topic": "khac"})
    assert r.status_code == 409 and "đã kết thúc" in r.get_json()["detail_vi"]
    page = xclient.post(f"/lay-y-kien/{cid}/gop-y", data={"body": "Muộn", "topic": "khac"})
    assert page.status_code == 409 and "đã kết thúc" in page.get_data(as_text=True)
    assert _count(demo, "consultation_comments") == before
    resp = planner.post(f"/quan-tri/lay-y-kien/{cid}/bao-cao", data={
        "csrf_token": planner.csrf, "report": "Báo cáo tổng hợp: 1 góp ý, đã tiếp thu."})
    assert resp.status_code == 303
    assert xclient.get(f"/api/consultations/{cid}").get_json()["report_published"]


def test_information_request_with_corners_answered_in_time(xclient, planner, demo,
                                                           cau_giay):
    _org, _lon, _lat, e, n = cau_giay
    corners = "\n".join(f"{i + 1}  {y:.2f}  {x:.2f}".replace(".", ",")
                        for i, (x, y) in enumerate([(e, n), (e + 20, n), (e + 20, n + 15),
                                                    (e, n + 15)]))
    resp = xclient.post("/api/info-requests", json={"corners": corners, "name": "Trần Thị Hoa",
                                                    "email": _email(), "purpose": "Xây nhà"})
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    from planning_gis.exchange.working_days import add_working_days

    received = dt.date.fromisoformat(doc["received_on"])
    assert doc["due_on"] == add_working_days(received, 10).isoformat()
    assert doc["status"] == "received" and abs(doc["area_m2"] - 300) < 1
    assert doc["organisation"] == CAU_GIAY
    key = doc["track_url"].split("k=")[1]
    with db.session_scope(demo) as s:
        rid = s.execute(text("SELECT id FROM info_requests WHERE code = :c"),
                        {"c": doc["code"]}).scalar()
    assert planner.post(f"/quan-tri/thu-tuc/{rid}/tra-loi", data={
        "csrf_token": planner.csrf}).status_code == 400  # no officer named
    planner.post(f"/quan-tri/thu-tuc/{rid}/bat-dau", data={"csrf_token": planner.csrf})
    planner.post(f"/quan-tri/thu-tuc/{rid}/tra-loi", data={
        "csrf_token": planner.csrf, "officer": "Lê Văn Nam", "note": "Phiếu kèm theo."})
    track = xclient.get(f"/api/info-requests/track/{doc['code']}?k={key}").get_json()
    assert track["status"] == "answered" and track["on_time"] and track["officer"] == "Lê Văn Nam"
    pdf = xclient.get(f"/thu-tuc/theo-doi/{doc['code']}/phieu.pdf?k={key}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


@pytest.mark.parametrize("corners,msg", [
    ("2326100 586200\n2326110 586200", "ít nhất 3 đỉnh"),
    ("586200 2326100\n586220 2326100\n586220 2326120", "Y"),
    ("abc def\n1 2\n3 4", "phải là một số"),
])
def test_bad_corners(xclient, corners, msg):
    resp = xclient.post("/api/info-requests", json={"corners": corners, "name": "A",
                                                    "email": "a@b.vn"})
    assert resp.status_code == 400 and msg in resp.get_json()["detail_vi"], resp.get_json()


def test_record_counts_answers(xclient, planner, demo, cau_giay):
    org, lon, lat, _e, _n = cau_giay

    def mine() -> dict:
        doc = xclient.get(f"/api/units/record?organisation={org}").get_json()
        return doc["units"][0]["totals"]

    before = mine()
    doc = xclient.post("/api/questions", json={"body": "Hỏi để đếm", "email": _email(),
                                               "lon": lon, "lat": lat}).get_json()
    assert mine()["questions_received"] == before["questions_received"] + 1
    qid = _question_id(demo, doc["code"])
    planner.post(f"/quan-tri/hoi-dap/{qid}/tra-loi", data={"csrf_token": planner.csrf,
                                                         "answer": "Đã trả lời."})
    after = mine()
    assert after["questions_answered"] == before["questions_answered"] + 1
    assert after["questions_on_time"] == before["questions_on_time"] + 1
    page = xclient.get("/cong-khai/don-vi").get_data(as_text=True)
    assert CAU_GIAY in page and re.search(r'id="city-headline">\d+ / \d+<', page)
    assert xclient.get("/api/units/record?months=0").status_code == 400
