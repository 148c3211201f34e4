#!/usr/bin/env python3
"""Serving benchmarks, side by side in one run; figures are printed, never asserted.

Sections: raster tiles (ours vs titiler), vector tiles (ours vs tipg vs the bare ST_AsMVT SQL),
OGC items pages (ours vs tipg), look-up latency under wrk (32 connections, 30 s).

It uses the demo database at PLANNING_DATABASE_URL (``python import_maps.py demo load``), starts
every server itself on 127.0.0.1 with the same worker count, drives them with Debian's ``wrk``
and stops them at the end. titiler and tipg are installed into their own virtual environment
(``--venv``, default /tmp/serving-bench/venv) with pip on first use.

    python bench/serving.py [--seconds 10] [--workers 2] [--threads 4]
                            [--only raster,vector,ogc,lookup]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import morecantile  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.common import p99_by_window  # noqa: E402
from layers import registry  # noqa: E402
from layers.mvt import tile_params, tile_sql  # noqa: E402
from planning_gis.db import get_engine  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402
from tiles.web_cog import make_web_cog  # noqa: E402

TMS = morecantile.tms.get("WebMercatorQuad")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.args}")
        time.sleep(0.2)
    raise RuntimeError(f"server did not start: {proc.args}")


@contextlib.contextmanager
def server(cmd: list[str], port: int, env: dict[str, str], workers: int = 2):
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        # Every worker must be up before wrk opens its kept-alive connections: those made while
        # only some workers accept stay with them for the whole run. Same wait for every server.
        time.sleep(1.0 + 0.75 * workers)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def ours(port: int, workers: int, settings: Settings, threads: int = 4, **extra_env: str):
    env = dict(os.environ, PLANNING_DATABASE_URL=settings.database_url,
               PLANNING_DATA_DIR=settings.data_dir, PYTHONPATH=str(ROOT), **extra_env)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # The deployed command (run.sh): its gunicorn config (preloaded app, warmed gthread workers
    # that keep connections alive like uvicorn does).
    return server([str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config",
                   "--workers", str(workers), "--threads", str(threads),
                   "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                   "server:create_app()"], port, env, workers)


def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not (venv / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "titiler.application", "tipg",
                        "uvicorn"], check=True)
    return venv


def uvicorn(venv: Path, app: str, port: int, workers: int, env: dict[str, str]):
    return server([str(venv / "bin" / "uvicorn"), app, "--host", "127.0.0.1", "--port",
                   str(port), "--workers", str(workers), "--log-level", "warning"], port, env,
                  workers)


# A line is a path, or a path, a tab and a Range header value (a PMTiles client's request).
LUA = """
local paths = {}
for line in io.lines("%s") do
  local p, r = line:match("^([^\t]*)\t?(.*)$")
  paths[#paths + 1] = {p, r}
end
local i = 0
request = function()
  i = i %% #paths + 1
  local headers = {["Accept-Encoding"] = "gzip"}
  if paths[i][2] ~= "" then headers["Range"] = paths[i][2] end
  return wrk.format("GET", paths[i][1], headers)
end
"""


def run_wrk(base: str, paths: list[str], seconds: int, connections: int,
            threads: int = 2, timeout: str | None = None) -> dict[str, float]:
    """wrk's figures; ``timeout`` (e.g. "30s"): an answer slower than wrk's default 2 s then
    counts in the latencies instead of as a socket error."""
    with tempfile.TemporaryDirectory() as tmp:
        plist = Path(tmp) / "paths.txt"
        plist.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(LUA % plist)
        out = subprocess.run(["wrk", "-t", str(min(threads, connections)), "-c",
                              str(connections), "-d", f"{seconds}s", "--latency",
                              *(["--timeout", timeout] if timeout else []), "-s",
                              str(script), base], capture_output=True, text=True,
                             check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "mean": ms("Latency"),
            "max": ms(r"Latency\s+[\d.]+(?:us|ms|s)\s+[\d.]+(?:us|ms|s)"), "errors": errors,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def run_h2load(base: str, paths: list[str], seconds: int, connections: int,
               processes: int = 16, window_s: float = 5.0,
               finished: Callable[[], None] | None = None) -> dict:
    """``connections`` clients in ``processes`` h2loads (Debian's nghttp2-client, HTTP/1.1),
    each h2load asking ``paths`` in order from its own place in the list (the k-th from the
    k-th share): at any moment the clients ask different places, as citizens do. One h2load's
    clients walk the list in step, all asking the same new point at the same instant; one
    h2load per client (64) made the machine's scheduler the measure (nginx waited for a core
    behind 64 runnable clients: other clients' p99 45.6 ms where nginx logged 0 ms).
    Every request's latency comes from h2load's log (``--log-file``: start, status, microseconds
    to the end of the answer), so the percentiles are over the requests the clients made, as a
    client saw each one; wrk's are not at ~50,000 answers/s (its mean latency times its rate
    gave 180-870 requests in flight on 64 connections, which Little's law forbids). Also the
    p99 of the requests started in each ``window_s`` of the run. ``finished`` is called as
    soon as the h2loads have ended, before their logs are read: reading 700,000 lines holds
    this process for seconds, which clients measured from it meanwhile would count (the
    open-loop clients' last 5 s: p99 127-133 ms, against 5-7 ms before it)."""
    processes = max(1, min(processes, connections))
    step = max(1, len(paths) // processes)
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for k in range(processes):
            uris = Path(tmp) / f"uris-{k}.txt"
            order = paths[k * step:] + paths[:k * step]
            uris.write_text("".join(f"{base.rstrip('/')}{p}\n" for p in order))
            clients = connections // processes + (k < connections % processes)
            procs.append(subprocess.Popen(
                ["h2load", "--h1", "-c", str(clients), "-t", "1", "-D", str(seconds), "-i",
                 str(uris),
                 f"--log-file={Path(tmp) / f'requests-{k}.log'}", "-H",
                 "Accept-Encoding: gzip"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True))
        outs = [proc.communicate(timeout=seconds + 120)[0] for proc in procs]
        if finished is not None:
            finished()
        for out, proc in zip(outs, procs, strict=True):
            if proc.returncode:
                raise RuntimeError(f"h2load failed ({proc.returncode}): {out[-500:]}")
        logs = [np.loadtxt(Path(tmp) / f"requests-{k}.log", dtype=np.int64, ndmin=2)
                for k in range(processes)
                if (Path(tmp) / f"requests-{k}.log").stat().st_size]
    rows = np.concatenate(logs) if logs else np.zeros((0, 3), np.int64)
    failed = rps = 0.0
    for out in outs:
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", out)
        failed += int(m.group(2)) - int(m.group(3))
        rps += float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out).group(1))
    ms = rows[:, 2] / 1000.0 if len(rows) else np.array([float("nan")])
    q = np.percentile(ms, [50, 99, 99.9], method="nearest") if len(rows) else [float("nan")] * 3
    windows = p99_by_window(((rows[:, 0] - rows[:, 0].min()) / 1e6).tolist(), ms.tolist(),
                            window_s) if len(rows) else []
    return {"rps": rps, "requests": int(len(rows)), "p50": float(q[0]), "p99": float(q[1]),
            "p999": float(q[2]), "max": float(ms.max()), "mean": float(ms.mean()),
            "errors": int(failed + (rows[:, 1] >= 400).sum()), "windows": windows}


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n## {title}")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def zone_tiles(settings: Settings, zooms: tuple[int, ...]) -> list[morecantile.Tile]:
    with get_engine(settings).connect() as conn:
        w, s, e, n = conn.execute(text(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform("
            "ST_SetSRID(ST_Extent(geom)::geometry, 5897), 4326) b FROM land_use_zones) x")).one()
    return list(TMS.tiles(w, s, e, n, zooms=list(zooms)))


# --- raster ------------------------------------------------------------------------------------

def write_bench_cog(path: Path, settings: Settings) -> tuple[float, float, float, float]:
    """A 4000 x 4000 px RGB+alpha COG (0.5 m) over the demo zones, for both servers."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    with get_engine(settings).connect() as conn:
        ex, ey = conn.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)::geometry) c"
            " FROM land_use_zones) x")).one()
    size, res = 4000, 0.5
    minx, maxy = ex - size * res / 2, ey + size * res / 2
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size]
    rgb = np.stack([(xx // 7) % 256, (yy // 5) % 256,
                    rng.integers(120, 200, (size, size))]).astype("uint8")
    alpha = np.zeros((size, size), "uint8")
    alpha[100:-100, 100:-100] = 255
    prof = dict(driver="GTiff", width=size, height=size, count=4, dtype="uint8",
                crs="EPSG:5897", transform=from_origin(minx, maxy, res, res))
    with MemoryFile() as mem:
        with mem.open(**prof) as ds:
            ds.write(np.concatenate([rgb, alpha[None]]))
            ci = rasterio.enums.ColorInterp
            ds.colorinterp = [ci.red, ci.green, ci.blue, ci.alpha]
        with mem.open() as src:
            cog_translate(src, str(path), cog_profiles.get("deflate"), quiet=True,
                          web_optimized=False)
    return minx, maxy - size * res, minx + size * res, maxy


@contextlib.contextmanager
def bench_sheet(settings: Settings, cog: Path):
    """A published sheet row for the bench COG, removed again afterwards."""
    with get_engine(settings).begin() as conn:
        plan = conn.execute(text("SELECT id FROM plans ORDER BY id LIMIT 1")).scalar_one()
        sid = conn.execute(text(
            "INSERT INTO map_sheets (plan_id, title, scan_sha256, scan_size, width, height,"
            " crs_epsg, state, cog_path, published_at) VALUES (:p, 'bench sheet', :sha, 1, 4000,"
            " 4000, 5897, 'published', :cog, now()) RETURNING id"),
            {"p": plan, "sha": hashlib.sha256(str(cog).encode()).hexdigest(),
             "cog": str(cog)}).scalar_one()
    try:
        yield sid
    finally:
        with get_engine(settings).begin() as conn:
            conn.execute(text("DELETE FROM map_sheets WHERE id = :id"), {"id": sid})


def bench_raster(args, settings: Settings, venv: Path) -> None:
    import rasterio
    from rio_tiler.io import Reader

    with tempfile.TemporaryDirectory() as tmp:
        cog = Path(tmp) / "bench.tif"
        write_bench_cog(cog, settings)
        with rasterio.open(cog) as ds, Reader(None, dataset=ds) as r:
            w, s, e, n = r.get_geographic_bounds("EPSG:4326")
        tiles = [t for t in TMS.tiles(w, s, e, n, zooms=[16, 17, 18])]
        random.Random(0).shuffle(tiles)
        tiles = tiles[:400]
        # Publishing writes the grid-aligned serving copy next to the VN-2000 COG; do the same
        # here, and give titiler both files so that the comparison is like for like.
        web = make_web_cog(cog)
        with bench_sheet(settings, cog) as sid:
            ours_paths = [f"/tiles/sheets/{sid}/{t.z}/{t.x}/{t.y}.png" for t in tiles]
            with ours(free_port(), args.workers, settings, args.threads) as base:
                a = run_wrk(base, ours_paths, args.seconds, args.connections)
            env = dict(os.environ, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
                       GDAL_CACHEMAX="256", VSI_CACHE="TRUE")
            refs = {}
            for label, path in (("titiler, VN-2000 COG", cog), ("titiler, aligned copy", web)):
                ti_paths = [f"/cog/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png?url={path}"
                            for t in tiles]
                with uvicorn(venv, "titiler.application.main:app", free_port(), args.workers,
                             env) as base:
                    refs[label] = run_wrk(base, ti_paths, args.seconds, args.connections)
    rows = [("server", "tiles/s", "p50 ms", "p99 ms", "errors"),
            ("ours", f"{a['rps']:.1f}", f"{a['p50']:.1f}", f"{a['p99']:.1f}", a["errors"])]
    for label, b in refs.items():
        rows.append((label, f"{b['rps']:.1f}", f"{b['p50']:.1f}", f"{b['p99']:.1f}", b["errors"]))
    for label, b in refs.items():
        rows.append((f"ratio ours / {label}", f"{a['rps'] / b['rps']:.2f}x", "", "", ""))
    table(f"Raster tiles: {len(tiles)} PNG tiles z16-18 of one 4000x4000 COG, "
          f"{args.workers} workers, wrk -c{args.connections} {args.seconds}s", rows)


# --- vector ------------------------------------------------------------------------------------

def bare_sql(settings: Settings, tiles, layer: str = "zones") -> float:
    """Mean seconds per tile of the zones ST_AsMVT statement alone, sequential, one connection."""
    lyr = registry.get(layer, registry.MVT)
    sql = tile_sql(lyr).text
    names = re.findall(r"(?<!:):(\w+)", sql)
    psql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
    with psycopg.connect(settings.sync_database_url) as conn:
        params = [tile_params(lyr, TMS, t, settings) for t in tiles]
        params = [p for p in params if p]
        for p in params[:20]:
            conn.execute(psql, p).fetchone()
        start = time.perf_counter()
        rounds = 0
        while time.perf_counter() - start < 3:
            for p in params:
                conn.execute(psql, {k: p[k] for k in names}).fetchone()
            rounds += 1
        return (time.perf_counter() - start) / (rounds * len(params))


def bench_vector(args, settings: Settings, venv: Path) -> None:
    tiles = zone_tiles(settings, (14, 15, 16))
    ours_paths = [f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt" for t in tiles]
    tipg_paths = [f"/collections/public.land_use_zones/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"
                  for t in tiles]
    heavy = zone_tiles(settings, (10, 11, 12))
    heavy_paths = [f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt" for t in heavy]
    runs = {}
    # "rendered": the tile cache off (PLANNING_MVT_CACHE_MB=0), every request runs ST_AsMVT, as
    # tipg does; "cached": the deployed default, tiles kept under the layer's edition.
    for mode, env in (("rendered", {"PLANNING_MVT_CACHE_MB": "0"}), ("cached", {})):
        with ours(free_port(), args.workers, settings, args.threads, **env) as base:
            runs[mode] = (run_wrk(base, ours_paths, args.seconds, args.connections),
                          run_wrk(base, ours_paths, args.seconds, 1, 1),
                          run_wrk(base, heavy_paths, args.seconds, 1, 1))
    with uvicorn(venv, "tipg.main:app", free_port(), args.workers, tipg_env(settings)) as base:
        b = run_wrk(base, tipg_paths, args.seconds, args.connections)
    sql_s = bare_sql(settings, tiles)
    sql_heavy = bare_sql(settings, heavy)
    rows = [("server", "tiles/s", "p50 ms", "p99 ms", "errors")]
    for mode, (a, _, _) in runs.items():
        rows.append((f"ours, {mode}", f"{a['rps']:.1f}", f"{a['p50']:.2f}", f"{a['p99']:.2f}",
                     a["errors"]))
    rows.append(("tipg", f"{b['rps']:.1f}", f"{b['p50']:.2f}", f"{b['p99']:.2f}", b["errors"]))
    for mode, (a, _, _) in runs.items():
        rows.append((f"ratio ours {mode} / tipg", f"{a['rps'] / b['rps']:.2f}x", "", "", ""))
    table(f"Vector tiles: zones layer, {len(tiles)} tiles z14-16 over the demo, "
          f"{args.workers} workers, wrk -c{args.connections} {args.seconds}s", rows)
    for label, sql, idx in ((f"{len(tiles)} LIGHT tiles z14-16", sql_s, 1),
                            (f"{len(heavy)} HEAVY tiles z10-12", sql_heavy, 2)):
        rows = [("what", "mean ms/tile", "ours / SQL")]
        rows.append(("bare SQL (psycopg, 1 conn)", f"{sql * 1000:.2f}", "1.00x"))
        for mode, res in runs.items():
            mean = res[idx]["mean"]
            rows.append((f"ours {mode}, HTTP (wrk -c1)", f"{mean:.2f}",
                         f"{mean / (sql * 1000):.2f}x"))
        table(f"Vector tiles, {label}: one client, ours vs the bare ST_AsMVT SQL "
              "(same tiles, sequential)", rows)


def tipg_env(settings: Settings) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=settings.sync_database_url,
                TIPG_DB_SCHEMAS='["public"]', TIPG_MAX_FEATURES_PER_QUERY="10000")


def bench_ogc(args, settings: Settings, venv: Path) -> None:
    offsets = list(range(0, 600, 50))
    ours_paths = [f"/ogc/collections/zones/items?limit=50&offset={o}" for o in offsets]
    tipg_paths = [f"/collections/public.land_use_zones/items?limit=50&offset={o}"
                  for o in offsets]
    with ours(free_port(), args.workers, settings, args.threads) as base:
        a = run_wrk(base, ours_paths, args.seconds, args.connections)
    with uvicorn(venv, "tipg.main:app", free_port(), args.workers, tipg_env(settings)) as base:
        b = run_wrk(base, tipg_paths, args.seconds, args.connections)
    table(f"OGC items: zones, pages of 50 (offsets 0-550), {args.workers} workers, "
          f"wrk -c{args.connections} {args.seconds}s", [
              ("server", "pages/s", "p50 ms", "p99 ms", "errors"),
              ("ours", f"{a['rps']:.1f}", f"{a['p50']:.1f}", f"{a['p99']:.1f}", a["errors"]),
              ("tipg", f"{b['rps']:.1f}", f"{b['p50']:.1f}", f"{b['p99']:.1f}", b["errors"]),
              ("ratio ours/tipg", f"{a['rps'] / b['rps']:.2f}x", "", "", ""),
          ])


def bench_lookup(args, settings: Settings) -> None:
    with get_engine(settings).connect() as conn:
        pts = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform((ST_Dump(ST_GeneratePoints("
            "ST_Union(geom), 500, 1))).geom, 4326) p FROM land_use_zones) x")).all()
    paths = [f"/api/lookup?lon={x:.6f}&lat={y:.6f}" for x, y in pts]
    rows = [("answers", "requests/s", "p50 ms", "p99 ms", "errors (non-2xx + socket)")]
    # "computed": the answer cache off, every request runs the whole look-up statement and
    # assembles the answer; "cached": the deployed default, answers kept by (edition, zones and
    # plans under the point), which the 500 points share after the first pass.
    for mode, env in (("computed", {"PLANNING_LOOKUP_CACHE_MB": "0"}), ("cached", {})):
        with ours(free_port(), args.workers, settings, args.threads, **env) as base:
            a = run_wrk(base, paths, args.lookup_seconds, 32)
        rows.append((mode, f"{a['rps']:.1f}", f"{a['p50']:.1f}", f"{a['p99']:.1f}", a["errors"]))
    table(f"Look-up: GET /api/lookup at 500 random points in the demo zones, gunicorn --workers "
          f"{args.workers} --threads {args.threads}, wrk -t2 -c32 -d{args.lookup_seconds}s", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4,
                    help="gunicorn threads per worker for ours (run.sh's default)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--lookup-seconds", type=int, default=30, help="the issue asks for 30 s")
    ap.add_argument("--venv", default="/tmp/serving-bench/venv")
    ap.add_argument("--only", default="raster,vector,ogc,lookup")
    args = ap.parse_args()
    settings = Settings.from_env()
    only = set(args.only.split(","))
    print(f"# Serving bench {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, "
          f"database {settings.sync_database_url.rsplit('@', 1)[-1]}; ours: gunicorn --workers "
          f"{args.workers} --threads {args.threads}; references: uvicorn --workers {args.workers}")
    venv = ensure_venv(Path(args.venv)) if only & {"raster", "vector", "ogc"} else Path()
    if "raster" in only:
        bench_raster(args, settings, venv)
    if "vector" in only:
        bench_vector(args, settings, venv)
    if "ogc" in only:
        bench_ogc(args, settings, venv)
    if "lookup" in only:
        bench_lookup(args, settings)


if __name__ == "__main__":
    main()
