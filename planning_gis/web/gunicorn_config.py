"""How gunicorn runs the service (``gunicorn -c python:planning_gis.web.gunicorn_config``).

Every command that starts the web server (``run.sh demo``, the tests' live server, the benches)
loads this module, so they serve the same way. Command-line flags (``--workers``, ``--threads``,
``--bind``) still override what is here.

Why a warm-up: a fresh worker pays ~100 ms on its first look-up (database connections, PROJ
transformer set-up, SQLAlchemy statement compilation, Jinja templates) and gunicorn hands it
requests the moment it is forked. Under load that first second of every worker is the p99: 32
clients queued behind four cold threads waited 1.3 s. ``preload_app`` imports the app once,
before the listening socket opens, and ``post_worker_init`` warms each worker before it accepts.
"""

from __future__ import annotations

from typing import Any

preload_app = True
worker_class = "gthread"


def post_worker_init(worker: Any) -> None:
    """Warm the forked worker's pools and caches before it takes its first request."""
    from planning_gis.web.warmup import warm_up

    warm_up(worker.wsgi, connections=max(1, int(worker.cfg.threads)))
