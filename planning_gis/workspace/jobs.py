"""Background jobs: publishing a sheet is queued by the request and done by a worker process.

A 20 000 px sheet takes minutes to warp, far longer than a web request may live (gunicorn kills
it after 30 s), and a thread inside a gunicorn worker dies with it. So the request only records a
``jobs`` row (state ``queued``) and answers 202 with the job's URL; the worker
(``import_maps.py jobs run``, started by ``run.sh demo`` next to gunicorn) claims rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (several workers never take the same job), marks them
``running``, and does the work. The publish and the job's ``done`` are committed in one
transaction; on failure that transaction rolls back (the new COG is deleted with it, the sheet is
unchanged) and the job is marked ``failed`` with a one-line message in English and Vietnamese.
While a job runs, a heartbeat thread writes its ``progress`` and ``heartbeat_at`` every
:data:`HEARTBEAT_SECONDS` on a separate connection; a ``running`` job whose heartbeat is older
than :data:`STALE_AFTER` (its worker died) is taken again.

Why the worker also recovers at once what it can prove dead: after a ``kill -9`` mid-publish the
job stayed ``running`` (and new publish requests got the stuck job back) until the heartbeat
expired, and the half-written COG stayed on disk. Each job records its worker as
``host:pid:thread``; a worker starting (or reconnecting after a database outage) requeues the
jobs of this host whose process no longer exists (failing them after :data:`MAX_ATTEMPTS`, so a
scan that kills its worker, e.g. out of memory, cannot loop), then removes the orphan files of
publishes that no live job owns. A database outage (PostgreSQL restarting) does not end the
worker: it gives the job back, waits with a bounded backoff and reconnects.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from planning_gis import db
from planning_gis.accounts.users import require_plan_editor
from planning_gis.errors import NotFound, PlanningError
from planning_gis.exchange import outbox
from planning_gis.messages import engine_error_vi, is_engine_error
from planning_gis.models import Job, MapSheet, SheetVersion, User
from planning_gis.settings import Settings
from planning_gis.workspace import sheets
from tiles.catalogue import sheet_tiles
from tiles.web_cog import web_cog_path

log = logging.getLogger(__name__)

#: How often a running job's heartbeat (and progress) is written.
HEARTBEAT_SECONDS = 2.0
#: A running job whose heartbeat is older than this is taken again (its worker died, perhaps on
#: another machine); 15 heartbeats, so a slow database moment does not hand a live job over.
STALE_AFTER = dt.timedelta(seconds=30)
#: Times a job may be started; after that a worker death while doing it fails the job.
MAX_ATTEMPTS = 3
#: Reconnection backoff after a database error: first wait, doubled each time, up to the last.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0
#: How often a worker also looks for dead workers' jobs and orphan files while it polls.
SWEEP_SECONDS = 300.0
#: Temporary files of web requests (uploads, rotations, warp previews) have no job row: older
#: than this, no request can still be writing them.
WEB_TEMP_MAX_AGE_SECONDS = 3600.0
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


def is_database_outage(exc: BaseException) -> bool:
    """True for the errors of a database that is down or restarting (not of a bad job)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError,
                            psycopg.OperationalError, psycopg.InterfaceError))


def _fail_given_up(job: Job) -> None:
    """A job whose worker died :data:`MAX_ATTEMPTS` times: failed, with the likely reason."""
    job.state, job.finished_at, job.worker = "failed", _now(), None
    job.error = (f"the worker stopped {job.attempts} times while doing this job "
                 "(out of memory?); publish again or ask an administrator")
    job.error_vi = (f"Tiến trình xử lý đã dừng {job.attempts} lần khi làm việc này "
                    "(có thể do thiếu bộ nhớ); hãy công bố lại hoặc báo quản trị viên.")
    log.warning("job %s failed: its worker died %d times", job.id, job.attempts)


def claim(settings: Settings) -> int | None:
    """Take the oldest queued job (or a running one whose worker stopped beating), mark it
    running and commit; its id, or None when there is nothing to do. A stale job that has
    already had :data:`MAX_ATTEMPTS` starts is failed instead of started again."""
    now = _now()
    with db.session_scope(settings) as s:
        while True:
            job = s.scalars(
                select(Job)
                .where(or_(Job.state == "queued",
                           (Job.state == "running") & (Job.heartbeat_at < now - STALE_AFTER)))
                .order_by(Job.id).limit(1).with_for_update(skip_locked=True)
            ).first()
            if job is None:
                return None
            if job.state == "running" and job.attempts >= MAX_ATTEMPTS:
                _fail_given_up(job)
                s.flush()
                continue
            break
        job.state, job.started_at, job.heartbeat_at = "running", now, now
        job.attempts += 1
        job.worker = _worker_name()
        job.progress = 0.0
        return job.id


class _Progress:
    """Keeps the fraction done, and writes it with the heartbeat every
    :data:`HEARTBEAT_SECONDS` from a thread of its own, on a connection of its own (the job's
    work is still uncommitted).

    Why a thread and not the progress callback: a long step (compressing the COG) calls no
    callback for minutes, and a job whose heartbeat stops is taken by another worker. A failed
    write (the database restarting) is logged and tried again at the next beat.
    """

    def __init__(self, settings: Settings, job_id: int):
        self.settings, self.job_id, self.fraction = settings, job_id, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat",
                                        daemon=True)

    def __call__(self, fraction: float) -> None:
        self.fraction = min(max(fraction, 0.0), 0.99)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=4 * HEARTBEAT_SECONDS)  # a beat stuck on a dead network

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with db.get_engine(self.settings).begin() as conn:
                    conn.execute(update(Job).where(Job.id == self.job_id,
                                                   Job.state == "running")
                                 .values(progress=self.fraction, heartbeat_at=_now()))
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("job %s: heartbeat not written: %s", self.job_id,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _give_back(settings: Settings, job_id: int) -> None:
    """Queue a job again for the next worker (this one is stopping or lost the database)."""
    with db.get_engine(settings).begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id, Job.state == "running").values(
            state="queued", progress=0.0, worker=None))


def run_job(settings: Settings, job_id: int) -> str:
    """Do one claimed job; its final state (``done`` or ``failed``).

    A database outage during the job is not the job's fault: the job is given back (or, when
    the database cannot even take that, left for :func:`recover_dead_jobs`) and the error is
    raised for the worker loop to wait and reconnect.
    """
    factory = sessionmaker(bind=db.get_engine(settings), expire_on_commit=False)
    session = factory()
    try:
        job = session.get(Job, job_id)
        sheet = session.get(MapSheet, job.sheet_id)
        user = session.get(User, job.user_id) if job.user_id else None
        if user is None:
            raise PlanningError("the user who asked for this job no longer exists",
                                message_vi="Người yêu cầu công việc này không còn tồn tại.")
        with _Progress(settings, job_id) as progress:
            v = sheets.publish(session, user, sheet, settings,
                               (job.params or {}).get("method", "auto"), progress=progress)
        job.state, job.progress, job.finished_at = "done", 1.0, _now()
        job.result = {"version": v.version, "method": v.method, "rmse_m": v.rmse_m,
                      "loo_rmse_m": v.loo_rmse_m, "state": sheet.state,
                      "tiles": sheet_tiles(sheet.id)}
        session.commit()
        return "done"
    except BaseException as exc:
        try:
            session.rollback()  # removes the COG written by this attempt; the sheet is unchanged
        except Exception:  # noqa: BLE001 - a dead connection: nothing was committed anyway
            log.warning("job %s: rollback failed on a lost connection", job_id)
        if not isinstance(exc, Exception) or is_database_outage(exc):
            # The worker is stopping, or the database went away: give the job back.
            try:
                _give_back(settings, job_id)
            except Exception as again:  # noqa: BLE001
                if not is_database_outage(again):
                    raise
                log.warning("job %s: database unreachable; it is requeued on reconnection",
                            job_id)
            raise
        if isinstance(exc, PlanningError):
            error, error_vi = str(exc), exc.message_vi
        else:
            log.error("job %s failed", job_id, exc_info=exc)
            error = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
            error_vi = "Lỗi hệ thống khi xử lý; hãy thử lại hoặc báo quản trị viên."
            if is_engine_error(exc):  # GDAL / PROJ / rasterio: their English, said in Vietnamese
                error_vi = engine_error_vi(exc)
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


# --- recovery after a worker died -------------------------------------------------------------

def _process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def recover_dead_jobs(settings: Settings) -> dict[int, int]:
    """Requeue (or fail, after :data:`MAX_ATTEMPTS`) the running jobs of this machine whose
    worker process no longer exists, or that this process held before it lost the database;
    their ids, each with its sheet's. Call it only while this process runs no job."""
    host = socket.gethostname()
    me = os.getpid()
    recovered: dict[int, int] = {}
    with db.session_scope(settings) as s:
        running = s.scalars(select(Job).where(Job.state == "running",
                                              Job.worker.like(f"{host}:%"))
                            .with_for_update(skip_locked=True)).all()
        for job in running:
            try:
                pid = int(job.worker.split(":")[1])
            except (IndexError, ValueError):
                continue
            if pid != me and not _process_gone(pid):
                continue
            if job.attempts >= MAX_ATTEMPTS:
                _fail_given_up(job)
            else:
                log.warning("job %s requeued: its worker %s is gone", job.id, job.worker)
                job.state, job.progress, job.worker = "queued", 0.0, None
            recovered[job.id] = job.sheet_id
    return recovered


#: A publish's files: the COG ``sheet-<id>-v<n>-<tag>.tif``, its web copy and their temporaries
#: (``.sheet-<id>-...``); the sheet id says which job they belong to.
_PUBLISH_FILE = re.compile(r"^\.?sheet-(\d+)-v\d+-[0-9a-f]+")
#: Prefixes of the temporary files of web requests in the scans and previews folders.
_WEB_TEMP_PREFIXES = (".incoming-", ".rotate-", ".small-", ".warp-", ".preview-", ".tmp-")


def sweep_orphans(settings: Settings, dead_sheets: frozenset[int] | set[int] = frozenset()
                  ) -> list[Path]:
    """Remove the files that no live job or request will finish; the paths removed.

    In the COG folder: a publish's files (temporaries, or a finished COG no version points at)
    when no live job works on that sheet, and other temporaries when no job is live at all;
    at once for the sheets in ``dead_sheets`` (their worker is known dead), otherwise once
    older than :data:`STALE_AFTER` (a publish outside the jobs, as the demo loader's, may still
    be writing them). In the scans and previews folders: web requests' temporaries older than
    :data:`WEB_TEMP_MAX_AGE_SECONDS`. A file newer than the moment the live jobs were read may
    belong to a job claimed since, and is left for the next sweep.
    """
    started = time.time()
    now = _now()
    with db.session_scope(settings) as s:
        live_sheets = set(s.scalars(select(Job.sheet_id).where(
            Job.state == "running", Job.heartbeat_at >= now - STALE_AFTER)).all())
        kept = set(s.scalars(select(SheetVersion.cog_path)).all())
        kept |= {p for p in s.scalars(select(MapSheet.cog_path)).all() if p}
    kept |= {web_cog_path(p).name for p in kept}
    removed: list[Path] = []

    def remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        log.info("removed orphan file %s", path)
        removed.append(path)

    cogs = settings.cogs_dir
    for path in sorted(cogs.iterdir()) if cogs.is_dir() else []:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if not path.is_file() or st.st_mtime >= started - 1.0:
            continue
        old = started - st.st_mtime > STALE_AFTER.total_seconds()
        m = _PUBLISH_FILE.match(path.name)
        if m:
            sheet_id = int(m.group(1))
            if sheet_id in live_sheets or path.name in kept:
                continue
            if old or sheet_id in dead_sheets:
                remove(path)
        elif path.name.startswith(".") and not live_sheets and (old or dead_sheets):
            remove(path)
    for folder in (settings.scans_dir, settings.previews_dir):
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*"):
            try:
                age = started - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if (path.is_file() and path.name.startswith(_WEB_TEMP_PREFIXES)
                    and age > WEB_TEMP_MAX_AGE_SECONDS):
                remove(path)
    return removed


def _refresh_derived_layers(settings: Settings) -> None:
    """When idle, rebuild the tiles' precomputed zone layers if the zones changed since (see
    layers/coverage.py). A failure is logged and tried again later: it must not stop jobs."""
    from layers import coverage

    try:
        done = coverage.refresh_if_stale(db.get_engine(settings))
    except Exception as exc:
        if is_database_outage(exc):
            raise
        log.exception("refreshing the zone coverage failed; the tiles read the live zones")
        return
    if done is not None:
        log.info("zone coverage rebuilt from edition %d: %d zones in %.1f s", done.edition,
                 done.features, done.seconds)
    try:  # this node's document index: built here, not in a request (text_index.ensure)
        from planning_gis.documents import text_index

        with db.get_engine(settings).connect() as conn:
            text_index.ensure(conn, settings.search_index_path)
    except Exception as exc:
        if is_database_outage(exc):
            raise
        log.exception("bringing the document index up to date failed; searches use it as is")


def run_worker(settings: Settings, poll_seconds: float = 1.0,
               stop: threading.Event | None = None) -> None:
    """Poll the jobs table until ``stop`` is set (or forever).

    On start, and again after each database outage, the jobs of dead workers on this machine
    are recovered and orphan files swept. A database error never ends the loop: the worker
    waits :data:`BACKOFF_FIRST_SECONDS`, doubling up to :data:`BACKOFF_MAX_SECONDS`, and
    reconnects (each wait is logged).
    """
    stop = stop or threading.Event()
    log.info("job worker %s polling every %.1f s", _worker_name(), poll_seconds)
    failures = 0
    recover = True
    next_sweep = 0.0
    while not stop.is_set():
        try:
            if recover or time.monotonic() >= next_sweep:
                jobs_back = recover_dead_jobs(settings)
                files = sweep_orphans(settings, set(jobs_back.values()))
                if jobs_back or files:
                    log.info("recovered %d job(s) of dead workers, removed %d orphan file(s)",
                             len(jobs_back), len(files))
                recover, next_sweep = False, time.monotonic() + SWEEP_SECONDS
            done = run_pending(settings)
            # E-mails of the exchange with citizens: queued with their events, sent here, retried
            # while the SMTP server is down (planning_gis/exchange/outbox.py).
            mail = outbox.send_due(settings)
            if done == 0:
                _refresh_derived_layers(settings)
            if failures:
                log.info("database reachable again after %d failed attempt(s)", failures)
                failures = 0
        except Exception as exc:
            if not is_database_outage(exc):
                raise
            failures += 1
            recover = True
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
            log.warning("database unavailable (attempt %d: %s); retrying in %.1f s", failures,
                        str(exc).splitlines()[0], delay)
            stop.wait(delay)
            continue
        if done == 0 and mail.sent < outbox.BATCH:
            stop.wait(poll_seconds)
