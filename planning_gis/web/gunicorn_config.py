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
"""

from __future__ import annotations

from typing import Any

preload_app = True
worker_class = "gthread"
keepalive = 0
limit_request_line = 8190  # the maximum, so the app's own JSON 414 (PLANNING_MAX_URL_BYTES) answers first


def on_starting(server: Any) -> None:
    """One connection per thread (see above), whatever ``--threads`` says."""
    server.cfg.set("worker_connections", max(1, int(server.cfg.threads)))


def post_worker_init(worker: Any) -> None:
    """Warm the forked worker's pools and caches before it takes its first request."""
    from planning_gis.web.warmup import warm_up

    warm_up(worker.wsgi, connections=max(1, int(worker.cfg.threads)))
