#!/usr/bin/env python3
"""Figures of the exchange with citizens (issue 16), printed, never asserted.

On a database of its own (created, migrated and given the tiny demo, dropped at the end): posts
``--posts`` questions and consultation comments through the services (each question queues its
e-mails in the outbox, as a real post does), answers a third of the questions, then prints

* the planner's inbox page p95 and the public record page p95 (the app in process, through
  Flask's test client: server time without the network; bar < 200 ms);
* the outbox's throughput against a local SMTP server (aiosmtpd);
* the time from a question's submit to its e-mail being received (the sender polling as the
  job worker does);
* an SMTP outage: the server stopped for ``--outage-s`` seconds while the sender runs, then
  started again; count sent must equal count queued, each message received once.

    python bench/exchange.py [--posts 10000] [--outage-s 60]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from planning_gis import db, migrate  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--outage-s", type=float, default=60.0)
    ap.add_argument("--requests", type=int, default=60, help="page requests per page measured")
    args = ap.parse_args()

    from tests.conftest import create_database, drop_database
    from tests.exchange.conftest import Inbox, free_port, start_smtp

    name = f"planning_bench_exchange_{os.getpid()}"
    url = create_database(name)
    data = Path(f"/tmp/{name}")
    data.mkdir(exist_ok=True)
    port = free_port()
    settings = Settings.from_env(database_url=url, data_dir=str(data), demo_size="tiny",
                                 secret_key=secrets.token_urlsafe(48), smtp_host="127.0.0.1",
                                 smtp_port=port, mail_retry_max_s=2,
                                 citizen_posts_per_minute=10**6, citizen_posts_per_day=10**6)
    try:
        migrate.upgrade("head", settings)
        from planning_gis import legend
        from planning_gis.demo import load_demo

        with db.session_scope(settings) as s:
            legend.load_legend(s)
        load_demo(settings)
        run(settings, args, port, Inbox, start_smtp)
    finally:
        db.dispose_engines()
        drop_database(name)
    return 0


def run(settings: Settings, args, port: int, Inbox, start_smtp) -> None:  # noqa: ANN001, N803
    from geoalchemy2.shape import from_shape
    from shapely.geometry import MultiPolygon, box

    from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
    from planning_gis.exchange import consultations, outbox, questions
    from planning_gis.models import Consultation, LandUseZone, Plan
    from server import create_app
    from tests.workspace.conftest import sign_in

    rng = random.Random(16)
    org_name = "UBND quận Cầu Giấy"
    with db.session_scope(settings) as s:
        org = s.execute(text("SELECT id FROM organisations WHERE name = :n"),
                        {"n": org_name}).scalar()
        e0, n0, e1, n1 = s.execute(text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM plans"
            " WHERE kind = 'chi_tiet' AND organisation = :o ORDER BY id LIMIT 1"),
            {"o": org_name}).one()
        draft = Plan(name="Dự thảo (bench)", kind="chi_tiet", status="draft",
                     organisation=org_name, organisation_id=org, is_fictional=True,
                     geom=from_shape(MultiPolygon([box(e0, n0, e1, n1)]), 5897))
        s.add(draft)
        s.flush()
        zone = LandUseZone(plan_id=draft.id, label="B-1", function_code="CX",
                           geom=from_shape(MultiPolygon([box(e0, n0, e1, n1)]), 5897))
        s.add(zone)
        import datetime as dt

        c = Consultation(plan_id=draft.id, organisation_id=org, opens_on=dt.date.today(),
                         closes_on=dt.date.today() + dt.timedelta(days=25))
        s.add(c)
        s.flush()
        cid, zone_id = c.id, zone.id

    n_questions = args.posts * 2 // 3
    t0 = time.perf_counter()
    ids = []
    batch = 500
    for start in range(0, n_questions, batch):
        with db.session_scope(settings) as s:
            for i in range(start, min(n_questions, start + batch)):
                pt = (rng.uniform(e0, e1), rng.uniform(n0, n1))
                ids.append(questions.ask(s, settings, body=f"Câu hỏi thử số {i}",
                                         email=f"q{i}@bench.example", point=pt).question.id)
    for start in range(0, args.posts - n_questions, batch):
        with db.session_scope(settings) as s:
            for i in range(start, min(args.posts - n_questions, start + batch)):
                consultations.comment(s, settings, cid, body=f"Góp ý {i}",
                                      topic=rng.choice(["khac", "cong_cong", "giao_thong"]),
                                      zone_id=zone_id)
    posted = time.perf_counter() - t0
    with db.session_scope(settings) as s:
        from planning_gis.models import User

        planner = s.execute(text("SELECT * FROM users WHERE email = :e"),
                            {"e": planner_email(org_name)}).first()
        user = s.get(User, planner.id)
        for qid in ids[: len(ids) // 3]:
            questions.answer(s, settings, user, qid, body="Trả lời thử.")
        s.execute(text("ANALYZE"))
    print(f"posted {n_questions} questions + {args.posts - n_questions} comments in "
          f"{posted:.1f} s ({args.posts / posted:.0f}/s through the services)")

    app = create_app(settings)
    client = app.test_client()
    sign_in(client, planner_email(org_name), DEMO_PLANNER_PASSWORD)
    for label, url, c in (("inbox page /quan-tri/hoi-dap", "/quan-tri/hoi-dap", client),
                          ("public record page /cong-khai/don-vi", "/cong-khai/don-vi",
                           app.test_client()),
                          ("record API /api/units/record", "/api/units/record",
                           app.test_client())):
        times = []
        for _ in range(args.requests):
            t = time.perf_counter()
            resp = c.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (url, resp.status_code)
        print(f"{label}: p50 {statistics.median(times):.0f} ms, p95 {p95(times):.0f} ms "
              f"(bar < 200 ms)")

    inbox = Inbox()
    controller = start_smtp(port, inbox)
    with db.session_scope(settings) as s:
        queued = outbox.counts(s)["queued"]
    t = time.perf_counter()
    while True:
        r = outbox.send_due(settings, batch=500)
        if r.sent == 0 and r.failed == 0:
            break
    took = time.perf_counter() - t
    print(f"outbox: {queued} messages sent in {took:.1f} s = {queued / took:.0f} messages/s "
          f"(aiosmtpd on 127.0.0.1; {len(inbox.messages)} received)")

    # submit -> e-mail received, with the sender polling every 0.5 s as the worker does
    latencies = []
    for i in range(10):
        addr = f"lat{i}@bench.example"
        t = time.perf_counter()
        with db.session_scope(settings) as s:
            questions.ask(s, settings, body="Đo thời gian", email=addr,
                          point=(rng.uniform(e0, e1), rng.uniform(n0, n1)))
        time.sleep(rng.uniform(0, 0.5))  # where in its poll the worker happens to be
        while not inbox.to(addr):
            outbox.send_due(settings)
            time.sleep(0.05)
        latencies.append(time.perf_counter() - t)
    print(f"submit -> e-mail received: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms (worker poll 0.5 s)")

    # the outage: a sender thread runs while the server is stopped, then started again
    before = len(inbox.messages)
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            outbox.send_due(settings, batch=200)
            time.sleep(0.2)

    thread = threading.Thread(target=sender)
    thread.start()
    n_during = 300
    with db.session_scope(settings) as s:
        for i in range(n_during // 3):
            questions.ask(s, settings, body="Trong lúc máy chủ thư dừng", email=f"o{i}@bench.ex",
                          point=(rng.uniform(e0, e1), rng.uniform(n0, n1)))
    time.sleep(0.5)
    controller.stop()
    t_stop = time.perf_counter()
    with db.session_scope(settings) as s:
        for i in range(n_during // 3, n_during):
            questions.ask(s, settings, body="Trong lúc máy chủ thư dừng", email=f"o{i}@bench.ex",
                          point=(rng.uniform(e0, e1), rng.uniform(n0, n1)))
    time.sleep(max(0.0, args.outage_s - (time.perf_counter() - t_stop)))
    controller = start_smtp(port, inbox)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        with db.session_scope(settings) as s:
            counts = outbox.counts(s)
        if counts["queued"] == 0:
            break
        time.sleep(0.5)
    stop.set()
    thread.join()
    controller.stop()
    with db.session_scope(settings) as s:
        counts = outbox.counts(s)
        retried = s.execute(text("SELECT count(*) FROM outbox WHERE attempts > 1")).scalar()
    received = len(inbox.messages) - before
    ids_seen = [m for _r, m in inbox.messages]
    dupes = len(ids_seen) - len(set(ids_seen))
    print(f"SMTP outage of {args.outage_s:.0f} s: {received} messages of the outage run received; "
          f"outbox sent {counts['sent']} = queued total {counts['sent'] + counts['queued']}"
          f" (still queued: {counts['queued']}; {retried} needed a retry; duplicates received: "
          f"{dupes})")


if __name__ == "__main__":
    sys.exit(main())
