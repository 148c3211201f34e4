"""The citizen's thin adapter over :mod:`layers.lookup`: what the look-up does not say.

``/api/lookup`` (and its library functions ``lookup_point`` / ``lookup_plot``) is the one answer
to "what is planned here"; the panel and the information sheet read it as it is. Two things the
page also shows are not part of that answer: the administrative units at the place (with their
old names) and the date the data runs to. They are read here, and :func:`point_sheet` /
:func:`plot_sheet` put both together for the PDF, so that the PDF says what the panel says.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from layers.lookup import DOCUMENTS_PER_PLAN, lookup_plot, lookup_point
from planning_gis.crs import STORAGE_SRID, ResolvedPoint

UNITS_SQL = text(
    f"""
    SELECT a.id, a.name, a.level, a.valid_from, a.valid_to
      FROM admin_units a
     WHERE a.geom IS NOT NULL AND a.level <> 'thanh_pho'
       AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(:e, :n), {STORAGE_SRID}))
     ORDER BY (a.valid_to IS NULL) DESC, a.valid_from DESC NULLS LAST
    """
)

DATA_DATE_SQL = text(
    "SELECT greatest((SELECT max(created_at) FROM plans), (SELECT max(created_at) FROM documents))"
)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def place_context(conn: Connection, easting: float, northing: float,
                  today: dt.date | None = None) -> dict[str, Any]:
    """Administrative units at an EPSG:5897 point (current first) and the data's date."""
    today = today or dt.date.today()
    units = [{"id": u.id, "name": u.name, "level": u.level, "valid_from": _iso(u.valid_from),
              "valid_to": _iso(u.valid_to),
              "current": u.valid_to is None or u.valid_to >= today}
             for u in conn.execute(UNITS_SQL, {"e": easting, "n": northing})]
    stamp = conn.execute(DATA_DATE_SQL).scalar_one()
    return {"units": units, "data_date": _iso(stamp.date() if stamp else None)}


def _answer(plans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"plans": plans,
            "governing_plan_id": next((p["id"] for p in plans if p["governing"]), None),
            "fictional": any(p["fictional"] for p in plans)}


def point_sheet(conn: Connection, point: ResolvedPoint, *, url_template: str, base_url: str,
                documents_per_plan: int = DOCUMENTS_PER_PLAN,
                today: dt.date | None = None) -> dict[str, Any]:
    """The information sheet's content for a point: the look-up's answer plus the context."""
    today = today or dt.date.today()
    plans = lookup_point(conn, point.easting, point.northing, today=today,
                         url_template=url_template, base_url=base_url,
                         documents_per_plan=documents_per_plan)
    return {"query": point.as_dict(), "date": today.isoformat(), **_answer(plans),
            **place_context(conn, point.easting, point.northing, today)}


def plot_sheet(conn: Connection, wkt: str, area_m2: float, centre: ResolvedPoint, *,
               url_template: str, base_url: str, documents_per_plan: int = DOCUMENTS_PER_PLAN,
               today: dt.date | None = None) -> dict[str, Any]:
    """The information sheet's content for a plot (EPSG:5897 WKT): each zone's share of it."""
    today = today or dt.date.today()
    plans = lookup_plot(conn, wkt, area_m2, today=today,
                        url_template=url_template, base_url=base_url,
                        documents_per_plan=documents_per_plan)
    return {"query": {**centre.as_dict(), "plot_area_m2": round(area_m2, 2)},
            "date": today.isoformat(), **_answer(plans),
            **place_context(conn, centre.easting, centre.northing, today)}
