"""Operations endpoints: liveness and readiness for a load balancer, Prometheus metrics.

* ``/api/live``: the process answers (no database): a load balancer or a supervisor restarts a
  node that does not.
* ``/api/ready``: the node can serve: the primary answers, and when replicas are configured at
  least one of them answers and is within ``PLANNING_READ_MAX_LAG_SECONDS``. Reads would still
  work on the primary without them, but a node whose replicas are all down or behind puts every
  read on the one primary: a load balancer should prefer the nodes whose replicas are current
  (in a topology with a replica per app machine, that is the node beside a lagging replica).
* ``/metrics``: request latency per route (a histogram), the answer caches' hits and misses,
  the job queue, and the replicas' lag as this process measures it. Under gunicorn the counts
  of every worker are summed (prometheus_client's multiprocess mode, set up in
  web/gunicorn_config.py); a test client's app counts its own process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from layers.editions import EditionCache
from planning_gis import db

bp = Blueprint("ops", __name__)

#: WSGI environ key: the route template of the request, the label of its latency.
ROUTE_KEY = "planning.route"
#: The label of a tile answered by the cached-tile fast path (before Flask).
FAST_TILE_ROUTE = "tile cached before Flask"
FAST_LOOKUP_ROUTE = "look-up kept before Flask"

REQUEST_SECONDS = Histogram(
    "planning_http_request_duration_seconds", "Time to answer a request, by route template",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CACHE_HITS = Gauge("planning_cache_hits", "Answer-cache hits since each process started",
                   ["cache"], multiprocess_mode="livesum")
CACHE_MISSES = Gauge("planning_cache_misses", "Answer-cache misses since each process started",
                     ["cache"], multiprocess_mode="livesum")
CACHE_BYTES = Gauge("planning_cache_bytes", "Bytes held by the answer caches", ["cache"],
                    multiprocess_mode="livesum")

#: Seconds between two copies of the caches' counters into the metrics (per process).
CACHE_SYNC_S = 1.0
QUEUE_SQL = text("SELECT state, count(*) FROM jobs WHERE state IN ('queued', 'running')"
                 " GROUP BY state")


@bp.get("/api/live")
def live() -> Response:
    """The process answers; nothing else is asked (a database outage is no reason to restart)."""
    resp = jsonify(status="ok", process=os.getpid())
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/api/ready")
def ready() -> Response:
    """200 when this node can serve, 503 (with what is wrong) when it should get no traffic."""
    settings = current_app.config["SETTINGS"]
    problems: list[str] = []
    try:
        with db.get_engine(settings).connect() as conn:
            conn.execute(text("SELECT 1"))
        primary = True
    except Exception as err:  # noqa: BLE001 - any failure means "not ready", said in the body
        primary = False
        problems.append(f"primary database unreachable: {str(err).strip().splitlines()[0]}")
    router = db.read_router(settings)
    reads: dict[str, Any] = {"replicas": []}
    if router is not None:
        router.read_url()  # starts the checks in this process when they were not running
        reads = router.status()
        if not any(r["usable"] for r in reads["replicas"]):
            problems.append("no replica answers within the lag allowed"
                            f" ({settings.read_max_lag_seconds} s)")
    resp = jsonify(status="ok" if not problems else "unavailable", primary_reachable=primary,
                   reads=reads, problems=problems)
    resp.status_code = 200 if not problems else 503
    resp.headers["Cache-Control"] = "no-store"
    if problems:
        resp.headers["Retry-After"] = "5"
    return resp


class _LiveCollector:
    """Values read at scrape time: the job queue (from the primary) and the replicas' lag."""

    def __init__(self, app: Flask) -> None:
        self.settings = app.config["SETTINGS"]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        queue = GaugeMetricFamily("planning_jobs", "Jobs waiting or running", labels=["state"])
        try:
            with db.get_engine(self.settings).connect() as conn:
                counts = dict(conn.execute(QUEUE_SQL).all())
            for state in ("queued", "running"):
                queue.add_metric([state], counts.get(state, 0))
            up = 1
        except Exception:  # noqa: BLE001 - the scrape still reports the rest
            up = 0
        yield queue
        yield GaugeMetricFamily("planning_primary_up", "The primary answered the scrape",
                                value=up)
        router = db.read_router(self.settings)
        if router is None:
            return
        lag = GaugeMetricFamily("planning_replica_lag_seconds",
                                "Replica lag behind the primary (-1: unknown)", labels=["server"])
        usable = GaugeMetricFamily("planning_replica_usable",
                                   "1 when the replica is used for reads", labels=["server"])
        for state in router.states.values():
            server = state.as_dict()["server"]
            lag.add_metric([server], -1 if state.lag_seconds is None else state.lag_seconds)
            usable.add_metric([server], 1 if state.usable else 0)
        yield lag
        yield usable


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus' text format."""
    sync_caches(current_app, force=True)
    live_registry = CollectorRegistry()
    live_registry.register(_LiveCollector(current_app))  # type: ignore[arg-type]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    resp = Response(body + generate_latest(live_registry), mimetype=CONTENT_TYPE_LATEST)
    resp.headers["Cache-Control"] = "no-store"
    return resp


_last_sync = [0.0]


def sync_caches(app: Flask, force: bool = False) -> None:
    """Copy this process's cache counters into the metrics, at most once a second."""
    now = time.monotonic()
    if not force and now - _last_sync[0] < CACHE_SYNC_S:
        return
    _last_sync[0] = now
    for name, cache in app.extensions.items():
        if isinstance(cache, EditionCache):
            stats = cache.stats()
            label = name.removesuffix("_cache")
            CACHE_HITS.labels(label).set(stats["hits"] or 0)
            CACHE_MISSES.labels(label).set(stats["misses"] or 0)
            CACHE_BYTES.labels(label).set(stats["bytes"] or 0)


class MetricsMiddleware:
    """Times every answer, the fast path's included, by route template (never by raw path: a
    label per URL would grow without bound)."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["000"]

        def start(line: str, headers: list, exc_info: Any = None):
            status[0] = line[:3]
            return start_response(line, headers, exc_info)

        body = self.wsgi_app(environ, start)
        REQUEST_SECONDS.labels(environ.get(ROUTE_KEY, "unmatched"),
                               environ.get("REQUEST_METHOD", ""), status[0]
                               ).observe(time.perf_counter() - started)
        sync_caches(self.app)
        return body


def _label_route() -> None:
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    """The endpoints, the route label, and the timing middleware (call it last: it must wrap
    the cached-tile fast path too)."""
    app.register_blueprint(bp)
    app.before_request(_label_route)
    app.wsgi_app = MetricsMiddleware(app, app.wsgi_app)
