"""Faults the cluster of ``./run.sh cluster`` must survive, on 127.0.0.1, bounded in time.

Real parts: the private PostgreSQL 15 primary of tests/ops/conftest.py and its streaming replica
(``pg_basebackup -R``), two gunicorn app nodes reading from the replica, and Debian's nginx with
the configuration ``./run.sh cluster`` writes (planning_gis/cluster.py).

* kill -9 one app node under load: nginx routes around it; no failed request after the first
  second;
* stop the replica under load: the reads move to the primary within 5 s, no 5xx after that;
* a storm of requests for one cold tile: the app renders it once (``proxy_cache_lock``); a
  storm on a new point: looked up once (one node by URL, made once there for all its workers).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import morecantile
import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.cluster import write_nginx_conf
from planning_gis.web.ops import FAST_LOOKUP_ROUTE
from tests.ops.conftest import free_port, start_gunicorn

pytestmark = pytest.mark.db

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENTS = 6


@dataclass
class Cluster:
    proxy: int
    nodes: dict[int, subprocess.Popen]
    paths: list[str]
    tile: morecantile.Tile


@dataclass
class Answer:
    started: float
    status: int  # 0: no HTTP answer


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def _wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            assert proc.poll() is None, "nginx exited during start-up"
            time.sleep(0.1)
    raise AssertionError("nginx did not start")


@pytest.fixture(scope="module")
def cluster(private_cluster, private_settings, private_replica, tmp_path_factory
            ) -> Iterator[Cluster]:
    if not os.path.exists(NGINX):
        pytest.skip("nginx absent: ./run.sh setup installs nginx-light")
    s = private_settings
    with db.get_engine(s).connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p"
            " FROM land_use_zones ORDER BY id LIMIT 1) z")).one()
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 15)
    paths = [f"/api/lookup?lon={lon:.6f}&lat={lat:.6f}", "/api/legend",
             f"/ogc/collections/zones/items?limit=2&bbox={lon - 0.01},{lat - 0.01},"
             f"{lon + 0.01},{lat + 0.01}"]
    replica_url = private_replica.url("planning")
    nodes = {}
    for _ in range(2):
        port = free_port()
        nodes[port] = start_gunicorn(s, port, workers=1, threads=4, new_session=True,
                                     PLANNING_READ_DATABASE_URL=replica_url)
    prefix = tmp_path_factory.mktemp("nginx")
    proxy = free_port()
    conf = write_nginx_conf(prefix, f"127.0.0.1:{proxy}", [f"127.0.0.1:{p}" for p in nodes])
    # As root, nginx's workers would run as nobody, who cannot reach pytest's private folder
    # (run.sh runs nginx as the service user, which owns its folder).
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix), "-g", directives])
    _wait_port(proxy, nginx)
    try:
        yield Cluster(proxy, nodes, paths, tile)
    finally:
        nginx.terminate()
        nginx.wait(10)
        for proc in nodes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)


def _load(port: int, paths: list[str], seconds: float, during: callable
          ) -> list[Answer]:
    """CLIENTS threads asking ``paths`` in turn for ``seconds``; ``during()`` runs meanwhile."""
    answers: list[Answer] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        n = i
        while time.monotonic() < stop:
            started = time.monotonic()
            status, _ = _get(port, paths[n % len(paths)])
            n += 1
            with lock:
                answers.append(Answer(started, status))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    during()
    for t in threads:
        t.join()
    return answers


def test_kill_9_of_one_app_node_under_load(cluster):
    victim = next(iter(cluster.nodes))
    killed_at: list[float] = []

    def kill() -> None:
        time.sleep(1.5)
        killed_at.append(time.monotonic())
        os.killpg(cluster.nodes[victim].pid, signal.SIGKILL)

    answers = _load(cluster.proxy, cluster.paths, 5.0, kill)
    failed = [a for a in answers if a.status != 200]
    late = [a for a in failed if a.started > killed_at[0] + 1.0]
    print(f"\nkill -9 of one node: {len(answers)} requests, {len(failed)} failed"
          f" ({len(late)} after the first second)")
    assert len([a for a in answers if a.started > killed_at[0]]) > 20
    assert not late, [a.status for a in late]
    cluster.nodes.pop(victim).wait(10)


def test_stopping_the_replica_moves_the_reads_to_the_primary(cluster, private_replica):
    stopped_at: list[float] = []

    def stop() -> None:
        time.sleep(1.0)
        stopped_at.append(time.monotonic())
        private_replica.stop()

    try:
        answers = _load(cluster.proxy, cluster.paths, 8.0, stop)
    finally:
        private_replica.start()
    failed = [a for a in answers if a.status != 200]
    late = [a for a in failed if a.started > stopped_at[0] + 5.0]
    print(f"\nreplica stopped: {len(answers)} requests, {len(failed)} failed"
          f" ({len(late)} later than 5 s)")
    assert len([a for a in answers if a.started > stopped_at[0] + 5.0]) > 10
    assert not late, [a.status for a in late]
    # It comes back into the reads once it answers again.
    node = next(iter(cluster.nodes))
    deadline = time.monotonic() + 15
    while _get(node, "/api/ready")[0] != 200:
        assert time.monotonic() < deadline, _get(node, "/api/ready")
        time.sleep(0.2)


def _rendered(nodes) -> float:
    """Tiles rendered by Flask (not the fast path) on every node, from their /metrics."""
    total = 0.0
    for port in nodes:
        _, body = _get(port, "/metrics")
        for m in re.finditer(r'planning_http_request_duration_seconds_count\{[^}]*'
                             r'route="/tiles/<layer>/<z>/<x>/<y>\.mvt"[^}]*\} (\S+)',
                             body.decode()):
            total += float(m.group(1))
    return total


def test_a_storm_on_a_cold_tile_renders_it_once(cluster):
    t = cluster.tile
    path = f"/tiles/zones/{t.z + 1}/{2 * t.x}/{2 * t.y + 1}.mvt"
    before = _rendered(cluster.nodes)
    results: list[tuple[int, bytes]] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        results.append(_get(cluster.proxy, path, {"Accept-Encoding": "gzip"}))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert {status for status, _ in results} <= {200, 204} and len(results) == 16
    assert len({body for _, body in results}) == 1
    rendered = _rendered(cluster.nodes) - before
    print(f"\ncold-tile storm: 16 requests, {rendered:g} rendered by the app")
    assert rendered == 1


#: Route labels of the look-ups the app answered: made there (a new point, or the view), or
#: kept (asked before, or made meanwhile by another request on the node).
MADE, ANSWERED = ("/api/lookup",), ("/api/lookup", FAST_LOOKUP_ROUTE)


def _lookups_answered(nodes, routes: tuple[str, ...] = ANSWERED) -> float:
    """Look-ups answered by the app on every node under ``routes``."""
    total = 0.0
    pattern = "|".join(re.escape(r) for r in routes)
    for port in nodes:
        _, body = _get(port, "/metrics")
        for m in re.finditer(r'planning_http_request_duration_seconds_count\{[^}]*'
                             r'route="(?:' + pattern + r')"[^}]*\} (\S+)', body.decode()):
            total += float(m.group(1))
    return total


def _lookups_settled(nodes, expected: float, routes: tuple[str, ...] = ANSWERED) -> float:
    """The look-ups answered, read until they reach ``expected`` (a worker records a request
    after its last byte is sent, so a client can read /metrics first) or 5 s have passed."""
    deadline = time.monotonic() + 5
    while (seen := _lookups_answered(nodes, routes)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # and anything more that was still on its way
    return _lookups_answered(nodes, routes) if seen >= expected else seen


def _lookup(port: int, path: str, headers: dict | None = None
            ) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("X-Cache", "")
    finally:
        conn.close()


def test_a_point_asked_by_many_at_once_is_looked_up_once(cluster):
    """nginx keeps the public look-up for the minute its Cache-Control allows; a storm on a
    new point is looked up once: nginx sends the URL to one node, which makes it once for
    every request that reaches it meanwhile; a planner (session cookie) and a plot (POST)
    always reach the app."""
    lon, lat = (float(v) for v in re.findall(r"=([-\d.]+)", cluster.paths[0]))
    path = f"/api/lookup?lon={lon + 1e-6:.6f}&lat={lat:.6f}"  # a point nobody asked yet
    before = _lookups_answered(cluster.nodes)
    made_before = _lookups_answered(cluster.nodes, MADE)
    results: list[tuple[int, bytes, str]] = []
    barrier = threading.Barrier(16)

    def ask() -> None:
        barrier.wait()
        results.append(_lookup(cluster.proxy, path))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [status for status, _, _ in results] == [200] * 16
    assert len({body for _, body, _ in results}) == 1
    reached = sum(cache == "MISS" for _, _, cache in results)  # the others: nginx's copy
    assert reached >= 1 and {cache for _, _, cache in results} <= {"MISS", "HIT"}
    assert _lookups_settled(cluster.nodes, before + reached) - before == reached
    assert _lookups_settled(cluster.nodes, made_before + 1, MADE) - made_before == 1
    status, body, cache = _lookup(cluster.proxy, path)
    assert (status, cache) == (200, "HIT") and body == results[0][1]
    # A planner's request is neither answered from the cache nor stored.
    status, _, cache = _lookup(cluster.proxy, path, {"Cookie": "qh_session=x"})
    assert (status, cache) == (200, "BYPASS")
    assert _lookups_settled(cluster.nodes, before + reached + 1) - before == reached + 1
    # A bad point's 400 is not kept: each one reaches the app.
    for _ in range(2):
        status, _, cache = _lookup(cluster.proxy, "/api/lookup?lon=abc&lat=21")
        assert status == 400 and cache in ("MISS", "")
    assert _lookups_settled(cluster.nodes, before + reached + 3) - before == reached + 3
