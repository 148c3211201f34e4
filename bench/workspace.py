#!/usr/bin/env python3
"""Workspace figures: upload of a 20 000 x 14 000 scan (time, peak memory) and the time from
"publish" to a visible tile of that sheet.

Runs against a throw-away database (created, migrated, dropped) and a temporary data folder.
The scan is a generated RGB TIFF (strips of a drawn pattern, deflate); its control points follow
an exact affine mapping at 0.25 m per pixel, so the warp has real work to do. The upload runs in
a child process so its peak RSS is the upload's own. Usage: ``python bench/workspace.py
[--width 20000 --height 14000]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

E0, N0, RES = 584000.0, 2330000.0, 0.25


def make_scan(path: Path, width: int, height: int) -> None:
    import numpy as np
    import rasterio

    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint8", tiled=True, compress="deflate", BIGTIFF="YES") as dst:
        for y0 in range(0, height, 512):
            h = min(512, height - y0)
            yy, xx = np.mgrid[y0:y0 + h, 0:width]
            block = np.empty((3, h, width), np.uint8)
            block[0] = 230 - ((xx // 400 + yy // 400) % 2) * 60
            block[1] = 220 - ((xx % 1000) < 4) * 200 - ((yy % 1000) < 4) * 200
            block[2] = (200 + (xx * 7 + yy * 3) % 40).astype(np.uint8)
            block = np.clip(block.astype(np.int16) + rng.integers(-6, 7, block.shape,
                                                                  dtype=np.int16), 0, 255)
            block = block.astype(np.uint8)  # scanner noise: a realistic file size
            dst.write(block, window=((y0, y0 + h), (0, width)))


def child_upload(scan: str) -> None:
    """In a child process: store the scan (stream, hash, probe, previews); print figures."""
    from planning_gis.settings import Settings
    from planning_gis.workspace.uploads import store_scan

    settings = Settings.from_env()
    t = time.perf_counter()
    with open(scan, "rb") as fh:
        stored = store_scan(fh, Path(scan).name, settings)
    dt = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{dt:.1f} {peak_mb:.0f} {stored.sha256}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=20000)
    ap.add_argument("--height", type=int, default=14000)
    ap.add_argument("--child-upload")
    args = ap.parse_args()
    if args.child_upload:
        child_upload(args.child_upload)
        return 0

    from tests.conftest import create_database, drop_database

    name = f"planning_bench_ws_{os.getpid()}"
    url = create_database(name)
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        env = dict(os.environ, PLANNING_DATABASE_URL=url, PLANNING_DATA_DIR=tmp)
        os.environ.update(PLANNING_DATABASE_URL=url, PLANNING_DATA_DIR=tmp)
        try:
            return run(args, Path(tmp), env)
        finally:
            drop_database(name)


def run(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> int:
    import io

    from geoalchemy2.shape import from_shape
    from PIL import Image
    from shapely.geometry import MultiPolygon, box

    from planning_gis import db, legend, migrate
    from planning_gis.accounts.users import create_user
    from planning_gis.models import ControlPoint, MapSheet, Plan
    from planning_gis.settings import Settings, reset_settings
    from planning_gis.workspace import sheets
    from server import create_app

    reset_settings()
    settings = Settings.from_env()
    migrate.upgrade("head", settings)
    with db.session_scope(settings) as s:
        legend.load_legend(s)

    scan = tmp / "scan-input.tif"
    t = time.perf_counter()
    make_scan(scan, args.width, args.height)
    gen = time.perf_counter() - t
    size_mb = scan.stat().st_size / 2**20
    print(f"scan: {args.width} x {args.height} px RGB TIFF, {size_mb:.0f} MB "
          f"(generated in {gen:.1f} s)")

    out = subprocess.run([sys.executable, __file__, "--child-upload", str(scan)], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    secs, peak, sha = out.stdout.split()
    print(f"upload (stream + sha256 + pixel check + preview COG + thumbnail): {float(secs):.1f} s, "
          f"peak RSS {peak} MB")

    w, h = args.width * RES, args.height * RES
    with db.session_scope(settings) as s:
        user = create_user(s, "bench@quyhoach.demo", "bench-password-1", "planner",
                           organisation="Bench")
        plan = Plan(name="Bench", kind="chi_tiet", status="draft", organisation="Bench",
                    organisation_id=user.organisation_id,
                    geom=from_shape(MultiPolygon([box(E0, N0 - h, E0 + w, N0)]), 5897))
        s.add(plan)
        s.flush()
        sheet = MapSheet(plan_id=plan.id, title="Bench", scan_sha256=sha,
                         scan_size=scan.stat().st_size, scan_format="tif", width=args.width,
                         height=args.height, state="control_points")
        s.add(sheet)
        s.flush()
        for i, fx in enumerate((0.05, 0.35, 0.65, 0.95)):
            for j, fy in enumerate((0.05, 0.5, 0.95)):
                px, py = fx * args.width, fy * args.height
                s.add(ControlPoint(sheet_id=sheet.id, label=f"G{i}{j}", pixel_x=px,
                                   pixel_y=py, easting=E0 + px * RES, northing=N0 - py * RES))
        sheet_id, user_id = sheet.id, user.id

    import morecantile

    from planning_gis.crs import vn2000_to_lonlat
    from planning_gis.models import User

    lon, lat = vn2000_to_lonlat(E0 + w / 2, N0 - h / 2)
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 17)
    # A throw-away session key: the bench's app signs no session anyone else sees.
    import dataclasses
    import secrets

    app = create_app(dataclasses.replace(settings, secret_key=secrets.token_urlsafe(48)))
    client = app.test_client()
    t0 = time.perf_counter()
    with db.session_scope(settings) as s:
        sheet = s.get(MapSheet, sheet_id)
        version = sheets.publish(s, s.get(User, user_id), sheet, settings)
        method = version.method
    t_published = time.perf_counter() - t0
    visible = None
    while visible is None and time.perf_counter() - t0 < 600:
        resp = client.get(f"/tiles/sheets/{sheet_id}/{tile.z}/{tile.x}/{tile.y}.png")
        if resp.status_code == 200:
            img = Image.open(io.BytesIO(resp.data)).convert("RGBA")
            if img.getchannel("A").getextrema()[1] > 0:
                visible = time.perf_counter() - t0
    cog = next(settings.cogs_dir.glob("*.tif"))
    print(f"publish ({method} warp of the full scan to a COG + version row): {t_published:.1f} s, "
          f"COG {cog.stat().st_size / 2**20:.0f} MB")
    print(f"publish -> first non-transparent tile z{tile.z}/{tile.x}/{tile.y}: "
          + (f"{visible:.1f} s" if visible is not None else "not visible within 600 s"))
    print(f"peak RSS of the bench process (publish included): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
