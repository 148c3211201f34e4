"""A map picture around a point, drawn from PostGIS with PIL: no tile server, no external base.

The information sheet must print the same on an offline machine and must never depend on a
third-party base map, so we draw it ourselves: the zones of the governing plan (and the others
underneath) coloured by the legend, plan outlines, red boundary lines, the point and a scale bar.
Geometries are read in VN-2000 / TM-3 metres, so the picture is a plain linear scaling.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont
from shapely import wkb
from shapely.geometry import MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from planning_gis.crs import STORAGE_SRID
from planning_gis.models import PLAN_KINDS
from planning_gis.settings import Settings

BOX = f"ST_MakeEnvelope(:x0, :y0, :x1, :y1, {STORAGE_SRID})"
# Less detailed kinds first, so that the detailed zoning is painted over the master plan's.
_KIND_RANK = "CASE z.plan_kind " + " ".join(
    f"WHEN '{k}' THEN {rank}" for k, (_vi, _en, rank) in PLAN_KINDS.items()) + " ELSE 0 END"

ZONES_SQL = text(
    f"""
    SELECT z.label, z.color, z.plan_id, z.plan_status AS status, z.plan_kind AS kind,
           ST_AsBinary(ST_Intersection(z.geom, {BOX})) AS g
      FROM zones_with_legend z
     WHERE z.geom && {BOX} AND z.plan_status NOT IN ('superseded', 'draft')
     ORDER BY {_KIND_RANK}, array_position(:plan_ids, z.plan_id) DESC NULLS FIRST,
              ST_Area(z.geom) DESC
    """
)
PLANS_SQL = text(
    f"""SELECT ST_AsBinary(ST_Intersection(ST_Boundary(p.geom), {BOX})) AS g FROM plans p
        WHERE p.geom && {BOX} AND p.status <> 'superseded'"""
)
RESERVE_SQL = text(
    f"""SELECT ST_AsBinary(ST_Intersection(r.reserve, {BOX})) AS g FROM red_lines r
        JOIN plans p ON p.id = r.plan_id
        WHERE r.reserve && {BOX} AND p.status IN ('approved', 'amended')"""
)
RED_SQL = text(
    f"""SELECT ST_AsBinary(ST_Intersection(r.geom, {BOX})) AS g FROM red_lines r
        WHERE r.geom && {BOX}"""
)


@dataclass(frozen=True)
class View:
    """Metres to pixels: the point in the middle, north up."""

    e: float
    n: float
    half_m: float
    width: int
    height: int

    @property
    def scale(self) -> float:  # pixels per metre
        return self.width / (2 * self.half_m)

    def px(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.e) * self.scale + self.width / 2,
                self.height / 2 - (y - self.n) * self.scale)

    def bounds(self) -> dict[str, float]:
        half_h = self.half_m * self.height / self.width
        return {"x0": self.e - self.half_m, "y0": self.n - half_h,
                "x1": self.e + self.half_m, "y1": self.n + half_h}


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def _lines(geom: BaseGeometry) -> list:
    if geom.geom_type == "LineString":
        return [geom]
    if isinstance(geom, MultiLineString) or hasattr(geom, "geoms"):
        return [g for part in geom.geoms for g in _lines(part)]
    return []


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def render_snapshot(conn: Connection, e: float, n: float, plan_ids: list[int],
                    settings: Settings, *, half_m: float = 220.0, width: int = 1000,
                    height: int = 760, plot: BaseGeometry | None = None) -> bytes:
    """A PNG of the area around (easting, northing); plans drawn most detailed on top.

    ``plan_ids`` is the governing order of the look-up's answer: zones of the first plan are
    drawn last so that the governing zoning is what one sees. With ``plot`` (EPSG:5897) the
    plot is outlined instead of the point marked, and the view widened to hold it.
    """
    if plot is not None:
        x0, y0, x1, y1 = plot.bounds
        half_m = max(half_m, 0.65 * max(x1 - x0, (y1 - y0) * width / height))
    view = View(e, n, half_m, width, height)
    box = view.bounds()
    img = Image.new("RGB", (width, height), (248, 247, 242))
    draw = ImageDraw.Draw(img, "RGBA")
    font = ImageFont.truetype(settings.font_path, 18) if settings.font_path else None
    small = ImageFont.truetype(settings.font_path, 15) if settings.font_path else None
    labels: list[tuple[tuple[float, float], str]] = []
    governing = plan_ids[0] if plan_ids else None
    for row in conn.execute(ZONES_SQL, {**box, "plan_ids": plan_ids or [0]}):
        geom = wkb.loads(bytes(row.g))
        fill = _rgb(row.color) + (200,)
        for poly in _polygons(geom):
            if poly.is_empty:
                continue
            draw.polygon([view.px(x, y) for x, y in poly.exterior.coords], fill=fill,
                         outline=(70, 70, 70, 255))
            for hole in poly.interiors:
                draw.polygon([view.px(x, y) for x, y in hole.coords], fill=(248, 247, 242, 255),
                             outline=(70, 70, 70, 255))
        # Only the governing plan's zones are labelled: labels of every level collide and
        # mix plans (a master-plan label over a detailed plan's zone).
        if row.plan_id == governing and not geom.is_empty and geom.area * view.scale**2 > 2500:
            c = geom.representative_point()
            labels.append((view.px(c.x, c.y), row.label))
    for row in conn.execute(RESERVE_SQL, box):  # the road reserve, light red
        for poly in _polygons(wkb.loads(bytes(row.g))):
            if not poly.is_empty:
                draw.polygon([view.px(x, y) for x, y in poly.exterior.coords],
                             fill=(230, 40, 40, 70))
    for sql, color, width_px in ((PLANS_SQL, (20, 20, 20, 255), 3), (RED_SQL, (220, 0, 0, 255), 3)):
        for row in conn.execute(sql, box):
            for line in _lines(wkb.loads(bytes(row.g))):
                draw.line([view.px(x, y) for x, y in line.coords], fill=color, width=width_px)
    placed: list[tuple[float, float, float, float]] = []
    for (x, y), label in labels:
        w = 9 * len(label) + 8
        rect = (x - w / 2, y - 11, x + w / 2, y + 11)
        if any(rect[0] < q[2] and q[0] < rect[2] and rect[1] < q[3] and q[1] < rect[3]
               for q in placed):
            continue  # a label that would cover another is left out
        placed.append(rect)
        draw.text((x, y), label, fill=(20, 20, 20), font=small, anchor="mm",
                  stroke_width=2, stroke_fill=(255, 255, 255))
    if plot is not None:  # the plot: a blue outline over a white halo
        for poly in _polygons(plot):
            ring = [view.px(x, y) for x, y in poly.exterior.coords]
            draw.line(ring, fill=(255, 255, 255, 255), width=9, joint="curve")
            draw.line(ring, fill=(0, 60, 200, 255), width=5, joint="curve")
    else:  # the point: a ringed dot that reads on every fill colour
        cx, cy = width / 2, height / 2
        draw.ellipse((cx - 13, cy - 13, cx + 13, cy + 13), outline=(255, 255, 255), width=5)
        draw.ellipse((cx - 11, cy - 11, cx + 11, cy + 11), outline=(0, 60, 200), width=4)
        draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=(0, 60, 200))
    # Scale bar of 100 m and a north arrow.
    bar = 100 * view.scale
    y0 = height - 30
    draw.rectangle((20, y0 - 8, 20 + bar, y0), fill=(20, 20, 20))
    draw.text((20 + bar + 8, y0 - 4), "100 m", fill=(20, 20, 20), font=font, anchor="lm",
              stroke_width=2, stroke_fill=(255, 255, 255))
    draw.polygon([(width - 40, 20), (width - 52, 52), (width - 28, 52)], fill=(20, 20, 20))
    draw.text((width - 40, 66), "B", fill=(20, 20, 20), font=font, anchor="mm")  # Bắc (north)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(60, 60, 60), width=2)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
