"""Sign-in and the session: no open redirect, one answer for every refusal, and a signed-out
session stays out (a copied cookie is refused after sign-out, a password change and an admin's
"sign out everywhere")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.demo.accounts import DEMO_ADMIN
from planning_gis.settings import PROJECT_ROOT
from tests.workspace.conftest import csrf_from, sign_in, token_of

pytestmark = pytest.mark.db
PASSWORD = "mat-khau-dung-rat-dai"
COOKIE = "qh_session"


@pytest.fixture
def staff(demo):
    """A planner of their own, removed after the test (the tests change its password)."""
    from planning_gis.accounts.users import create_user

    email = f"phien-{uuid.uuid4().hex[:10]}@quan.vn"
    with db.session_scope(demo) as s:
        create_user(s, email, PASSWORD, "planner", "UBND quận Cầu Giấy")
    yield email
    with db.session_scope(demo) as s:
        s.execute(text("DELETE FROM users WHERE email = :e"), {"e": email})


def _cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _with_cookie(app, value: str):
    """A fresh client (another browser) that only has the copied cookie."""
    c = app.test_client()
    c.set_cookie(COOKIE, value)
    return c


def _works(app, cookie: str) -> bool:
    c = _with_cookie(app, cookie)
    page = c.get("/quan-tri/")
    api = c.get("/quan-tri/api/cong-viec/999999", headers={"Accept": "application/json"})
    if page.status_code == 200:
        assert api.status_code == 404  # signed in: the API answers about the job itself
        return True
    assert page.status_code == 302 and "/quan-tri/dang-nhap" in page.headers["Location"]
    assert api.status_code == 401 and api.get_json()["code"] == "unauthorized"
    return False


# --- open redirect -------------------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/path", "/\\evil.example", "/\t/evil.example/path", "/%09/evil.example/path",
    "https://evil.example", "http:evil.example", "javascript:alert(1)", "/%2F%2Fevil.example",
    "\\\\evil.example", " //evil.example", "\t//evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "///evil.example", "/%5Cevil.example", "//", "evil.example/x",
    "/\x00/evil.example", "%2F%2Fevil.example",
]
GOOD_NEXT = ["/quan-tri/", "/quan-tri/do-an/1?tab=2", "/quan-tri/nhat-ky", "/tai-lieu?q=a%20b"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_off_site(app, target):
    c = app.test_client()
    token = csrf_from(c.get("/quan-tri/dang-nhap").get_data(as_text=True))
    resp = c.post("/quan-tri/dang-nhap?" + urllib.parse.urlencode({"next": target}),
                  data={"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1], "csrf_token": token})
    if "\x00" in target:  # a NUL in the URL is refused before any view (web/limits.py)
        assert resp.status_code == 400 and "Location" not in resp.headers
        return
    assert resp.status_code == 302
    location = resp.headers["Location"]
    parts = urllib.parse.urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost"), location
    assert parts.path == "/quan-tri/", location
    # what a browser makes of it: still our own host
    resolved = urllib.parse.urljoin("http://localhost/quan-tri/dang-nhap", location)
    assert urllib.parse.urlsplit(resolved).netloc == "localhost", resolved


def test_raw_tab_next_is_not_an_open_redirect(app):
    """The issue's request, written as the attacker sends it (percent-encoded tab)."""
    c = app.test_client()
    token = csrf_from(c.get("/quan-tri/dang-nhap").get_data(as_text=True))
    resp = c.post("/quan-tri/dang-nhap?next=/%09/evil.example/path",
                  data={"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1], "csrf_token": token})
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]


@pytest.mark.parametrize("target", GOOD_NEXT)
def test_sign_in_returns_to_a_page_of_ours(app, target):
    c = app.test_client()
    token = csrf_from(c.get("/quan-tri/dang-nhap").get_data(as_text=True))
    resp = c.post("/quan-tri/dang-nhap?" + urllib.parse.urlencode({"next": target}),
                  data={"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1], "csrf_token": token})
    assert resp.status_code == 302
    assert urllib.parse.urlsplit(resp.headers["Location"]).path == target.split("?")[0]


# --- one answer for every refused sign-in --------------------------------------------------

def _refusal(app, email: str, password: str) -> tuple[int, str, float]:
    c = app.test_client()
    token = csrf_from(c.get("/quan-tri/dang-nhap").get_data(as_text=True))
    started = time.perf_counter()
    resp = c.post("/quan-tri/dang-nhap",
                  data={"email": email, "password": password, "csrf_token": token})
    took = time.perf_counter() - started
    body = resp.get_data(as_text=True).replace(email, "EMAIL")
    body = body.replace(csrf_from(body), "TOKEN")
    return resp.status_code, body, took


def test_unknown_wrong_and_locked_answer_alike(app, demo, staff):
    with db.session_scope(demo) as s:
        s.execute(text("UPDATE users SET locked_until = now() + interval '10 minutes'"
                       " WHERE email = :e"), {"e": staff})
    tries = {"wrong password": (DEMO_ADMIN[0], "not-the-password-1"),
             "unknown e-mail": ("khong-co-ai@quan.vn", "not-the-password-1"),
             "locked, right password": (staff, PASSWORD),
             "locked, wrong password": (staff, "not-the-password-1")}
    answers = {what: [_refusal(app, *args) for _ in range(3)] for what, args in tries.items()}
    with db.session_scope(demo) as s:  # the admin's failure counter back to 0 for other tests
        s.execute(text("UPDATE users SET failed_logins = 0 WHERE email = :e"), {"e": DEMO_ADMIN[0]})
    statuses = {a[0] for runs in answers.values() for a in runs}
    assert statuses == {401}, statuses
    bodies = {a[1] for runs in answers.values() for a in runs}
    assert len(bodies) == 1, "the refusals differ: " + ", ".join(answers)
    # roughly the same work: each refusal verifies one argon2 hash (tens of milliseconds)
    times = {what: sorted(a[2] for a in runs)[1] for what, runs in answers.items()}
    assert min(times.values()) > 0.3 * max(times.values()), times


def test_lock_still_refuses_the_right_password(app, demo, staff):
    for _ in range(demo.login_max_failures):
        assert sign_in(app.test_client(), staff, "wrong-password-123").status_code == 401
    with db.session_scope(demo) as s:
        locked_until = s.execute(text("SELECT locked_until FROM users WHERE email = :e"),
                                 {"e": staff}).scalar_one()
    assert locked_until is not None
    assert sign_in(app.test_client(), staff, PASSWORD).status_code == 401


# --- the session ends when it should -------------------------------------------------------

def test_copied_cookie_is_refused_after_sign_out(app, staff):
    c = app.test_client()
    assert sign_in(c, staff, PASSWORD).status_code == 302
    stolen = _cookie(c)
    assert _works(app, stolen)
    assert c.post("/quan-tri/dang-xuat", data={"csrf_token": token_of(c)}).status_code == 302
    assert not _works(app, stolen)


def test_copied_cookie_is_refused_after_a_password_change(app, demo, staff):
    from planning_gis.accounts.users import change_password
    from planning_gis.models import User

    c = app.test_client()
    assert sign_in(c, staff, PASSWORD).status_code == 302
    stolen = _cookie(c)
    assert _works(app, stolen)
    with db.session_scope(demo) as s:
        user = s.query(User).filter_by(email=staff).one()
        change_password(s, user, "mot-mat-khau-moi-dai")
    assert not _works(app, stolen)
    assert sign_in(app.test_client(), staff, "mot-mat-khau-moi-dai").status_code == 302


def test_admin_signs_a_user_out_everywhere(app, admin_client, staff):
    from planning_gis.models import User

    phone, laptop = app.test_client(), app.test_client()
    assert sign_in(phone, staff, PASSWORD).status_code == 302
    assert sign_in(laptop, staff, PASSWORD).status_code == 302
    cookies = [_cookie(phone), _cookie(laptop)]
    assert all(_works(app, k) for k in cookies)
    page = admin_client.get("/quan-tri/nguoi-dung")
    assert page.status_code == 200 and staff in page.get_data(as_text=True)
    with db.session_scope(app.config["SETTINGS"]) as s:
        uid = s.query(User.id).filter_by(email=staff).scalar()
    url = f"/quan-tri/nguoi-dung/{uid}/dang-xuat-moi-noi"
    assert admin_client.post(url).status_code == 403  # no CSRF token
    resp = admin_client.post(url, data={"csrf_token": admin_client.csrf})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert not any(_works(app, k) for k in cookies)
    assert _works(app, _cookie(admin_client))  # the admin's own session goes on
    assert admin_client.post("/quan-tri/nguoi-dung/999999/dang-xuat-moi-noi",
                             data={"csrf_token": admin_client.csrf}).status_code == 404
    planner = app.test_client()
    assert sign_in(planner, staff, PASSWORD).status_code == 302
    assert planner.post(url, data={"csrf_token": token_of(planner)}).status_code == 403


def _cli(demo, *args, stdin=""):
    env = dict(os.environ, PLANNING_DATABASE_URL=demo.database_url, PLANNING_DATA_DIR=demo.data_dir)
    return subprocess.run([sys.executable, "import_maps.py", "users", *args], input=stdin,
                          capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)


def test_command_line_password_change_and_sign_out_everywhere(app, demo, staff):
    c = app.test_client()
    assert sign_in(c, staff, PASSWORD).status_code == 302
    stolen = _cookie(c)
    r = _cli(demo, "signout-all", staff)
    assert r.returncode == 0 and "1" in r.stdout, r.stderr
    assert not _works(app, stolen)
    assert sign_in(c, staff, PASSWORD).status_code == 302
    stolen = _cookie(c)
    r = _cli(demo, "password", "--email", staff, stdin="mat-khau-cli-rat-dai\n")
    assert r.returncode == 0, r.stderr
    assert not _works(app, stolen)
    assert sign_in(app.test_client(), staff, "mat-khau-cli-rat-dai").status_code == 302
    bad = _cli(demo, "signout-all", "khong-co-ai@quan.vn")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")
    short = _cli(demo, "password", "--email", staff, stdin="ngan\n")
    assert short.returncode == 2 and "at least 10" in short.stderr


def test_sign_out_through_the_real_server(live_server, staff):
    """A real browser-like client on gunicorn: the cookie it held is dead after sign-out."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(live_server + "/quan-tri/dang-nhap", timeout=30).read().decode()
    data = urllib.parse.urlencode({"email": staff, "password": PASSWORD,
                                   "csrf_token": csrf_from(page)}).encode()
    opener.open(live_server + "/quan-tri/dang-nhap", data=data, timeout=30)
    cookie = next(k.value for k in jar if k.name == COOKIE)

    def with_copy() -> int:
        req = urllib.request.Request(live_server + "/quan-tri/api/cong-viec/999999",
                                     headers={"Cookie": f"{COOKIE}={cookie}",
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert with_copy() == 404  # signed in: the job is simply unknown
    home = opener.open(live_server + "/quan-tri/", timeout=30).read().decode()
    data = urllib.parse.urlencode({"csrf_token": csrf_from(home)}).encode()
    opener.open(live_server + "/quan-tri/dang-xuat", data=data, timeout=30)
    assert with_copy() == 401


def test_ended_sessions_are_pruned_at_the_next_sign_in(app, demo, staff):
    c = app.test_client()
    assert sign_in(c, staff, PASSWORD).status_code == 302
    assert c.post("/quan-tri/dang-xuat", data={"csrf_token": token_of(c)}).status_code == 302
    with db.session_scope(demo) as s:
        s.execute(text("UPDATE user_sessions SET revoked_at = now() - interval '2 days',"
                       " created_at = now() - interval '3 days'"
                       " WHERE user_id = (SELECT id FROM users WHERE email = :e)"), {"e": staff})
    assert sign_in(c, staff, PASSWORD).status_code == 302
    with db.session_scope(demo) as s:
        rows = s.execute(text("SELECT revoked_at IS NULL FROM user_sessions WHERE user_id ="
                              " (SELECT id FROM users WHERE email = :e)"), {"e": staff}).all()
    assert [r[0] for r in rows] == [True]  # only the new, live one is left
