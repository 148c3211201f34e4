"""Writing the base map's rows: one transaction, replacing what the same source wrote before.

A second import of a newer extract replaces the first (no duplicate streets); the demo's
fictional rows and an OSM import live side by side, told apart by ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID
from planning_gis.errors import InvalidInput
from planning_gis.models import BASEMAP_SOURCES


@dataclass
class BasemapRows:
    """Rows in EPSG:5897: streets (name, kind, ref, osm_id, line), addresses (housenumber,
    street, name, osm_id, point), places (name, kind, osm_id, point)."""

    streets: list[tuple[str | None, str, str | None, int | None, BaseGeometry]] = field(
        default_factory=list)
    addresses: list[tuple[str, str | None, str | None, int | None, Point]] = field(
        default_factory=list)
    places: list[tuple[str, str, int | None, Point]] = field(default_factory=list)

    def counts(self) -> tuple[int, int, int]:
        return len(self.streets), len(self.addresses), len(self.places)


_STREET = text(f"""INSERT INTO streets (name, kind, ref, osm_id, source, is_fictional, geom)
    VALUES (:name, :kind, :ref, :osm_id, :source, :fictional,
            ST_Multi(ST_GeomFromWKB(:wkb, {STORAGE_SRID})))""")
_ADDRESS = text(f"""INSERT INTO addresses (housenumber, street, name, osm_id, source,
    is_fictional, geom) VALUES (:housenumber, :street, :name, :osm_id, :source, :fictional,
    ST_GeomFromWKB(:wkb, {STORAGE_SRID}))""")
_PLACE = text(f"""INSERT INTO places (name, kind, osm_id, source, is_fictional, geom)
    VALUES (:name, :kind, :osm_id, :source, :fictional, ST_GeomFromWKB(:wkb, {STORAGE_SRID}))""")


def _multi_line(geom: BaseGeometry) -> MultiLineString | None:
    if isinstance(geom, LineString):
        return MultiLineString([geom]) if geom.length > 0 else None
    if isinstance(geom, MultiLineString):
        return geom if geom.length > 0 else None
    return None


def write_rows(conn: Connection, rows: BasemapRows, *, source: str,
               fictional: bool = False) -> tuple[int, int, int]:
    """Replace ``source``'s streets, addresses and places with ``rows``; returns the counts."""
    if source not in BASEMAP_SOURCES:
        raise InvalidInput(f"unknown base map source {source!r}")
    common = {"source": source, "fictional": fictional}
    for table in ("streets", "addresses", "places"):
        conn.execute(text(f"DELETE FROM {table} WHERE source = :source"), common)
    streets = []
    for name, kind, ref, osm_id, geom in rows.streets:
        line = _multi_line(geom)
        if line is not None:
            streets.append({**common, "name": name, "kind": kind, "ref": ref, "osm_id": osm_id,
                            "wkb": line.wkb})
    if streets:
        conn.execute(_STREET, streets)
    addresses = [{**common, "housenumber": hn, "street": street, "name": name, "osm_id": osm_id,
                  "wkb": pt.wkb} for hn, street, name, osm_id, pt in rows.addresses]
    if addresses:
        conn.execute(_ADDRESS, addresses)
    places = [{**common, "name": name, "kind": kind, "osm_id": osm_id, "wkb": pt.wkb}
              for name, kind, osm_id, pt in rows.places]
    if places:
        conn.execute(_PLACE, places)
    return len(streets), len(addresses), len(places)


def remove_fictional(session: Session) -> None:
    """Drop the demo's base map (a demo reload writes it again)."""
    for table in ("streets", "addresses", "places"):
        session.execute(text(f"DELETE FROM {table} WHERE is_fictional"))
