#!/usr/bin/env python3
"""Issue 13's figures at city size and on the small demo, side by side in one run.

Printed, never asserted. Where a figure misses the issue's bar it is printed as it is: the
tiles are generalised by zoom band (layers/coverage.py) and OGC next links page by keyset.

Databases (same PostgreSQL as PLANNING_DATABASE_URL, whose role creates them):
  * the city: ``--city-db`` (default planning_city_bench), loaded with ``demo load --size city``
    when missing or with ``--load-city`` (then the load is timed in this run; otherwise the load
    time is read from the batches the loader recorded);
  * the demo: ``--demo-db`` (default planning_city_bench_demo), made and loaded afresh each run.

For each, one real gunicorn (``bench/serving.py``'s ``ours``: the deployed config, its warm-up)
with the tile cache off (``PLANNING_MVT_CACHE_MB=0``: every tile rendered):
  MVT zones z10-z16, random tiles over the inner districts (each once, ``--clients`` at a time);
  OGC items page 1 vs page 8,000 of 50; look-up with wrk, 32 connections, 30 s, 2,000 random
  points; search, 200 queries with and without diacritics (one client); a worker's RSS after
  warm-up and after the run, and the time from launch to the first answer.

    python bench/city.py [--load-city] [--workers 2] [--threads 4] [--lookup-seconds 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import re
import secrets
import statistics
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.serving import TMS, free_port, ours, run_wrk, table  # noqa: E402
from planning_gis import db, legend, migrate  # noqa: E402
from planning_gis.demo import city_size  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402

SECTIONS = ("tiles", "ogc", "search", "lookup", "cached", "tipg")
BARS = {
    "load": "<= 15 min",
    "mvt_rps": ">= 1.0x tipg",
    "mvt_p99": "< 1 s",
    "mvt_max": "<= 500 KB",
    "ogc": "deep <= 2x page 1",
    "lookup_p99": "< 50 ms",
    "lookup_err": "0",
    "search_p95": "< 100 ms",
    "rss": "printed",
}


# --- databases ----------------------------------------------------------------------------------

def _admin_url() -> str:
    return os.environ.get("PLANNING_DATABASE_URL", Settings().database_url)


def _db_exists(name: str) -> bool:
    engine = create_engine(make_url(_admin_url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                             {"n": name}).first()
    engine.dispose()
    return found is not None


def fresh_database(name: str, data_dir: Path) -> Settings:
    """An empty, migrated database with the legend (as ``./run.sh`` and the tests make them)."""
    admin = make_url(_admin_url())
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    s = settings_for(name, data_dir)
    migrate.upgrade("head", s)
    with db.session_scope(s) as session:
        legend.load_legend(session)
    return s


def settings_for(name: str, data_dir: Path) -> Settings:
    url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings.from_env(database_url=url, data_dir=str(data_dir),
                             secret_key=os.environ["PLANNING_SECRET_KEY"])


def refresh_coverage(s: Settings) -> None:
    """Build the tiles' zone coverage if it is stale and the document index, as ``demo load``
    and the job worker do (the servers here run without a worker)."""
    from layers import coverage
    from planning_gis.documents import text_index

    done = coverage.refresh_if_stale(db.get_engine(s), settle_seconds=0)
    if done is not None:
        print(f"  zone coverage rebuilt: {done.features:,} zones in {done.seconds:.0f} s",
              flush=True)
    started = time.perf_counter()
    with db.get_engine(s).connect() as conn:
        text_index.ensure(conn, s.search_index_path)
    print(f"  document index up to date in {time.perf_counter() - started:.0f} s", flush=True)


def load_city_timed(args) -> tuple[Settings, float, str]:
    from planning_gis.demo.city_load import BATCH_TABLE, load_city

    data = Path(args.data_root) / args.city_db
    if args.load_city or not _db_exists(args.city_db):
        s = fresh_database(args.city_db, data)
        t0 = time.perf_counter()
        load_city(s, out=lambda line: print("  " + line, flush=True))
        refresh_coverage(s)
        return s, time.perf_counter() - t0, "measured in this run (with the coverage)"
    s = settings_for(args.city_db, data)
    migrate.upgrade("head", s)  # a city loaded by an earlier tree gets the new indexes
    refresh_coverage(s)
    with db.get_engine(s).connect() as conn:
        span = conn.execute(text(
            f"SELECT extract(epoch FROM max(finished_at) - min(finished_at)) + "
            f"(SELECT seconds FROM {BATCH_TABLE} ORDER BY finished_at LIMIT 1) "
            f"FROM {BATCH_TABLE}")).scalar_one()
    return s, float(span), "as recorded by the loader (use --load-city to measure it now)"


def load_demo_timed(args) -> tuple[Settings, float]:
    from planning_gis.demo import load_demo

    s = fresh_database(args.demo_db, Path(args.data_root) / args.demo_db)
    t0 = time.perf_counter()
    load_demo(s, size="full")
    refresh_coverage(s)
    return s, time.perf_counter() - t0


# --- requests -----------------------------------------------------------------------------------

def get(port: int, path: str, timeout: float = 120.0) -> tuple[int, int, float]:
    """(status, body bytes, seconds) of one GET on a fresh connection, body uncompressed."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, len(body), time.perf_counter() - t0
    except (OSError, http.client.HTTPException):
        return 599, 0, time.perf_counter() - t0
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def inner_tiles(per_zoom: int, seed: int = 13) -> list:
    """Random tiles z10-z16 over the inner districts (all of them where there are fewer)."""
    rng = random.Random(seed)
    w, s, e, n = city_size.INNER_LONLAT
    out = []
    for z in range(10, 17):
        tiles = list(TMS.tiles(w, s, e, n, zooms=[z]))
        out += rng.sample(tiles, min(per_zoom, len(tiles)))
    return out


def ours_tile(t) -> str:
    return f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"


def tipg_tile(t) -> str:
    return f"/collections/public.land_use_zones/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"


def bench_tiles(port: int, tiles: list, clients: int, path=ours_tile) -> dict:
    results: list[tuple[int, int, int, float]] = []
    lock = threading.Lock()

    def one(t) -> None:
        status, size, secs = get(port, path(t))
        with lock:
            results.append((t.z, status, size, secs))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, tiles))
    wall = time.perf_counter() - t0
    ok = [r for r in results if r[1] in (200, 204)]
    lat = [r[3] for r in ok]
    by_zoom = {}
    for z in range(10, 17):
        rz = [r for r in results if r[0] == z]
        if rz:
            by_zoom[z] = (len(rz), sum(1 for r in rz if r[1] not in (200, 204)),
                          pct([r[3] for r in rz], 99), max(r[2] for r in rz))
    return {"rps": len(ok) / wall, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "max_bytes": max((r[2] for r in ok), default=0),
            "errors": len(results) - len(ok), "by_zoom": by_zoom, "n": len(results)}


def bench_ogc(port: int, zones: int, settings: Settings, repeats: int = 5) -> dict:
    """Page 1 and a deep page: reached by ``offset`` (what a client may type) and by the
    ``after`` key that the ``next`` links carry (what following them costs)."""
    deep_page = min(8000, max(1, zones // 50))
    with db.get_engine(settings).connect() as conn:
        after = conn.execute(text("SELECT id FROM land_use_zones ORDER BY id OFFSET :n LIMIT 1"),
                             {"n": (deep_page - 1) * 50 - 1}).scalar() if deep_page > 1 else None
    out = {"deep_page": deep_page}
    paths = [("page1", "/ogc/collections/zones/items?limit=50"),
             ("deep", f"/ogc/collections/zones/items?limit=50&offset={(deep_page - 1) * 50}")]
    if after is not None:
        paths.append(("deep_keyset", f"/ogc/collections/zones/items?limit=50&after={after}"))
    for label, path in paths:
        times = []
        for _ in range(repeats):
            status, _, secs = get(port, path)
            times.append(secs if status == 200 else float("nan"))
        out[label] = statistics.median(times)
    return out


def bench_tipg_ogc(port: int, zones: int, repeats: int = 5) -> dict:
    """tipg's page 1 and the same deep page (tipg pages by offset, its next links too)."""
    deep_page = min(8000, max(1, zones // 50))
    out = {"deep_page": deep_page}
    for label, path in (("page1", "/collections/public.land_use_zones/items?limit=50"),
                        ("deep", "/collections/public.land_use_zones/items?limit=50"
                                 f"&offset={(deep_page - 1) * 50}")):
        times = []
        for _ in range(repeats):
            status, _, secs = get(port, path)
            times.append(secs if status == 200 else float("nan"))
        out[label] = statistics.median(times)
    return out


def bare_tile_sql(settings: Settings, tiles: list) -> list[float]:
    """Seconds per tile of our own ST_AsMVT statement for its zoom band, run alone on one
    connection (JIT off, as the service's connections), each tile once after a warm pass."""
    import psycopg

    from layers import mvt, registry

    layer = registry.get("zones", registry.MVT)
    out = []
    with psycopg.connect(settings.sync_database_url, options=db.SESSION_OPTIONS) as conn:
        for _warm_then_measured in range(2):
            out = []
            for t in tiles:
                params = mvt.tile_params(layer, TMS, t, settings)
                if params is None:
                    out.append(0.0)
                    continue
                sql = mvt.tile_sql(layer, t.z).text
                psql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
                t0 = time.perf_counter()
                conn.execute(psql, params).fetchone()
                out.append(time.perf_counter() - t0)
    return out


def bench_cached(port: int, tiles: list, seconds: int = 10) -> float:
    """Mean seconds per tile over HTTP with the tile cache on: wrk, one connection (so one
    server process, whose cache the first round fills; each process has its own) cycling
    through the tiles for ``seconds``, gzip accepted as map clients do (bench/serving.py's
    method for the same comparison on the demo)."""
    for t in tiles:  # a first round, so that the timed one is all hits
        get(port, ours_tile(t))
    res = run_wrk(f"http://127.0.0.1:{port}", [ours_tile(t) for t in tiles], seconds, 1, 1)
    return res["mean"] / 1000


def lookup_points(settings: Settings, n: int = 2000, seed: int = 7) -> list[tuple[float, float]]:
    """``n`` random points, each inside a zone drawn at random (so a point is in the city)."""
    with db.get_engine(settings).connect() as conn:
        ids = conn.execute(text("SELECT id FROM land_use_zones")).scalars().all()
        pick = random.Random(seed).choices(ids, k=n)
        rows = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT k.ord, ST_Transform(ST_GeometryN("
            "ST_GeneratePoints(z.geom, 1, k.ord::int), 1), 4326) p "
            "FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS k(id, ord) "
            "JOIN land_use_zones z ON z.id = k.id) x ORDER BY ord"),
            {"ids": pick}).all()
    return [(x, y) for x, y in rows]


def fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if not unicodedata.combining(c))


def search_queries(n: int = 200, seed: int = 3) -> list[str]:
    """Half with diacritics, the same half folded: topics, places, plan kinds, numbers."""
    rng = random.Random(seed)
    base = []
    for k in range(n // 2):
        kind = k % 4
        if kind == 0:
            q = f"{rng.choice(city_size.TOPICS)} {rng.choice(city_size.PLACES)}"
        elif kind == 1:
            q = rng.choice(city_size.TOPICS)
        elif kind == 2:
            q = f"quy hoạch chi tiết {rng.choice(city_size.PLACES)}"
        else:
            q = f"{rng.randint(10001, 19000)}/QĐ-UBND"
        base.append(q)
    return base + [fold(q) for q in base]


def bench_search(port: int, queries: list[str]) -> dict:
    times, errors = [], 0
    for q in queries:
        status, _, secs = get(port, f"/api/search?q={quote(q)}")
        errors += status != 200
        times.append(secs)
    with_d, without = times[:len(times) // 2], times[len(times) // 2:]
    return {"p95": pct(times, 95), "p95_diacritics": pct(with_d, 95),
            "p95_folded": pct(without, 95), "errors": errors}


def worker_rss_mb(port: int) -> list[float]:
    """RSS (MB) of the gunicorn workers serving ``port`` (the master's children)."""
    procs = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if f"127.0.0.1:{port}" not in cmd or "gunicorn" not in cmd:
                continue
            status = (d / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        procs[int(d.name)] = (int(fields["PPid"]), int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(rss for pid, (ppid, rss) in procs.items() if ppid in procs)


def first_answer(port: int, started: float, done: dict) -> None:
    """Poll until the server answers a request; record the seconds since launch."""
    while "seconds" not in done:
        status, _, _ = get(port, "/api/health", timeout=5)
        if status == 200:
            done["seconds"] = time.perf_counter() - started
            return
        time.sleep(0.05)


def measure(label: str, settings: Settings, args) -> dict:
    print(f"\n# {label}: serving {settings.sync_database_url.rsplit('/', 1)[-1]}", flush=True)
    with db.get_engine(settings).connect() as conn:
        zones = conn.execute(text("SELECT count(*) FROM land_use_zones")).scalar_one()
    port = free_port()
    started = time.perf_counter()
    ready: dict = {}
    poller = threading.Thread(target=first_answer, args=(port, started, ready), daemon=True)
    poller.start()
    res: dict = {"zones": zones}
    tiles = inner_tiles(args.tiles_per_zoom)
    with ours(port, args.workers, settings, args.threads, PLANNING_MVT_CACHE_MB="0"):
        poller.join(timeout=300)
        res["warmup"] = ready.get("seconds", float("nan"))
        res["rss_warm"] = worker_rss_mb(port)
        print(f"  first answer {res['warmup']:.1f} s after launch; worker RSS "
              f"{res['rss_warm']} MB", flush=True)
        if "tiles" in args.only:
            res["tiles"] = bench_tiles(port, tiles, args.clients)
            print(f"  tiles: {res['tiles']['n']} in "
                  f"{res['tiles']['n'] / res['tiles']['rps']:.0f} s", flush=True)
        if "ogc" in args.only:
            res["ogc"] = bench_ogc(port, zones, settings)
        if "search" in args.only:
            res["search"] = bench_search(port, search_queries())
        if "lookup" in args.only:
            paths = [f"/api/lookup?lon={x:.6f}&lat={y:.6f}" for x, y in lookup_points(settings)]
            res["lookup"] = run_wrk(f"http://127.0.0.1:{port}", paths, args.lookup_seconds, 32)
            print(f"  look-up: {res['lookup']}", flush=True)
        res["rss_after"] = worker_rss_mb(port)
    if "cached" in args.only:
        with ours(port := free_port(), args.workers, settings, args.threads):
            cached = bench_cached(port, tiles)
        bare = bare_tile_sql(settings, tiles)
        res["cached"] = {"http": cached, "sql": statistics.mean(bare)}
        print(f"  cached tiles over HTTP {res['cached']['http'] * 1000:.2f} ms/tile vs bare "
              f"ST_AsMVT {res['cached']['sql'] * 1000:.2f} ms/tile", flush=True)
    if "tipg" in args.only:
        from bench.serving import ensure_venv, tipg_env, uvicorn

        venv = ensure_venv(Path(args.venv))
        with uvicorn(venv, "tipg.main:app", port := free_port(), args.workers,
                     tipg_env(settings)):
            res["tipg_tiles"] = bench_tiles(port, tiles, args.clients, tipg_tile)
            res["tipg_ogc"] = bench_tipg_ogc(port, zones)
        print(f"  tipg: {res['tipg_tiles']['rps']:.1f} tiles/s, p99 "
              f"{res['tipg_tiles']['p99'] * 1000:.0f} ms, largest "
              f"{res['tipg_tiles']['max_bytes'] / 1024:,.0f} KB; OGC page 1 "
              f"{res['tipg_ogc']['page1'] * 1000:.0f} ms, deep {res['tipg_ogc']['deep'] * 1000:.0f}"
              " ms", flush=True)
    return res


def report(city: dict, demo: dict, loads: dict) -> None:
    def mb(v: list[float]) -> str:
        return " / ".join(f"{x:.0f}" for x in v) + " MB"

    rows = [("figure", "city", "demo", "bar")]
    rows.append(("zones", f"{city['zones']:,}", f"{demo['zones']:,}", ""))
    rows.append(("generated and loaded", f"{loads['city'] / 60:.1f} min",
                 f"{loads['demo'] / 60:.1f} min", BARS["load"]))
    for key, name in (("rps", "MVT z10-16 rendered, tiles/s"), ("p50", "MVT p50"),
                      ("p99", "MVT p99"), ("max_bytes", "MVT largest tile"),
                      ("errors", "MVT errors (non-2xx, timeouts)")):
        def fmt(r: dict, key: str = key) -> str:
            v = r["tiles"][key]
            return (f"{v:.2f}" if key == "rps" else f"{v / 1024:,.0f} KB" if key == "max_bytes"
                    else str(v) if key == "errors" else f"{v * 1000:,.0f} ms")
        bar = {"rps": BARS["mvt_rps"] + " (tipg: bench/serving.py)", "p99": BARS["mvt_p99"],
               "max_bytes": BARS["mvt_max"]}.get(key, "")
        rows.append((name, fmt(city), fmt(demo), bar))
    rows.append(("tipg, same tiles (raw land_use_zones), tiles/s",
                 f"{city['tipg_tiles']['rps']:.2f}", f"{demo['tipg_tiles']['rps']:.2f}", ""))
    rows.append(("MVT rendered, ours / tipg tiles/s",
                 f"{city['tiles']['rps'] / city['tipg_tiles']['rps']:.2f}x",
                 f"{demo['tiles']['rps'] / demo['tipg_tiles']['rps']:.2f}x", BARS["mvt_rps"]))
    rows.append(("tipg p99 / largest tile",
                 f"{city['tipg_tiles']['p99'] * 1000:,.0f} ms / "
                 f"{city['tipg_tiles']['max_bytes'] / 1024:,.0f} KB",
                 f"{demo['tipg_tiles']['p99'] * 1000:,.0f} ms / "
                 f"{demo['tipg_tiles']['max_bytes'] / 1024:,.0f} KB", ""))
    rows.append(("MVT cached, HTTP ms/tile (wrk, 1 connection)",
                 f"{city['cached']['http'] * 1000:.2f}", f"{demo['cached']['http'] * 1000:.2f}",
                 ""))
    rows.append(("bare ST_AsMVT ms/tile, same tiles",
                 f"{city['cached']['sql'] * 1000:.2f}", f"{demo['cached']['sql'] * 1000:.2f}",
                 ""))
    rows.append(("MVT cached / bare ST_AsMVT",
                 f"{city['cached']['http'] / city['cached']['sql']:.2f}x",
                 f"{demo['cached']['http'] / demo['cached']['sql']:.2f}x", "<= 1.3x"))
    for r in (city, demo):
        r["ogc_ratio"] = r["ogc"]["deep"] / r["ogc"]["page1"]
        r["ogc_key_ratio"] = r["ogc"].get("deep_keyset", float("nan")) / r["ogc"]["page1"]
    rows.append(("OGC items page 1 of 50", f"{city['ogc']['page1'] * 1000:.0f} ms",
                 f"{demo['ogc']['page1'] * 1000:.0f} ms", ""))
    rows.append(("OGC items deep page of 50",
                 f"{city['ogc']['deep'] * 1000:.0f} ms (page {city['ogc']['deep_page']:,})",
                 f"{demo['ogc']['deep'] * 1000:.0f} ms (page {demo['ogc']['deep_page']}, last)",
                 ""))
    rows.append(("OGC deep / page 1, by offset", f"{city['ogc_ratio']:.1f}x",
                 f"{demo['ogc_ratio']:.1f}x", ""))
    rows.append(("OGC deep page by the next link (after=)",
                 f"{city['ogc'].get('deep_keyset', float('nan')) * 1000:.0f} ms",
                 f"{demo['ogc'].get('deep_keyset', float('nan')) * 1000:.0f} ms", ""))
    rows.append(("OGC deep / page 1, by the next link", f"{city['ogc_key_ratio']:.1f}x",
                 f"{demo['ogc_key_ratio']:.1f}x", BARS["ogc"]))
    for r in (city, demo):
        r["tipg_deep_ratio"] = r["ogc"].get("deep_keyset", r["ogc"]["deep"]) / r["tipg_ogc"]["deep"]
    rows.append(("tipg page 1 / deep page (offset)",
                 f"{city['tipg_ogc']['page1'] * 1000:.0f} / {city['tipg_ogc']['deep'] * 1000:.0f}"
                 " ms", f"{demo['tipg_ogc']['page1'] * 1000:.0f} / "
                 f"{demo['tipg_ogc']['deep'] * 1000:.0f} ms", ""))
    rows.append(("OGC deep page, tipg time / ours (pages/s ratio)",
                 f"{1 / city['tipg_deep_ratio']:.1f}x", f"{1 / demo['tipg_deep_ratio']:.1f}x",
                 ">= 1.0x tipg"))
    for key, name in (("rps", "look-up req/s (wrk -c32)"), ("p50", "look-up p50"),
                      ("p99", "look-up p99"), ("errors", "look-up errors")):
        def lk(r: dict, key: str = key) -> str:
            v = r["lookup"][key]
            return f"{v:.0f}" if key in ("rps", "errors") else f"{v:.1f} ms"
        bar = {"p99": BARS["lookup_p99"], "errors": BARS["lookup_err"]}.get(key, "")
        rows.append((name, lk(city), lk(demo), bar))
    for key, name in (("p95", "search p95 (200 queries)"),
                      ("p95_diacritics", "search p95, with diacritics"),
                      ("p95_folded", "search p95, without diacritics")):
        rows.append((name, f"{city['search'][key] * 1000:.0f} ms",
                     f"{demo['search'][key] * 1000:.0f} ms",
                     BARS["search_p95"] if key == "p95" else ""))
    rows.append(("search errors", str(city["search"]["errors"]), str(demo["search"]["errors"]),
                 ""))
    rows.append(("launch to first answer (warm-up)", f"{city['warmup']:.1f} s",
                 f"{demo['warmup']:.1f} s", "warm-up must not scan the city"))
    rows.append(("worker RSS after warm-up", mb(city["rss_warm"]), mb(demo["rss_warm"]),
                 BARS["rss"]))
    rows.append(("worker RSS after the run", mb(city["rss_after"]), mb(demo["rss_after"]),
                 "bounded by PLANNING_*_CACHE_MB"))
    table("Issue 13: city vs demo (printed, never asserted)", rows)
    zrows = [("zoom", "city tiles", "city errors", "city p99", "city largest",
              "demo p99", "demo largest")]
    for z in range(10, 17):
        c, d = city["tiles"]["by_zoom"].get(z), demo["tiles"]["by_zoom"].get(z)
        if c:
            zrows.append((z, c[0], c[1], f"{c[2] * 1000:,.0f} ms", f"{c[3] / 1024:,.0f} KB",
                          f"{d[2] * 1000:,.0f} ms" if d else "", f"{d[3] / 1024:,.0f} KB"
                          if d else ""))
    table("MVT zones by zoom (rendered, cache off)", zrows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city-db", default="planning_city_bench")
    ap.add_argument("--demo-db", default="planning_city_bench_demo")
    ap.add_argument("--data-root", default="/tmp/city-bench")
    ap.add_argument("--load-city", action="store_true",
                    help="drop, re-create and load the city database in this run (~5 min)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=8, help="concurrent tile clients")
    ap.add_argument("--tiles-per-zoom", type=int, default=10)
    ap.add_argument("--lookup-seconds", type=int, default=30, help="the issue asks for 30 s")
    ap.add_argument("--keep-demo", action="store_true", help="leave the demo database")
    ap.add_argument("--venv", default="/tmp/serving-bench/venv",
                    help="where tipg is installed (bench/serving.py makes it)")
    ap.add_argument("--skip-demo", action="store_true", help="measure the city only")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to measure (of {','.join(SECTIONS)}); "
                         "the table is printed only when all are measured")
    args = ap.parse_args()
    args.only = set(args.only.split(","))
    if not args.only <= set(SECTIONS):
        ap.error(f"--only takes sections among {','.join(SECTIONS)}")
    # The servers need a session key; a throw-away one (nobody signs in during the bench).
    os.environ.setdefault("PLANNING_SECRET_KEY", secrets.token_urlsafe(48))
    print(f"# City bench {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores; gunicorn "
          f"--workers {args.workers} --threads {args.threads}, MVT cache off", flush=True)
    city_settings, city_load, how = load_city_timed(args)
    print(f"city load: {city_load:.0f} s ({how})", flush=True)
    city = measure("city", city_settings, args)
    if args.skip_demo:
        db.dispose_engines()
        return
    demo_settings, demo_load = load_demo_timed(args)
    print(f"demo load: {demo_load:.0f} s", flush=True)
    demo = measure("demo", demo_settings, args)
    if args.only == set(SECTIONS):
        report(city, demo, {"city": city_load, "demo": demo_load})
    db.dispose_engines()
    if not args.keep_demo:
        engine = create_engine(make_url(_admin_url()), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.demo_db}" WITH (FORCE)'))
        engine.dispose()


if __name__ == "__main__":
    main()
