"""Liveness, readiness and the Prometheus metrics (planning_gis/web/ops.py)."""

from __future__ import annotations

import dataclasses
import re
import urllib.request

import pytest

from server import create_app

pytestmark = pytest.mark.db


def test_live_and_ready_on_one_database(client):
    live = client.get("/api/live")
    assert live.status_code == 200 and live.get_json()["status"] == "ok"
    ready = client.get("/api/ready")
    doc = ready.get_json()
    assert ready.status_code == 200, doc
    assert doc["primary_reachable"] is True and doc["reads"]["replicas"] == []
    assert ready.headers["Cache-Control"] == "no-store"


def test_not_ready_when_the_database_does_not_answer(demo):
    # Port 9 (discard) on 127.0.0.1: nothing listens, the connection is refused at once.
    down = dataclasses.replace(demo, database_url="postgresql+psycopg://x:y@127.0.0.1:9/none")
    client = create_app(down).test_client()
    assert client.get("/api/live").status_code == 200
    ready = client.get("/api/ready")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.get_json()["primary_reachable"] is False


def test_not_ready_when_no_replica_answers(demo):
    s = dataclasses.replace(demo, read_database_url="postgresql+psycopg://x:y@127.0.0.1:9/none")
    client = create_app(s).test_client()
    ready = client.get("/api/ready")
    doc = ready.get_json()
    assert ready.status_code == 503, doc
    assert doc["primary_reachable"] is True and doc["reads"]["replicas"][0]["usable"] is False
    # ... and the public reads go to the primary meanwhile.
    assert client.get("/api/legend").status_code == 200


def _metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` that carry these labels (whatever their others)."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    found = [float(m.group(2)) for m in (re.fullmatch(re.escape(name) + r"\{([^}]*)\} (\S+)", line)
                                         for line in text.splitlines())
             if m and all(part in m.group(1) for part in want)]
    if not found:
        raise AssertionError(f"{name}{want} not in the metrics")
    return sum(found)


def test_metrics_in_a_gunicorn_server_sum_the_workers(live_server):
    """Route latency (the fast path's cached tiles included), cache counts, the job queue."""
    tile = "/tiles/zones/15/26044/14431.mvt"
    for _ in range(6):
        urllib.request.urlopen(live_server + tile, timeout=10).read()
        urllib.request.urlopen(live_server + "/api/legend", timeout=10).read()
    with urllib.request.urlopen(live_server + "/metrics", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    assert _metric(text, "planning_http_request_duration_seconds_count", route="/api/legend",
                   status="200") >= 6
    tiles = sum(_metric(text, "planning_http_request_duration_seconds_count", route=route)
                for route in ("tile cached before Flask", "/tiles/<layer>/<z>/<x>/<y>.mvt")
                if f'route="{route}"' in text)
    assert tiles >= 6
    assert 'planning_jobs{state="queued"}' in text
    assert "planning_cache_hits{" in text and "planning_cache_misses{" in text
