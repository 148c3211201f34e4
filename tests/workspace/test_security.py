"""Accounts: CSRF on every form, lock-out, roles, the upload limit, the audit log."""

import dataclasses
import io
import os

import pytest

from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
from tests.workspace.conftest import CAU_GIAY, HOAI_DUC, plan_of, sign_in, token_of

pytestmark = pytest.mark.db


def test_a_form_without_its_csrf_token_is_refused(planner_client, demo):
    plan_id = plan_of(demo, CAU_GIAY)
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                               data={"scan": (io.BytesIO(b"x" * 10), "a.png")},
                               content_type="multipart/form-data",
                               headers={"Accept": "application/json"})
    assert resp.status_code == 403
    assert resp.get_json()["code"] == "csrf_failed"
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/sua", data={"name": "x"},
                               headers={"Accept": "text/html"})
    assert resp.status_code == 403 and "CSRF" in resp.get_data(as_text=True)


@pytest.mark.parametrize("page,form", [
    ("/quan-tri/", "/quan-tri/do-an/moi"),  # workspace
    ("/quan-tri/hoi-dap", "/quan-tri/lay-y-kien"),  # the exchange's workspace
    ("/quan-tri/dang-nhap", "/quan-tri/dang-xuat"),  # accounts
])
def test_every_staff_blueprint_is_not_cached_and_checks_csrf(planner_client, page, form):
    """Each blueprint under /quan-tri: its pages are never cached, its forms need the token."""
    resp = planner_client.get(page)
    assert resp.status_code in (200, 302) and resp.headers["Cache-Control"] == "no-store"
    resp = planner_client.post(form, data={}, headers={"Accept": "application/json"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "csrf_failed"
    assert resp.headers["Cache-Control"] == "no-store"


def test_sign_in_form_needs_its_token_too(app):
    c = app.test_client()
    resp = c.post("/quan-tri/dang-nhap", data={"email": "a@b.c", "password": "x"})
    assert resp.status_code == 403


def test_lock_out_after_repeated_failures(app, demo):
    c = app.test_client()
    email = planner_email(HOAI_DUC)
    for _ in range(demo.login_max_failures):
        assert sign_in(c, email, "wrong-password-123").status_code == 401
    # Locked: even the right password is refused, with the answer every refusal gets (issue 12:
    # a distinct "locked" answer told a prober that the address has an account).
    resp = sign_in(c, email, DEMO_PLANNER_PASSWORD)
    assert resp.status_code == 401 and "tạm khóa" in resp.get_data(as_text=True)
    from sqlalchemy import text

    from planning_gis import db

    with db.session_scope(demo) as s:
        assert s.execute(text("SELECT locked_until > now() FROM users WHERE email=:e"),
                         {"e": email}).scalar_one()
    with db.session_scope(demo) as s:  # unlock for the other tests
        s.execute(text("UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE email=:e"),
                  {"e": email})


def test_planner_is_refused_another_districts_plan(planner_client, demo):
    other = plan_of(demo, HOAI_DUC)
    assert planner_client.get(f"/quan-tri/do-an/{other}").status_code == 403
    resp = planner_client.post(f"/quan-tri/do-an/{other}/sua", data={
        "csrf_token": planner_client.csrf, "name": "Đổi tên", "kind": "chi_tiet"},
        headers={"Accept": "application/json"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"


def test_anonymous_is_sent_to_sign_in_and_api_says_401(app):
    c = app.test_client()
    assert c.get("/quan-tri/").status_code == 302
    assert c.get("/quan-tri/api/to-ban-do/1").status_code == 401


def test_upload_over_the_limit_is_refused_and_leaves_no_file(demo, tmp_path):
    from server import create_app

    small = dataclasses.replace(demo, max_upload_bytes=50_000, data_dir=str(tmp_path))
    app = create_app(small)
    c = app.test_client()
    assert sign_in(c, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD).status_code == 302
    token = token_of(c)
    plan_id = plan_of(demo, CAU_GIAY)
    resp = c.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                  data={"csrf_token": token, "scan": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 80_000),
                                                      "big.png")},
                  content_type="multipart/form-data", headers={"Accept": "text/html"})
    assert resp.status_code == 413
    assert "quá" in resp.get_data(as_text=True)
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert left == []


def test_streaming_limit_itself_leaves_no_file(demo, tmp_path):
    from planning_gis.errors import TooLarge
    from planning_gis.workspace.uploads import store_scan

    small = dataclasses.replace(demo, max_upload_bytes=3 << 20, data_dir=str(tmp_path))
    with pytest.raises(TooLarge):
        store_scan(io.BytesIO(b"\x89PNG\r\n\x1a\n" + os.urandom(4 << 20)), "big.png", small)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_audit_log_is_for_admins(admin_client, planner_client):
    assert admin_client.get("/quan-tri/nhat-ky").status_code == 200
    assert "user.login" in admin_client.get("/quan-tri/nhat-ky").get_data(as_text=True)
    assert planner_client.get("/quan-tri/nhat-ky").status_code == 403
