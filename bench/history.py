#!/usr/bin/env python3
"""History and comparison figures (issue 18), on a throw-away database (created, migrated,
dropped):

1. the history triggers' write overhead: a zones import of N zones from a GeoJSON file (the
   service :func:`planning_gis.zones_import.import_zones`, as the CLI and the workspace call
   it) and an UPDATE of all of them, with the triggers and without (disabled in the same
   run), alternated, best of R; the ratio is printed;
2. a whole-plan comparison of two generated zoning plans of N zones each (the second an
   adjusted copy: re-zoned, re-indicated, reshaped, split, merged, added and removed zones):
   time and memory;
3. point comparisons at random points of those plans from C concurrent clients (threads, one
   connection each, the service function without HTTP): p50/p95.

Bars of the issue: whole plan < 10 s; point p95 < 100 ms. Usage:
``python bench/history.py [--zones 5000] [--clients 20] [--points 400] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

X0, Y0 = 575_000.0, 2_320_000.0
SIZE, GAP = 40.0, 8.0
TRIGGERS = ("history_land_use_zones_insert", "history_land_use_zones_update",
            "history_land_use_zones_delete")


def _grid(n: int) -> list[tuple[float, float]]:
    side = int(n ** 0.5) + 1
    return [(X0 + (i % side) * (SIZE + GAP), Y0 + (i // side) * (SIZE + GAP)) for i in range(n)]


def _geojson(path: Path, n: int) -> None:
    feats = []
    for i, (x, y) in enumerate(_grid(n)):
        ring = [[x, y], [x + SIZE, y], [x + SIZE, y + SIZE], [x, y + SIZE], [x, y]]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                      "properties": {"label": f"O-{i}", "function_code": "OM", "mat_do": 40,
                                     "tang_min": 3, "tang_max": 9}})
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties":
                    {"name": "urn:ogc:def:crs:EPSG::5897"}}, "features": feats}))


def _plan(conn, name: str, supersedes: int | None = None) -> int:
    from sqlalchemy import text

    return conn.execute(text(
        "INSERT INTO plans (name, kind, status, is_fictional, supersedes_id, decision_number, "
        "decision_date) VALUES (:n, 'phan_khu', 'approved', true, :s, '1/QĐ-UBND', "
        "'2021-01-01') RETURNING id"), {"n": name, "s": supersedes}).scalar_one()


def overhead(settings, n: int, repeat: int) -> None:
    from sqlalchemy import text

    from planning_gis import db
    from planning_gis.zones_import import import_zones

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zones.geojson"
        _geojson(path, n)
        with db.session_scope(settings) as s:
            plan = _plan(s.connection(), "Bench import")
        times: dict[str, list[float]] = {"with": [], "without": []}
        updates: dict[str, list[float]] = {"with": [], "without": []}
        for _r in range(repeat):
            for mode in ("without", "with"):
                with db.session_scope(settings) as s:
                    verb = "ENABLE" if mode == "with" else "DISABLE"
                    for trig in TRIGGERS:
                        s.execute(text(f"ALTER TABLE land_use_zones {verb} TRIGGER {trig}"))
                with db.session_scope(settings) as s:
                    t = time.perf_counter()
                    import_zones(s, path, plan)
                    s.commit()
                    times[mode].append(time.perf_counter() - t)
                with db.session_scope(settings) as s:
                    t = time.perf_counter()
                    s.execute(text("UPDATE land_use_zones SET floors_max = floors_max + 1 "
                                   "WHERE plan_id = :p"), {"p": plan})
                    s.commit()
                    updates[mode].append(time.perf_counter() - t)
                with db.session_scope(settings) as s:
                    for trig in TRIGGERS:
                        s.execute(text(f"ALTER TABLE land_use_zones DISABLE TRIGGER {trig}"))
                    s.execute(text("DELETE FROM land_use_zones WHERE plan_id = :p"), {"p": plan})
                    for trig in TRIGGERS:
                        s.execute(text(f"ALTER TABLE land_use_zones ENABLE TRIGGER {trig}"))
        for name, series in (("zones import", times), ("UPDATE of every zone", updates)):
            w, wo = min(series["with"]), min(series["without"])
            print(f"{name} of {n} zones (best of {repeat}): with history {w:.2f} s, without "
                  f"{wo:.2f} s -> ratio {w / wo:.2f}x ({(w - wo) * 1e6 / n:+.0f} µs per zone)")


def _two_plans(settings, n: int) -> tuple[int, int, list[tuple[float, float]]]:
    """Plan A (n zones) and plan B, an adjusted copy superseding it, written with COPY."""
    from planning_gis import db

    rng = random.Random(18)
    cells = _grid(n)
    rows_a, rows_b = [], []
    codes = ["OM", "HH", "CC", "CX", "TH", "NT"]
    for i, (x, y) in enumerate(cells):
        code = rng.choice(codes)
        box_a = (x, y, x + SIZE, y + SIZE)
        rows_a.append((f"O-{i}", code, 40.0, 9, box_a))
        r = rng.random()
        if r < 0.05:    # re-zoned
            rows_b.append((f"O-{i}", rng.choice([c for c in codes if c != code]), 40.0, 9, box_a))
        elif r < 0.08:  # indicators
            rows_b.append((f"O-{i}", code, 35.0, 12, box_a))
        elif r < 0.10:  # reshaped
            rows_b.append((f"O-{i}", code, 40.0, 9, (x, y, x + SIZE + 4, y + SIZE)))
        elif r < 0.12:  # split
            rows_b.append((f"O-{i}a", "TH", 30.0, 4, (x, y, x + SIZE / 2, y + SIZE)))
            rows_b.append((f"O-{i}b", code, 40.0, 9, (x + SIZE / 2, y, x + SIZE, y + SIZE)))
        elif r < 0.13:  # removed
            continue
        else:
            rows_b.append((f"O-{i}", code, 40.0, 9, box_a))
    with db.session_scope(settings) as s:
        conn = s.connection()
        a = _plan(conn, "Bench A")
        b = _plan(conn, "Bench B", a)
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for plan, rows in ((a, rows_a), (b, rows_b)):
                with cur.copy("COPY land_use_zones (plan_id, label, function_code, coverage_pct, "
                              "floors_max, area_m2, geom) FROM STDIN") as cp:
                    for label, code, cov, fl, (x1, y1, x2, y2) in rows:
                        wkt = (f"SRID=5897;MULTIPOLYGON((({x1} {y1},{x2} {y1},{x2} {y2},"
                               f"{x1} {y2},{x1} {y1})))")
                        cp.write_row((plan, label, code, cov, fl, (x2 - x1) * (y2 - y1), wkt))
        s.execute(__import__("sqlalchemy").text("ANALYZE land_use_zones"))
    return a, b, cells


def whole_plan(settings, a: int, b: int) -> None:
    from planning_gis import db
    from planning_gis.history.compare import compare

    with db.session_scope(settings) as s:
        conn = s.connection()
        compare(conn, a, b)  # warm: statements prepared, legend read
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        t = time.perf_counter()
        cmp = compare(conn, a, b)
        seconds = time.perf_counter() - t
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts = ", ".join(f"{k} {v}" for k, v in cmp.counts().items())
    print(f"whole-plan comparison, {len(cmp.a.zones)} vs {len(cmp.b.zones)} zones: {seconds:.2f} s "
          f"(bar < 10 s); Python peak {peak / 1e6:.0f} MB traced, process max RSS "
          f"{rss1 / 1024:.0f} MB (+{(rss1 - rss0) / 1024:.0f} MB); {counts}")


def points(settings, a: int, b: int, cells, clients: int, n_points: int) -> None:
    from planning_gis import db
    from planning_gis.history.compare import compare

    rng = random.Random(7)
    todo = [(x + rng.uniform(0, SIZE), y + rng.uniform(0, SIZE))
            for x, y in rng.sample(cells, min(n_points, len(cells)))]
    lat: list[float] = []
    lock = threading.Lock()
    engine = db.get_engine(settings)

    def work(chunk):
        with engine.connect() as conn:
            compare(conn, a, b, area_wkt=f"POINT({chunk[0][0]} {chunk[0][1]})", scope="point")
            for x, y in chunk:
                t = time.perf_counter()
                compare(conn, a, b, area_wkt=f"POINT({x} {y})", scope="point")
                with lock:
                    lat.append(time.perf_counter() - t)
            conn.rollback()

    chunks = [todo[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=work, args=(c,)) for c in chunks if c]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    q = statistics.quantiles(lat, n=100)
    print(f"point comparisons, {clients} concurrent clients, {len(lat)} points: p50 "
          f"{q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms (bar < 100 ms), "
          f"{len(lat) / wall:.0f}/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zones", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--points", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from planning_gis import db, legend, migrate
    from planning_gis.settings import Settings

    admin = make_url(os.environ.get("PLANNING_DATABASE_URL", Settings().database_url))
    name = f"planning_bench_history_{os.getpid()}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        settings = Settings.from_env(database_url=url, secret_key="x" * 48)
        migrate.upgrade("head", settings)
        with db.session_scope(settings) as s:
            legend.load_legend(s)
        overhead(settings, args.zones, args.repeat)
        a, b, cells = _two_plans(settings, args.zones)
        whole_plan(settings, a, b)
        points(settings, a, b, cells, args.clients, args.points)
    finally:
        db.dispose_engines()
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


if __name__ == "__main__":
    main()
