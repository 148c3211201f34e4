"""The primary restarts under writes: no acknowledged write is lost.

Citizens post questions (``POST /api/questions``: a real write, with its rate-limit row, its
routing and its outbox row in one transaction) from several clients while the private
cluster's primary is restarted twice: once as a package upgrade does (``pg_ctl restart -m
fast``), once as a crash (``stop -m immediate``, then start: the server recovers from its
WAL). The server runs with ``synchronous_commit=on``, PostgreSQL's default and the
production setting (the fixture's ``off`` would lose the last commits in a crash, by design).

Every 201 the service answered must be a question in the database afterwards, with its body;
every other answer must be a 503 with Retry-After (never a 500); writes succeed again within
5 s of the server accepting connections.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from planning_gis import db
from tests.ops.conftest import free_port, start_gunicorn

pytestmark = pytest.mark.db

CLIENTS = 4
RECOVER_WITHIN_S = 5.0


@dataclass
class Write:
    started: float
    ended: float
    body: str
    status: int  # 0: no HTTP answer
    code: str | None
    retry_after: str | None


def _post(port: int, body: str, plan_id: int) -> Write:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = json.dumps({"body": body, "email": "nguoi-hoi@example.vn", "plan_id": plan_id})
    try:
        conn.request("POST", "/api/questions", body=payload.encode(),
                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        code = json.loads(data).get("code") if resp.status == 201 else None
        return Write(started, time.monotonic(), body, resp.status, code,
                     resp.getheader("Retry-After"))
    except OSError:
        return Write(started, time.monotonic(), body, 0, None, None)
    finally:
        conn.close()


def test_no_acknowledged_write_is_lost_across_primary_restarts(private_cluster,
                                                               private_settings):
    s = private_settings
    # The production durability setting (the fixture starts the server without it).
    private_cluster.pg_ctl("stop", "-m", "fast")
    private_cluster.start_options = private_cluster.start_options.replace(
        " -c synchronous_commit=off", "")
    private_cluster.start()
    db.get_engine(s).dispose()
    with db.get_engine(s).connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        plan_id = conn.execute(text("SELECT min(id) FROM plans")).scalar_one()
    port = free_port()
    web = start_gunicorn(s, port, PLANNING_CITIZEN_POSTS_PER_MINUTE="1000000",
                         PLANNING_CITIZEN_POSTS_PER_DAY="1000000")
    writes: list[Write] = []
    stop = threading.Event()

    def client(k: int) -> None:
        i = 0
        while not stop.is_set():
            writes.append(_post(port, f"Câu hỏi kiểm thử {k}-{i}: ô đất này quy hoạch gì?",
                                plan_id))
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    #: (the server stops, it accepts connections again), per restart.
    outages: list[tuple[float, float]] = []
    try:
        assert _post(port, "Câu hỏi trước khi khởi động lại", plan_id).status == 201
        for t in threads:
            t.start()
        time.sleep(2)
        down = time.monotonic()
        private_cluster.restart()  # fast: sessions terminated, checkpoint, start
        outages.append((down, time.monotonic()))
        time.sleep(3)
        down = time.monotonic()
        private_cluster.stop()  # immediate: a crash; the start replays the WAL
        time.sleep(0.5)
        private_cluster.start()
        outages.append((down, time.monotonic()))
        time.sleep(RECOVER_WITHIN_S + 2)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        web.terminate()
        try:
            web.wait(timeout=30)
        except Exception:  # noqa: BLE001
            web.kill()
            web.wait()

    db.get_engine(s).dispose()
    acked = {w.code: w.body for w in writes if w.status == 201}
    failed = [w for w in writes if w.status != 201]
    with db.get_engine(s).connect() as conn:
        stored = dict(conn.execute(text("SELECT code, body FROM questions"
                                        " WHERE code = ANY(:codes)"),
                                   {"codes": list(acked)}).all())
        unacked_bodies = [w.body for w in failed]
        committed_anyway = conn.execute(text("SELECT count(*) FROM questions"
                                             " WHERE body = ANY(:b)"),
                                        {"b": unacked_bodies}).scalar_one()
    lost = {c: b for c, b in acked.items() if stored.get(c) != b}

    def late_refusal(w: Write) -> bool:
        before = [back for down, back in outages if down <= w.started]
        return bool(before) and w.started >= before[-1] + RECOVER_WITHIN_S

    late = [w for w in failed if late_refusal(w)]
    print(f"\nwrites under two primary restarts: {len(writes)} posted, {len(acked)} "
          f"acknowledged, {len(failed)} refused ({sorted({w.status for w in failed})}), "
          f"{committed_anyway} of those committed all the same (the answer was lost, not the "
          f"write), {len(lost)} acknowledged writes lost")
    assert len(acked) > 50 and failed, "the load must have met both restarts"
    assert lost == {}, f"{len(lost)} acknowledged writes are missing"
    assert [w.status for w in failed if w.status != 503] == [], "only 503s are allowed"
    assert all(w.retry_after for w in failed), "a 503 must say when to retry"
    assert late == [], f"{len(late)} refusals later than {RECOVER_WITHIN_S} s after a restart"
    after = [w for w in writes if w.started >= outages[-1][1] + RECOVER_WITHIN_S]
    assert after and all(w.status == 201 for w in after)
