"""The published sheets as raster layers: which sheets the tile server may read, where their COGs
are, and the one spelling of their tile URLs.

Everything reads the ``published_sheets`` view (migration 0008), which holds the one "published"
predicate. Tile URL paths are written here once: the routes of ``planning_gis/web/raster_tiles.py``
and ``vector_tiles.py`` are made from the same templates, and the services that hand a URL to a
client (the publish job's result, the list of published sheets) call :func:`sheet_tiles`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from planning_gis.errors import NotFound
from planning_gis.settings import Settings

#: Where every tile is served from.
TILES_PREFIX = "/tiles"
#: URL templates under the prefix (``{z}/{x}/{y}`` stay for the map client to fill in).
SHEET_TILE = "/sheets/{sheet_id}/{z}/{x}/{y}.{ext}"
PLAN_MOSAIC_TILE = "/plans/{plan_id}/mosaic/{z}/{x}/{y}.{ext}"
VECTOR_TILE = "/{layer}/{z}/{x}/{y}.mvt"


def route(template: str) -> str:
    """A Flask route rule from a URL template: ``{name}`` -> ``<name>``."""
    return re.sub(r"\{(\w+)\}", r"<\1>", template)


def _fill(template: str, **values: object) -> str:
    return TILES_PREFIX + template.format(z="{z}", x="{x}", y="{y}", **values)


def sheet_tiles(sheet_id: int, ext: str = "png") -> str:
    """The path template of one published sheet's tiles, e.g. ``/tiles/sheets/7/{z}/{x}/{y}.png``."""
    return _fill(SHEET_TILE, sheet_id=sheet_id, ext=ext)


def vector_tiles(layer: str) -> str:
    """The path template of a vector layer's tiles, e.g. ``/tiles/zones/{z}/{x}/{y}.mvt``."""
    return _fill(VECTOR_TILE, layer=layer)


SHEET_SQL = text(
    "SELECT s.id, s.plan_id, s.title, s.cog_path, p.name AS plan_name"
    " FROM published_sheets s JOIN plans p ON p.id = s.plan_id WHERE s.id = :id"
)
PLAN_SHEETS_SQL = text(
    "SELECT s.id, s.cog_path FROM published_sheets s WHERE s.plan_id = :plan_id"
    " ORDER BY s.published_at DESC NULLS LAST, s.id DESC"
)
PUBLISHED_SQL = text(
    """
    SELECT s.id, s.title, s.plan_id, p.name AS plan_name, s.method, s.rmse_m, s.loo_rmse_m,
           s.check_error_m, s.current_version, s.published_at,
           ST_XMin(b) AS w, ST_YMin(b) AS s, ST_XMax(b) AS e, ST_YMax(b) AS n
    FROM published_sheets s JOIN plans p ON p.id = s.plan_id,
         LATERAL (SELECT ST_Transform(s.footprint, 4326)::box2d::geometry AS b) f
    ORDER BY s.published_at DESC
    """
)


def cog_file(cog_path: str, settings: Settings) -> str:
    """A stored COG path: absolute as written, or relative to the COG folder of the settings."""
    p = Path(cog_path)
    return str(p if p.is_absolute() else settings.cogs_dir / p)


def published_sheet(conn: Connection, sheet_id: int) -> Any:
    """The row of one published sheet (id, plan, title, COG), or NotFound."""
    row = conn.execute(SHEET_SQL, {"id": sheet_id}).one_or_none()
    if row is None:
        raise NotFound(f"no published map sheet with id {sheet_id}",
                       message_vi=f"Không có tờ bản đồ đã công bố mã {sheet_id}")
    return row


def plan_cogs(conn: Connection, plan_id: int, settings: Settings) -> list[str]:
    """The COG files of a plan's published sheets, newest first, or NotFound when it has none."""
    rows = conn.execute(PLAN_SHEETS_SQL, {"plan_id": plan_id}).all()
    if not rows:
        raise NotFound(f"plan {plan_id} has no published map sheet",
                       message_vi=f"Đồ án {plan_id} chưa có tờ bản đồ nào được công bố")
    return [cog_file(r.cog_path, settings) for r in rows]


def published_sheets(conn: Connection) -> list[dict[str, Any]]:
    """Every published sheet with its accuracy and extent, newest first (the public list)."""
    out = []
    for r in conn.execute(PUBLISHED_SQL).all():
        out.append({
            "id": r.id, "title": r.title, "plan_id": r.plan_id, "plan": r.plan_name,
            "version": r.current_version, "method": r.method,
            "accuracy": {"check_error_m": r.check_error_m, "rmse_m": r.rmse_m,
                         "loo_rmse_m": r.loo_rmse_m,
                         "note_vi": "Sai số tại các điểm kiểm tra độc lập, sai số trung phương "
                                    "tại điểm khống chế (RMSE) và sai số kiểm tra chéo "
                                    "bỏ-một-điểm (LOO), đơn vị mét.",
                         "note_en": "Error at independent check points, root-mean-square error "
                                    "at the control points and leave-one-out cross-validation "
                                    "error, metres."},
            "published_at": r.published_at.isoformat() if r.published_at else None,
            "bounds": [r.w, r.s, r.e, r.n] if r.w is not None else None,
            "tiles": sheet_tiles(r.id),
        })
    return out
