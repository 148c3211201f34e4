"""Workspace fixtures: demo accounts, a signed-in test client, a small simulated scan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from planning_gis.demo.accounts import DEMO_ADMIN, DEMO_PLANNER_PASSWORD, planner_email

CAU_GIAY = "UBND quận Cầu Giấy"
HOAI_DUC = "UBND huyện Hoài Đức"
E0, N0 = 586000.0, 2326000.0


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(client, email: str, password: str):
    page = client.get("/quan-tri/dang-nhap")
    token = csrf_from(page.get_data(as_text=True))
    resp = client.post("/quan-tri/dang-nhap",
                       data={"email": email, "password": password, "csrf_token": token})
    return resp


def token_of(client) -> str:
    return csrf_from(client.get("/quan-tri/dang-nhap").get_data(as_text=True))


@pytest.fixture
def planner_client(app):
    c = app.test_client()
    resp = sign_in(c, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    c.csrf = token_of(c)
    return c


@pytest.fixture
def admin_client(app):
    c = app.test_client()
    assert sign_in(c, *DEMO_ADMIN).status_code == 302
    c.csrf = token_of(c)
    return c


def browser_sign_in(page, live_server: str, email: str, password: str,
                    path: str = "/quan-tri/") -> None:
    """Sign in through the workspace's form in the browser (from ``path``), on to the plans."""
    page.goto(f"{live_server}{path}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#plans")


def browser_upload_scan(page, live_server: str, plan_id: int, title: str,
                        scan: str | Path) -> None:
    """Upload a scan with the plan page's form in the browser, on to its editor's first tile."""
    page.goto(f"{live_server}/quan-tri/do-an/{plan_id}")
    page.fill("#upload-form input[name=title]", title)
    page.set_input_files("#upload-form input[name=scan]", str(scan))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#scan-map .leaflet-tile-loaded")


def plan_of(settings, organisation: str) -> int:
    from planning_gis import db
    from planning_gis.models import Plan

    with db.session_scope(settings) as s:
        return s.scalars(select(Plan.id).where(Plan.organisation == organisation)
                         .order_by(Plan.id)).first()


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """A small synthetic scan of a piece of Cầu Giấy with its control points as a .points file."""
    from planning_gis.crs import VN2000_TM3_HANOI, parse_crs
    from planning_gis.georef import write_points
    from planning_gis.scan_simulator import demo_zones, simulate_scan

    folder = tmp_path_factory.mktemp("scan")
    bounds = (E0, N0, E0 + 500.0, N0 + 350.0)
    sim = simulate_scan(demo_zones(bounds, seed=3), bounds, folder / "to-ban-do.png",
                        dpi=100, scale_denominator=2000, seed=3)
    points = folder / "to-ban-do.points"
    write_points(sim.control_points, points, parse_crs(VN2000_TM3_HANOI))
    sim.points_path = points  # type: ignore[attr-defined]
    return sim


@pytest.fixture(scope="session")
def printed_grid(tmp_path_factory):
    """A sheet of Cầu Giấy whose grid is labelled in the margin ("X = 2 326 100"), as printed."""
    from planning_gis.scan_simulator import demo_zones, simulate_scan

    folder = tmp_path_factory.mktemp("printed")
    bounds = (E0 + 30.0, N0 + 30.0, E0 + 580.0, N0 + 430.0)
    return simulate_scan(demo_zones(bounds, seed=5), bounds, folder / "luoi-in.png", dpi=100,
                         scale_denominator=2000, seed=5, grid_step_m=100.0,
                         label_style="margin-xy")


def scan_bytes(sim) -> bytes:
    return Path(sim.path).read_bytes()


def publish_and_wait(client, api: str, settings, deadline_s: float = 300.0) -> dict:
    """POST the publish (202 + job URL), do the queued jobs in this process (the real worker code;
    a worker started with the live server may take the job first), return the finished job."""
    import time

    from planning_gis.workspace import jobs

    resp = client.post(api + "/cong-bo", headers={"X-CSRF-Token": client.csrf})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    url = resp.get_json()["url"]
    assert resp.headers["Location"] == url
    end = time.monotonic() + deadline_s
    while True:
        jobs.run_pending(settings)
        job = client.get(url).get_json()
        if job["state"] in ("done", "failed") or time.monotonic() > end:
            return job
        time.sleep(0.2)
