"""The jobs table: a job whose worker died (no heartbeat) is taken again; a live one is not."""

from __future__ import annotations

import datetime as dt

import pytest

from planning_gis import db
from planning_gis.models import Job, MapSheet, Plan
from planning_gis.workspace import jobs
from tests.workspace.conftest import CAU_GIAY, plan_of

pytestmark = pytest.mark.db


def test_a_stale_running_job_is_claimed_again(demo):
    now = dt.datetime.now(dt.UTC)
    with db.session_scope(demo) as s:
        plan = s.get(Plan, plan_of(demo, CAU_GIAY))
        sheet = MapSheet(plan_id=plan.id, title="stale", scan_sha256="1" * 64, scan_size=1,
                         width=10, height=10, state="uploaded")
        s.add(sheet)
        s.flush()
        live = Job(kind="publish", sheet_id=sheet.id, params={}, state="running", progress=0.5,
                   attempts=1, heartbeat_at=now)
        stale = Job(kind="publish", sheet_id=sheet.id, params={}, state="running",
                    progress=0.5, attempts=1, heartbeat_at=now - 2 * jobs.STALE_AFTER)
        s.add_all([live, stale])
        s.flush()
        sheet_id, live_id, stale_id = sheet.id, live.id, stale.id
    try:
        assert jobs.claim(demo) == stale_id
        assert jobs.claim(demo) is None  # the live one stays with its worker
        with db.session_scope(demo) as s:
            again = s.get(Job, stale_id)
            assert again.state == "running" and again.attempts == 2 and again.progress == 0.0
            assert s.get(Job, live_id).attempts == 1
    finally:
        with db.session_scope(demo) as s:
            s.delete(s.get(MapSheet, sheet_id))


def test_a_stale_job_that_killed_its_worker_too_often_fails_instead_of_looping(demo):
    """A scan that kills each worker that takes it (out of memory) must not be taken for ever:
    after MAX_ATTEMPTS starts a stale job is failed, with a message, and not claimed."""
    now = dt.datetime.now(dt.UTC)
    with db.session_scope(demo) as s:
        plan = s.get(Plan, plan_of(demo, CAU_GIAY))
        sheet = MapSheet(plan_id=plan.id, title="too big", scan_sha256="2" * 64, scan_size=1,
                         width=10, height=10, state="uploaded")
        s.add(sheet)
        s.flush()
        doomed = Job(kind="publish", sheet_id=sheet.id, params={}, state="running",
                     progress=0.3, attempts=jobs.MAX_ATTEMPTS, worker="elsewhere:1:1",
                     heartbeat_at=now - 2 * jobs.STALE_AFTER)
        s.add(doomed)
        s.flush()
        sheet_id, doomed_id = sheet.id, doomed.id
    try:
        assert jobs.claim(demo) is None
        with db.session_scope(demo) as s:
            job = s.get(Job, doomed_id)
            assert job.state == "failed" and job.finished_at is not None
            assert "stopped" in job.error and job.error_vi.startswith("Tiến trình")
    finally:
        with db.session_scope(demo) as s:
            s.delete(s.get(MapSheet, sheet_id))


def test_stale_limit_is_seconds_not_minutes():
    """A killed worker's job was stuck for 15 minutes; the heartbeat is now seconds apart and
    the stale limit a small multiple of it."""
    assert jobs.STALE_AFTER <= dt.timedelta(seconds=60)
    assert jobs.STALE_AFTER.total_seconds() >= 5 * jobs.HEARTBEAT_SECONDS
