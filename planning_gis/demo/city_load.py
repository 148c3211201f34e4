"""Load the Hanoi-size city (:mod:`planning_gis.demo.city_size`) with COPY, batch by batch.

Why this shape:

* **COPY** (psycopg's ``cursor.copy``), geometries as hex EWKB: the ORM path of the small demo
  would take hours for 500,000 zones. The statement triggers of migration 0006 fire once per COPY
  statement, and the generated ``search_tsv`` columns are computed by PostgreSQL as rows arrive.
* **One transaction per batch**, and the batch's name written in ``demo_city_batches`` in that
  same transaction: a killed load leaves whole batches only, and the next run skips the batches
  that are recorded and continues (nothing is duplicated). A batch's COG files are removed if its
  transaction fails.
* **Memory bounded**: a batch is ~25 plans, built, written and dropped before the next.
* ``ANALYZE`` at the end, so that the first queries plan with the real sizes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from planning_gis import db
from planning_gis.crs import STORAGE_SRID
from planning_gis.demo.city import FICTIONAL
from planning_gis.demo.city_size import (
    CITY,
    OLD_DISTRICTS,
    PLACES,
    CityPlan,
    CitySize,
    PlanSpec,
    batches,
    build_plan,
    documents_for_plan,
    extent_m,
    inner_m,
    plan_specs,
)
from planning_gis.settings import Settings, get_settings

BATCH_TABLE = "demo_city_batches"
#: The tables the city fills (ANALYZE and the report's sizes).
TABLES = ("plans", "land_use_zones", "red_lines", "admin_units", "documents", "document_pages",
          "plan_documents", "map_sheets", "sheet_versions")
SHEET_PREFIX = "city-sheet-"


@dataclass
class CityLoadSummary:
    loaded: bool
    batches_done: int = 0
    batches_skipped: int = 0
    plans: int = 0
    zones: int = 0
    red_lines: int = 0
    documents: int = 0
    sheets: int = 0
    units: int = 0
    seconds: float = 0.0
    analyze_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        if not self.loaded:
            return "city already loaded: nothing to do (use --force to reload)"
        totals = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        return (f"city loaded in {self.seconds:.1f} s ({self.seconds / 60:.1f} min, ANALYZE "
                f"{self.analyze_seconds:.1f} s): {self.batches_done} batches loaded now, "
                f"{self.batches_skipped} were already there; in the database: {totals}")


def _ensure_batch_table(settings: Settings) -> None:
    with db.get_engine(settings).begin() as conn:
        conn.execute(text(
            f"CREATE TABLE IF NOT EXISTS {BATCH_TABLE} (name text PRIMARY KEY, "
            "plans integer NOT NULL, zones integer NOT NULL, documents integer NOT NULL, "
            "seconds double precision NOT NULL, finished_at timestamptz NOT NULL DEFAULT now())"))


def done_batches(settings: Settings) -> set[str]:
    """Names of the batches already committed (what a resumed run skips)."""
    _ensure_batch_table(settings)
    with db.get_engine(settings).connect() as conn:
        return set(conn.execute(text(f"SELECT name FROM {BATCH_TABLE}")).scalars())


def _ids(cur, sequence: str, n: int) -> list[int]:
    if n == 0:
        return []
    cur.execute(f"SELECT nextval('{sequence}') FROM generate_series(1, %s)", (n,))
    return [r[0] for r in cur.fetchall()]


def _copy(cur, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _ewkb(geoms) -> list[str]:
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), STORAGE_SRID)
    return shapely.to_wkb(arr, hex=True, include_srid=True).tolist()


def _num(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def _int(values: np.ndarray) -> list[int | None]:
    return [None if v < 0 else v for v in values.tolist()]


# --- administrative units -----------------------------------------------------------------------

def _units(cur) -> int:
    """The city, its 30 districts until 30/6/2025 and 126 wards and communes from 1/7/2025
    (Resolution 1656/NQ-UBTVQH15 abolished the district level); each old unit names the new
    unit at its centre as successor. Shapes are a fictional grid over the real extent."""
    x0, y0, x1, y1 = extent_m()
    ix0, iy0, ix1, iy1 = inner_m()
    core = ((ix0 + ix1) / 2, (iy0 + iy1) / 2)

    def grid(cols: int, rows: int):
        w, h = (x1 - x0) / cols, (y1 - y0) / rows
        cells = [(x0 + i * w, y0 + j * h, x0 + (i + 1) * w, y0 + (j + 1) * h)
                 for i in range(cols) for j in range(rows)]
        return sorted(cells, key=lambda b: (math.hypot((b[0] + b[2]) / 2 - core[0],
                                                       (b[1] + b[3]) / 2 - core[1]), b))

    old_end, new_start = dt.date(2025, 6, 30), dt.date(2025, 7, 1)
    old_cells, new_cells = grid(6, 5), grid(14, 9)
    ids = _ids(cur, "admin_units_id_seq", 1 + len(old_cells) + len(new_cells))
    city_id, old_ids, new_ids = ids[0], ids[1:31], ids[31:]
    new_boxes = [shapely.box(*b) for b in new_cells]
    tree = shapely.STRtree(new_boxes)
    rows = [(city_id, f"Thành phố Hà Nội {FICTIONAL}", "thanh_pho", "01", None, None, None,
             None, True, _ewkb([shapely.multipolygons([shapely.box(x0, y0, x1, y1)])])[0])]
    for k, cell in enumerate(new_cells):
        ward = k < 51
        name = f"{'Phường' if ward else 'Xã'} {PLACES[k % len(PLACES)]}"
        if k >= len(PLACES):
            name += f" {k // len(PLACES) + 1}"
        rows.append((new_ids[k], f"{name} {FICTIONAL}", "phuong" if ward else "xa",
                     f"N{k + 1:03d}", city_id, new_start, None, None, True,
                     _ewkb([shapely.multipolygons([shapely.box(*cell)])])[0]))
    for k, cell in enumerate(old_cells):
        name, level = OLD_DISTRICTS[k]
        title = {"quan": "Quận", "huyen": "Huyện", "thi_xa": "Thị xã"}[level]
        centre = shapely.Point((cell[0] + cell[2]) / 2, (cell[1] + cell[3]) / 2)
        successor = new_ids[int(tree.query(centre, predicate="intersects")[0])]
        rows.append((old_ids[k], f"{title} {name} {FICTIONAL}", level, f"{k + 1:03d}", city_id,
                     dt.date(2008, 8, 1), old_end, successor, True,
                     _ewkb([shapely.multipolygons([shapely.box(*cell)])])[0]))
    return _copy(cur, "admin_units", ("id", "name", "level", "code", "parent_id", "valid_from",
                                       "valid_to", "successor_id", "is_fictional", "geom"), rows)


# --- sheets -------------------------------------------------------------------------------------

def _sheet_cog(plan: CityPlan, path: Path, colours: dict[str, str]) -> tuple[int, int]:
    """A small RGBA raster of the plan's zones in VN-2000, written as a COG, and the tile
    server's grid-aligned copy through the publish path's own :func:`tiles.web_cog.make_web_cog`."""
    import rasterio
    from rasterio.features import rasterize
    from rasterio.io import MemoryFile
    from rasterio.transform import from_bounds
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    from tiles.web_cog import make_web_cog

    minx, miny, maxx, maxy = plan.outline.bounds
    scale = 384 / max(maxx - minx, maxy - miny)
    width, height = max(16, int((maxx - minx) * scale)), max(16, int((maxy - miny) * scale))
    transform = from_bounds(minx, miny, maxx, maxy, width, height)
    codes = sorted(set(plan.codes.tolist()))
    index = {c: i + 1 for i, c in enumerate(codes)}
    idx = rasterize(((g, index[c]) for g, c in zip(plan.geoms, plan.codes.tolist(), strict=True)),
                    out_shape=(height, width), transform=transform, fill=0, dtype="uint8")
    lut = np.zeros((len(codes) + 1, 3), "uint8")
    lut[0] = (255, 255, 255)
    for c, i in index.items():
        h = colours.get(c, "#cccccc").lstrip("#")
        lut[i] = tuple(int(h[j:j + 2], 16) for j in (0, 2, 4))
    rgb = np.moveaxis(lut[idx], -1, 0)
    alpha = np.where(idx > 0, 255, 0).astype("uint8")
    profile = dict(driver="GTiff", width=width, height=height, count=4, dtype="uint8",
                   crs=f"EPSG:{STORAGE_SRID}", transform=transform)
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(np.concatenate([rgb, alpha[None]]))
            ci = rasterio.enums.ColorInterp
            ds.colorinterp = [ci.red, ci.green, ci.blue, ci.alpha]
        with mem.open() as src:
            cog_translate(src, str(path), cog_profiles.get("deflate"), quiet=True)
    make_web_cog(path)
    return width, height


def _sheets(cur, plans: list[CityPlan], plan_ids: dict[str, int], settings: Settings,
            colours: dict[str, str], written: list[Path]) -> dict[str, int]:
    chosen = [p for p in plans if p.spec.sheet]
    ids = _ids(cur, "map_sheets_id_seq", len(chosen))
    settings.cogs_dir.mkdir(parents=True, exist_ok=True)
    sheet_of: dict[str, int] = {}
    rows, versions = [], []
    now = dt.datetime.now(dt.UTC)
    from tiles.web_cog import web_cog_path

    for sid, plan in zip(ids, chosen, strict=True):
        name = f"{SHEET_PREFIX}{plan.spec.key}.tif"
        path = settings.cogs_dir / name
        written += [path, web_cog_path(path)]
        width, height = _sheet_cog(plan, path, colours)
        footprint = _ewkb([plan.outline.geoms[0]])[0]
        sha = hashlib.sha256(f"city-scan:{plan.spec.key}".encode()).hexdigest()
        title = f"Bản đồ quy hoạch sử dụng đất – {plan.spec.name}"
        rows.append((sid, plan_ids[plan.spec.key], title, sha, width * height * 4,
                     f"{plan.spec.key}.tif", width, height, STORAGE_SRID, "published", "affine",
                     0.0, 0.0, name, footprint, now, 1))
        versions.append((sid, 1, name, "affine", 0.0, 0.0, "[]", footprint))
        sheet_of[plan.spec.key] = sid
    _copy(cur, "map_sheets", ("id", "plan_id", "title", "scan_sha256", "scan_size", "scan_name",
                              "width", "height", "crs_epsg", "state", "method", "rmse_m",
                              "loo_rmse_m", "cog_path", "footprint", "published_at",
                              "current_version"), rows)
    _copy(cur, "sheet_versions", ("sheet_id", "version", "cog_path", "method", "rmse_m",
                                  "loo_rmse_m", "points", "footprint"), versions)
    return sheet_of


# --- one batch ----------------------------------------------------------------------------------

@dataclass
class _BatchCounts:
    plans: int = 0
    zones: int = 0
    red_lines: int = 0
    documents: int = 0
    sheets: int = 0
    units: int = 0


def _load_batch(session: Session, name: str, specs: list[PlanSpec], size: CitySize,
                settings: Settings, colours: dict[str, str], written: list[Path]) -> _BatchCounts:
    cur = session.connection().connection.driver_connection.cursor()
    cur.execute("SET LOCAL synchronous_commit = off")
    counts = _BatchCounts()
    if name == "master-000":
        counts.units = _units(cur)
    plans = [build_plan(s, size) for s in specs]
    ids = _ids(cur, "plans_id_seq", len(plans))
    plan_ids = dict(zip((s.key for s in specs), ids, strict=True))
    counts.plans = _copy(cur, "plans", (
        "id", "name", "kind", "scale_denominator", "status", "decision_number", "decision_date",
        "approving_body", "organisation", "valid_from", "valid_to", "supersedes_id", "area_ha",
        "description", "is_fictional", "geom"), (
        (plan_ids[p.spec.key], p.spec.name, p.spec.kind, p.spec.scale_denominator, p.spec.status,
         p.spec.decision_number, p.spec.decision_date, p.spec.approving_body,
         p.spec.organisation, p.spec.valid_from, p.spec.valid_to,
         plan_ids.get(p.spec.supersedes) if p.spec.supersedes else None,
         round(p.outline.area / 10000, 2), p.spec.description, True, _ewkb([p.outline])[0])
        for p in plans))
    sheet_of = _sheets(cur, plans, plan_ids, settings, colours, written)
    counts.sheets = len(sheet_of)

    def zone_rows():
        for p in plans:
            pid = plan_ids[p.spec.key]
            sid = sheet_of.get(p.spec.key)
            codes = p.codes.tolist()
            for lbl, code, area, cov, lo, hi, far, pop, wkb in zip(
                    p.labels, codes, np.round(shapely.area(p.geoms), 1).tolist(), _num(p.coverage),
                    _int(p.floors_min), _int(p.floors_max), _num(p.far), _int(p.population),
                    _ewkb(p.geoms), strict=True):
                yield (pid, sid if code != "GT" else None, lbl, code, area, cov, lo, hi, far, pop,
                       wkb)

    counts.zones = _copy(cur, "land_use_zones", (
        "plan_id", "sheet_id", "label", "function_code", "area_m2", "coverage_pct", "floors_min",
        "floors_max", "far", "population", "geom"), zone_rows())
    counts.red_lines = _copy(cur, "red_lines", ("plan_id", "road_name", "width_m", "geom"), (
        (plan_ids[p.spec.key], road, width, _ewkb([geom])[0])
        for p in plans for road, width, geom in p.red_lines))
    docs = [(p.spec.key, d) for p in plans for d in documents_for_plan(p.spec, p, size)]
    doc_ids = _ids(cur, "documents_id_seq", len(docs))
    counts.documents = _copy(cur, "documents", (
        "id", "doc_type", "number", "issued_on", "issuer", "title", "file_sha256", "file_size",
        "file_name", "page_count", "text", "is_fictional"), (
        (i, d.doc_type, d.number, d.issued_on, d.issuer, d.title, d.sha256,
         len(d.text.encode()), f"{d.doc_type}-{i}.pdf", len(d.pages), d.text, True)
        for i, (_, d) in zip(doc_ids, docs, strict=True)))
    order: dict[str, int] = {}

    def links():
        for i, (key, _) in zip(doc_ids, docs, strict=True):
            order[key] = order.get(key, 0) + 1
            yield plan_ids[key], i, order[key]

    _copy(cur, "plan_documents", ("plan_id", "document_id", "sort_order"), links())
    _copy(cur, "document_pages", ("document_id", "page_no", "text", "source"), (
        (i, n, page, "text") for i, (_, d) in zip(doc_ids, docs, strict=True)
        for n, page in enumerate(d.pages, start=1)))
    return counts


def _load_pdfs(session: Session, size: CitySize, settings: Settings) -> int:
    """A sample of real PDFs (decisions of the master and zoning plans) through the document
    store, the one path for documents: text layer read, file stored by sha256."""
    from planning_gis.demo.documents import DemoDocument, render_pdf
    from planning_gis.documents.store import DocumentMetadata, DocumentStore

    store = DocumentStore.from_settings(settings)
    rows = session.execute(text(
        "SELECT id, name, decision_number, decision_date, approving_body FROM plans "
        "WHERE is_fictional AND kind IN ('chung', 'phan_khu') AND decision_number IS NOT NULL "
        "ORDER BY id LIMIT :n"), {"n": size.pdfs}).all()
    for k, (pid, name, number, date, body) in enumerate(rows):
        doc = DemoDocument(
            "quyet_dinh", number, date, body, f"Quyết định phê duyệt (bản PDF) {name}",
            ["Văn bản minh họa của bản demo, không có giá trị pháp lý.", body.upper(),
             f"Số: {number}", "QUYẾT ĐỊNH", f"Về việc phê duyệt {name}.",
             "Căn cứ Luật Quy hoạch đô thị ngày 17 tháng 6 năm 2009;",
             f"Điều 1. Phê duyệt {name}.", "Điều 2. Quyết định có hiệu lực kể từ ngày ký."],
            [])
        meta = DocumentMetadata(doc_type="quyet_dinh", number=number, issued_on=date,
                                issuer=body, title=doc.title, file_name=f"city-pdf-{k + 1:02d}.pdf",
                                is_fictional=True)
        store.add_document_data(session, render_pdf(doc, settings), meta, [pid])
    return len(rows)


# --- the whole load -----------------------------------------------------------------------------

def _record(session: Session, name: str, c: _BatchCounts, seconds: float) -> None:
    session.execute(text(f"INSERT INTO {BATCH_TABLE} (name, plans, zones, documents, seconds) "
                         "VALUES (:n, :p, :z, :d, :s)"),
                    {"n": name, "p": c.plans, "z": c.zones, "d": c.documents, "s": seconds})


def remove_city(settings: Settings) -> None:
    """Everything fictional (the city or the demo), the batch records and the city's COGs."""
    from planning_gis.demo import _remove_demo

    _ensure_batch_table(settings)
    with db.session_scope(settings) as session:
        session.execute(text("DELETE FROM map_sheets s USING plans p "
                             "WHERE p.id = s.plan_id AND p.is_fictional"))
        _remove_demo(session)
        session.execute(text(f"DELETE FROM {BATCH_TABLE}"))
    for path in settings.cogs_dir.glob(f"{SHEET_PREFIX}*"):
        path.unlink(missing_ok=True)


def table_counts(settings: Settings) -> dict[str, int]:
    with db.get_engine(settings).connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def load_city(settings: Settings | None = None, *, force: bool = False, size: CitySize = CITY,
              after_batch: Callable[[str], None] | None = None,
              out: Callable[[str], None] = print) -> CityLoadSummary:
    """Generate and load the city, resuming after the last committed batch of an earlier run.

    ``after_batch(name)`` runs after each batch commits (tests raise from it to kill a load).
    """
    from planning_gis.legend import read_legend_csv

    settings = settings or get_settings()
    started = time.perf_counter()
    if force:
        remove_city(settings)
    done = done_batches(settings)
    specs = plan_specs(size)
    work = batches(specs, size)
    names = [n for n, _ in work] + ["pdfs", "accounts"]
    if set(names) <= done:
        return CityLoadSummary(loaded=False)
    colours = {row["code"]: row["color"] for row in read_legend_csv()}
    summary = CityLoadSummary(loaded=True)
    skipped = sum(1 for n in names if n in done)
    out(f"city: {len(specs):,} plans in {len(names)} batches; {skipped} already loaded"
        + (", continuing" if skipped else ""))
    total = _BatchCounts()
    for k, (name, group) in enumerate([*work, ("pdfs", []), ("accounts", [])], start=1):
        if name in done:
            summary.batches_skipped += 1
            continue
        t0 = time.perf_counter()
        written: list[Path] = []
        try:
            with db.session_scope(settings) as session:
                if name == "pdfs":
                    c = _BatchCounts(documents=_load_pdfs(session, size, settings))
                elif name == "accounts":
                    from planning_gis.demo.accounts import load_accounts

                    load_accounts(session)
                    c = _BatchCounts()
                else:
                    c = _load_batch(session, name, group, size, settings, colours, written)
                _record(session, name, c, time.perf_counter() - t0)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        for f in ("plans", "zones", "red_lines", "documents", "sheets", "units"):
            setattr(total, f, getattr(total, f) + getattr(c, f))
        summary.batches_done += 1
        elapsed = time.perf_counter() - started
        out(f"[{k}/{len(names)}] {name}: {c.plans} plans, {c.zones:,} zones, {c.red_lines} red "
            f"lines, {c.documents:,} documents, {c.sheets} sheets in "
            f"{time.perf_counter() - t0:.1f} s (total {total.zones:,} zones, {elapsed:.0f} s)")
        if after_batch is not None:
            after_batch(name)
    t0 = time.perf_counter()
    with db.get_engine(settings).connect().execution_options(
            isolation_level="AUTOCOMMIT") as conn:
        for t in TABLES:
            conn.execute(text(f"ANALYZE {t}"))
    summary.analyze_seconds = time.perf_counter() - t0
    for f in ("plans", "zones", "red_lines", "documents", "sheets", "units"):
        setattr(summary, f, getattr(total, f))
    summary.counts = table_counts(settings)
    summary.seconds = time.perf_counter() - started
    return summary
