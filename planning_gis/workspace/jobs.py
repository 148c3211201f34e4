"""Background jobs: publishing a sheet is queued by the request and done by a worker process.

A 20 000 px sheet takes minutes to warp, far longer than a web request may live (gunicorn kills
it after 30 s), and a thread inside a gunicorn worker dies with it. So the request only records a
``jobs`` row (state ``queued``) and answers 202 with the job's URL; the worker
(``import_maps.py jobs run``, started by ``run.sh demo`` next to gunicorn) claims rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (several workers never take the same job), marks them
``running``, and does the work. The publish and the job's ``done`` are committed in one
transaction; on failure that transaction rolls back (the new COG is deleted with it, the sheet is
unchanged) and the job is marked ``failed`` with a one-line message in English and Vietnamese.
While a job runs its ``progress`` and ``heartbeat_at`` are updated on a separate connection; a
``running`` job whose heartbeat is older than :data:`STALE_AFTER` (its worker died) is taken
again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from planning_gis import db
from planning_gis.accounts.users import require_plan_editor
from planning_gis.errors import NotFound, PlanningError
from planning_gis.models import Job, MapSheet, User
from planning_gis.settings import Settings
from planning_gis.workspace import sheets

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=15)
HEARTBEAT_SECONDS = 2.0
STATE_LABELS = {
    "queued": "Đang chờ xử lý",
    "running": "Đang xử lý",
    "done": "Đã xong",
    "failed": "Không thành công",
}
KIND_LABELS = {"publish": "Công bố tờ bản đồ"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def enqueue_publish(session: Session, user: User, sheet: MapSheet,
                    method: str = "auto") -> Job:
    """Queue a publish of ``sheet`` (checked at once: rights, points) or return the one already
    queued or running for it."""
    sheets.check_publishable(user, sheet)
    active = session.scalars(select(Job).where(Job.sheet_id == sheet.id, Job.kind == "publish",
                                               Job.state.in_(("queued", "running")))
                             .order_by(Job.id)).first()
    if active is not None:
        return active
    job = Job(kind="publish", sheet_id=sheet.id, user_id=user.id, params={"method": method},
              state="queued", progress=0.0, attempts=0)
    session.add(job)
    session.flush()
    from planning_gis.accounts import audit

    audit.record(session, user, "job.queue", "map_sheet", sheet.id,
                 {"job": job.id, "kind": "publish", "method": method})
    return job


def get_job(session: Session, job_id: int, user: User | None) -> Job:
    """The job, or NotFound; Forbidden when ``user`` may not edit its sheet's plan."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}", message_vi=f"Không có công việc số {job_id}.")
    sheet = session.get(MapSheet, job.sheet_id)
    require_plan_editor(user, sheet.plan)
    return job


def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "kind_vi": KIND_LABELS.get(job.kind, job.kind),
            "sheet_id": job.sheet_id, "state": job.state, "state_vi": STATE_LABELS[job.state],
            "progress": round(job.progress or 0.0, 3), "error": job.error,
            "error_vi": job.error_vi, "result": job.result,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


# --- the worker ---------------------------------------------------------------------------

def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(settings: Settings) -> int | None:
    """Take the oldest queued job (or a running one whose worker stopped beating), mark it
    running and commit; its id, or None when there is nothing to do."""
    now = _now()
    with db.session_scope(settings) as s:
        job = s.scalars(
            select(Job)
            .where(or_(Job.state == "queued",
                       (Job.state == "running") & (Job.heartbeat_at < now - STALE_AFTER)))
            .order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        ).first()
        if job is None:
            return None
        job.state, job.started_at, job.heartbeat_at = "running", now, now
        job.attempts += 1
        job.worker = _worker_name()
        job.progress = 0.0
        return job.id


class _Progress:
    """Writes the fraction done and the heartbeat, at most every few seconds, on a connection of
    its own (the job's work is still uncommitted)."""

    def __init__(self, settings: Settings, job_id: int):
        self.settings, self.job_id, self.last = settings, job_id, 0.0

    def __call__(self, fraction: float) -> None:
        if time.monotonic() - self.last < HEARTBEAT_SECONDS and fraction < 1.0:
            return
        self.last = time.monotonic()
        with db.get_engine(self.settings).begin() as conn:
            conn.execute(update(Job).where(Job.id == self.job_id, Job.state == "running")
                         .values(progress=min(max(fraction, 0.0), 0.99), heartbeat_at=_now()))


def run_job(settings: Settings, job_id: int) -> str:
    """Do one claimed job; its final state (``done`` or ``failed``)."""
    factory = sessionmaker(bind=db.get_engine(settings), expire_on_commit=False)
    session = factory()
    try:
        job = session.get(Job, job_id)
        sheet = session.get(MapSheet, job.sheet_id)
        user = session.get(User, job.user_id) if job.user_id else None
        if user is None:
            raise PlanningError("the user who asked for this job no longer exists",
                                message_vi="Người yêu cầu công việc này không còn tồn tại.")
        v = sheets.publish(session, user, sheet, settings, (job.params or {}).get("method",
                                                                                  "auto"),
                           progress=_Progress(settings, job_id))
        job.state, job.progress, job.finished_at = "done", 1.0, _now()
        job.result = {"version": v.version, "method": v.method, "rmse_m": v.rmse_m,
                      "loo_rmse_m": v.loo_rmse_m, "state": sheet.state,
                      "tiles": f"/tiles/sheets/{sheet.id}/{{z}}/{{x}}/{{y}}.png"}
        session.commit()
        return "done"
    except BaseException as exc:
        session.rollback()  # removes the COG written by this attempt; the sheet is unchanged
        if not isinstance(exc, Exception):  # the worker is stopping: give the job back
            with db.get_engine(settings).begin() as conn:
                conn.execute(update(Job).where(Job.id == job_id).values(
                    state="queued", progress=0.0, worker=None))
            raise
        if isinstance(exc, PlanningError):
            error, error_vi = str(exc), exc.message_vi
        else:
            log.error("job %s failed", job_id, exc_info=exc)
            error = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
            error_vi = "Lỗi hệ thống khi xử lý; hãy thử lại hoặc báo quản trị viên."
        with db.get_engine(settings).begin() as conn:
            conn.execute(update(Job).where(Job.id == job_id).values(
                state="failed", error=error, error_vi=error_vi, finished_at=_now()))
        return "failed"
    finally:
        session.close()


def run_pending(settings: Settings) -> int:
    """Do every queued job, one after the other; how many were done (or failed)."""
    n = 0
    while (job_id := claim(settings)) is not None:
        run_job(settings, job_id)
        n += 1
    return n


def run_worker(settings: Settings, poll_seconds: float = 1.0,
               stop: threading.Event | None = None) -> None:
    """Poll the jobs table until ``stop`` is set (or forever)."""
    stop = stop or threading.Event()
    log.info("job worker %s polling every %.1f s", _worker_name(), poll_seconds)
    while not stop.is_set():
        if run_pending(settings) == 0:
            stop.wait(poll_seconds)
