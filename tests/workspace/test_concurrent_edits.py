"""Two planners editing control points of one sheet at the same moment (issue 12, item 8).

Each edit rewrites every point's residual, so two edits of different points used to take the
points' row locks in opposite orders and deadlock: the loser got a 503 and its edit was lost.
Here two clients (their own HTTP sessions and database connections) fire their edits at once,
round after round; every edit must be acknowledged and every acknowledged edit must be what the
database holds afterwards.
"""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.demo.accounts import DEMO_ADMIN, DEMO_PLANNER_PASSWORD, planner_email
from tests.workspace.conftest import CAU_GIAY, plan_of, sign_in, token_of

pytestmark = pytest.mark.db

ROUNDS = 12


def _signed_in(app, email: str, password: str):
    c = app.test_client()
    assert sign_in(c, email, password).status_code == 302
    c.csrf = token_of(c)
    return c


def _sheet_with_points(client, demo, simulated) -> tuple[int, list[dict]]:
    plan_id = plan_of(demo, CAU_GIAY)
    resp = client.post(f"/quan-tri/do-an/{plan_id}/to-ban-do",
                       data={"csrf_token": client.csrf, "title": "Tờ sửa đồng thời",
                             "scan": (io.BytesIO(simulated.path.read_bytes()), "to-ban-do.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    sheet_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    with open(simulated.points_path, "rb") as fh:
        resp = client.post(f"/quan-tri/api/to-ban-do/{sheet_id}/nhap-diem",
                           data={"file": (fh, "to-ban-do.points"), "replace": "1"},
                           headers={"X-CSRF-Token": client.csrf},
                           content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return sheet_id, resp.get_json()["points"]


def test_two_planners_editing_points_of_one_sheet_lose_nothing(app, demo, simulated):
    planner = _signed_in(app, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    admin = _signed_in(app, *DEMO_ADMIN)
    sheet_id, points = _sheet_with_points(planner, demo, simulated)
    first, last = points[0], points[-1]
    api = f"/quan-tri/api/to-ban-do/{sheet_id}/diem"

    statuses: list[tuple[str, int, str]] = []
    acknowledged: dict[int, float] = {}
    barrier = threading.Barrier(2)
    lock = threading.Lock()

    def edit(client, point: dict, who: str) -> None:
        for i in range(ROUNDS):
            x = point["pixel_x"] + 0.25 * (i + 1)
            barrier.wait(timeout=30)
            resp = client.patch(f"{api}/{point['id']}", json={"pixel_x": x},
                                headers={"X-CSRF-Token": client.csrf})
            with lock:
                statuses.append((who, resp.status_code, resp.get_data(as_text=True)[:200]))
                if resp.status_code == 200:
                    acknowledged[point["id"]] = x

    threads = [threading.Thread(target=edit, args=(planner, first, "planner")),
               threading.Thread(target=edit, args=(admin, last, "admin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    failures = [s for s in statuses if s[1] != 200]
    assert len(statuses) == 2 * ROUNDS
    assert not failures, failures
    with db.session_scope(demo) as s:
        stored = dict(s.execute(text("SELECT id, pixel_x FROM control_points WHERE sheet_id = :s"),
                                {"s": sheet_id}).all())
    for pid, x in acknowledged.items():
        assert stored[pid] == pytest.approx(x), (pid, stored[pid], x)
    # The residuals on the points are those of the final positions (the last writer's report).
    final = planner.get(f"/quan-tri/api/to-ban-do/{sheet_id}").get_json()
    assert all(p["residual_m"] is not None for p in final["points"] if p["enabled"])


def test_a_lock_that_cannot_be_had_is_a_409_that_says_so(app, demo, simulated, engine):
    """While another transaction holds the sheet, an edit waits for the lock timeout and then
    answers 409 with a Vietnamese message, and changes nothing."""
    planner = _signed_in(app, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD)
    sheet_id, points = _sheet_with_points(planner, demo, simulated)
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], edit_lock_timeout_ms=300)
    with engine.connect() as holder:
        tx = holder.begin()
        holder.execute(text("SELECT id FROM map_sheets WHERE id = :s FOR UPDATE"), {"s": sheet_id})
        resp = planner.patch(f"/quan-tri/api/to-ban-do/{sheet_id}/diem/{points[0]['id']}",
                             json={"pixel_x": points[0]["pixel_x"] + 5},
                             headers={"X-CSRF-Token": planner.csrf})
        tx.rollback()
    assert resp.status_code == 409, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == "edit_conflict" and body["detail_vi"]
    after = planner.get(f"/quan-tri/api/to-ban-do/{sheet_id}").get_json()
    assert after["points"][0]["pixel_x"] == pytest.approx(points[0]["pixel_x"])
