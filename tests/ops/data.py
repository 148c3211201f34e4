"""Data for the operations tests: a generated scan on an exact affine mapping and a sheet ready
to publish, committed in a database of the test's own (a worker process must see it)."""

from __future__ import annotations

from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box

from planning_gis import db
from planning_gis.settings import Settings

E0, N0, RES = 584000.0, 2330000.0, 0.5


def make_scan(path: Path, width: int, height: int) -> None:
    """An RGB TIFF of a drawn pattern with scanner noise (so the warp and the COG have work)."""
    import numpy as np
    import rasterio

    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint8", tiled=True, compress="deflate") as dst:
        for y0 in range(0, height, 512):
            h = min(512, height - y0)
            yy, xx = np.mgrid[y0:y0 + h, 0:width]
            block = np.empty((3, h, width), np.int16)
            block[0] = 230 - ((xx // 400 + yy // 400) % 2) * 60
            block[1] = 220 - ((xx % 1000) < 4) * 200 - ((yy % 1000) < 4) * 200
            block[2] = 200 + (xx * 7 + yy * 3) % 40
            block += rng.integers(-6, 7, block.shape, dtype=np.int16)
            dst.write(np.clip(block, 0, 255).astype(np.uint8), window=((y0, y0 + h), (0, width)))


def publishable_sheet(settings: Settings, folder: Path, width: int, height: int,
                      email: str = "van-hanh@quyhoach.test") -> tuple[int, int]:
    """A planner, a plan and a sheet (scan stored by the upload code, 12 control points);
    ``(user_id, sheet_id)``."""
    from planning_gis.accounts.users import create_user
    from planning_gis.models import ControlPoint, MapSheet, Plan
    from planning_gis.workspace.uploads import store_scan

    scan = folder / f"to-{width}x{height}.tif"
    make_scan(scan, width, height)
    with open(scan, "rb") as fh:
        stored = store_scan(fh, scan.name, settings)
    w, h = width * RES, height * RES
    with db.session_scope(settings) as session:
        user = create_user(session, email, "mat-khau-dai-du-12", "planner",
                           organisation="Vận hành")
        plan = Plan(name="Vận hành", kind="chi_tiet", status="draft", organisation="Vận hành",
                    organisation_id=user.organisation_id,
                    geom=from_shape(MultiPolygon([box(E0, N0 - h, E0 + w, N0)]), 5897))
        session.add(plan)
        session.flush()
        sheet = MapSheet(plan_id=plan.id, title="Tờ vận hành", scan_sha256=stored.sha256,
                         scan_size=scan.stat().st_size, scan_format="tif", width=width,
                         height=height, state="control_points")
        session.add(sheet)
        session.flush()
        for i, fx in enumerate((0.05, 0.35, 0.65, 0.95)):
            for j, fy in enumerate((0.05, 0.5, 0.95)):
                px, py = fx * width, fy * height
                session.add(ControlPoint(sheet_id=sheet.id, label=f"G{i}{j}", pixel_x=px,
                                         pixel_y=py, easting=E0 + px * RES,
                                         northing=N0 - py * RES))
        return user.id, sheet.id


def enqueue_publish(settings: Settings, user_id: int, sheet_id: int) -> int:
    """Queue a publish of the sheet as the web request does; the job's id."""
    from planning_gis.models import MapSheet, User
    from planning_gis.workspace import jobs

    with db.session_scope(settings) as session:
        return jobs.enqueue_publish(session, session.get(User, user_id),
                                    session.get(MapSheet, sheet_id)).id


def job_state(settings: Settings, job_id: int):
    """The job row, detached (read in a session of its own)."""
    from planning_gis.models import Job

    with db.session_scope(settings) as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job
