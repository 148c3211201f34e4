"""How gunicorn runs the service (``gunicorn -c python:planning_gis.web.gunicorn_config``).

Every command that starts the web server (``run.sh demo``, the tests' live server, the benches)
loads this module, so they serve the same way. Command-line flags (``--workers``, ``--threads``,
``--bind``) still override what is here.

Why a warm-up: a fresh worker pays ~100 ms on its first look-up (database connections, PROJ
transformer set-up, SQLAlchemy statement compilation, Jinja templates) and gunicorn hands it
requests the moment it is forked. Under load that first second of every worker is the p99: 32
clients queued behind four cold threads waited 1.3 s. ``preload_app`` imports the app once,
before the listening socket opens, and ``post_worker_init`` warms each worker before it accepts.

Why one connection per thread and no keep-alive: a gthread worker accepts every connection it
can, and a kept-alive connection stays with the worker that accepted it. Measured with wrk's 32
kept-alive clients on 2 workers, one worker held 28 of them and the other 4, so a quarter of the
clients waited three times as long (look-up p99 77-113 ms at a 22 ms mean). A worker that takes
only as many connections as it has threads, each closed after its response, leaves the others
in the kernel's queue for whichever worker frees a thread first: first come, first served
(p99 29-40 ms at the same throughput). Clients on the internet keep their connections alive
with the reverse proxy in front (nginx), which is where TLS ends too; the connection from the
proxy to gunicorn is on the same machine. gthread rather than sync workers because a long
request (a 1 GB scan upload) must not stop the worker's heartbeat and get it killed.

Why a control socket per instance: gunicorn (>= 25.1) opens a control socket for ``gunicornc``
at one path per user by default (``$HOME/.gunicorn/gunicorn.ctl``), so a second instance on the
machine (another port, the tests' live server, a bench) replaced the first one's socket and
removed it on exit. Each instance gets its own, under the data folder and named by its address,
unless ``--control-socket`` says otherwise.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Prometheus metrics summed over the workers (planning_gis/web/ops.py): prometheus_client keeps
# each process's counts in files of this folder. It must be set before prometheus_client is
# imported, which the preloaded app does right after this module is read; one folder per
# instance, removed when the instance stops.
# A folder given in the environment is used only if this process may write it: one inherited
# from a parent that read this module as root (a test process, an operator's shell) made every
# request of a gunicorn running as the service user fail on the metrics (a 500, then no answer).
_GIVEN_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_OWN_METRICS_DIR = not (_GIVEN_METRICS_DIR and os.path.isdir(_GIVEN_METRICS_DIR)
                        and os.access(_GIVEN_METRICS_DIR, os.W_OK | os.X_OK))
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="planning-metrics-")

preload_app = True
# The look-up caches shared by this instance's workers (layers/editions.py's
# SharedEditionCache): a folder of this instance's own, named but not made here (LMDB makes it,
# mode 0700, in the first worker that opens it) and removed on exit. Passed as ``raw_env``,
# which gunicorn puts in the environment before it loads the app, so that a process that only
# imports this module (a test) does not share it.
# The folder's name carries the master's pid, so that a later instance can sweep the folders of
# masters that were killed before their on_exit (kill -9): see sweep_shared_caches.
_SHARED_CACHE_PREFIX = "planning-shared-cache-"
_SHARED_CACHE_DIR = os.path.join(
    tempfile.gettempdir(), f"{_SHARED_CACHE_PREFIX}{os.getpid()}-{secrets.token_hex(8)}")
raw_env = [f"PLANNING_SHARED_CACHE_DIR={_SHARED_CACHE_DIR}"]


def sweep_shared_caches(folder: str | Path | None = None) -> list[Path]:
    """Remove the shared-cache folders, of this user, whose server master is gone (killed
    before it could remove its own); returns what was removed. A folder whose pid is alive
    stays, whoever now holds that pid: at worst an orphan waits for the next sweep."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{_SHARED_CACHE_PREFIX}*-*"):
        pid = path.name.removeprefix(_SHARED_CACHE_PREFIX).split("-", 1)[0]
        try:
            if not pid.isdigit() or path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
# Structured access log: one JSON object a line (a log shipper reads fields, not a format).
# The path only: no query string and no referer, which can carry a citizen's private link
# (``?k=`` of a question or request: a secret that opens their contact details to whoever
# reads the logs). nginx's log (planning_gis/cluster.py) logs ``$uri`` for the same reason.
access_log_format = ('{"time":"%(t)s","remote":"%(h)s","method":"%(m)s","path":"%(U)s",'
                     '"status":%(s)s,"bytes":"%(B)s","ms":%(M)s,"agent":"%(a)s"}')
worker_class = "gthread"
keepalive = 0
limit_request_line = 8190  # the maximum, so the app's own JSON 414 (PLANNING_MAX_URL_BYTES) answers first


#: Longest path of a Unix socket (sun_path holds 108 bytes with its final NUL).
_MAX_SOCKET_PATH = 107


def control_socket_path(data_dir: str | Path, bind: str) -> Path:
    """This instance's control socket: ``<data>/run/gunicorn-<address>.ctl``."""
    return Path(data_dir) / "run" / f"gunicorn-{re.sub(r'[^A-Za-z0-9.-]+', '_', bind)}.ctl"


def _own_control_socket(server: Any) -> None:
    settings = server.cfg.settings
    if "control_socket" not in settings or server.cfg.control_socket_disable:
        return  # a gunicorn without a control socket, or it is turned off
    if settings["control_socket"].value != settings["control_socket"].default:
        return  # given on the command line
    from planning_gis.settings import get_settings

    path = control_socket_path(get_settings().data_path.resolve(), server.cfg.bind[0])
    if len(str(path).encode()) > _MAX_SOCKET_PATH:
        logging.getLogger(__name__).warning(
            "no control socket: %s is too long for a Unix socket", path)
        server.cfg.set("control_socket_disable", True)
        return
    server.cfg.set("control_socket", str(path))


def on_starting(server: Any) -> None:
    """One connection per thread (see above), whatever ``--threads`` says; a control socket of
    this instance's own; the shared caches of killed instances swept."""
    server.cfg.set("worker_connections", max(1, int(server.cfg.threads)))
    _own_control_socket(server)
    sweep_shared_caches()


def post_worker_init(worker: Any) -> None:
    """Warm the forked worker's pools and caches before it takes its first request."""
    from planning_gis.web.warmup import warm_up

    warm_up(worker.wsgi, connections=max(1, int(worker.cfg.threads)))


def child_exit(_server: Any, worker: Any) -> None:
    """A worker that stopped no longer counts in the live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(_server: Any) -> None:
    shutil.rmtree(_SHARED_CACHE_DIR, ignore_errors=True)
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
