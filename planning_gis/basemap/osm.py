"""Reading an OpenStreetMap extract (``.osm`` XML or ``.osm.pbf``) with GDAL's OSM driver.

GDAL's OSM driver (through pyogrio, already our reader for zone files) is a well-kept reader of
both encodings; it builds way and multipolygon geometries from the nodes. We keep what a
citizen's map needs: roads with their names, house numbers (nodes and buildings with
``addr:housenumber``) and named places. Everything is clipped to Hanoi's extent (a Vietnam
extract gives Hanoi only) and projected to VN-2000 / TM-3 (EPSG:5897) with pyproj's
EPSG-to-EPSG transformation, never a hand-written proj string.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import wkb

from planning_gis.basemap.store import BasemapRows
from planning_gis.crs import HANOI_BOUNDS_LONLAT, STORAGE_SRID, transformer
from planning_gis.errors import InvalidInput

SUFFIXES = (".osm", ".pbf", ".osm.pbf")
#: Road classes drawn and named on the map (OSM ``highway=*``); paths only when they have a name.
ROADS = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "living_street", "service", "pedestrian", "road", "motorway_link", "trunk_link",
    "primary_link", "secondary_link", "tertiary_link",
})
PLACES = frozenset({"city", "town", "suburb", "quarter", "neighbourhood", "village", "hamlet",
                    "locality", "isolated_dwelling", "city_block"})
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def parse_other_tags(value: str | None) -> dict[str, str]:
    """GDAL's ``other_tags`` column (HSTORE text: ``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not value:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(value)}


def _text(value: Any) -> str | None:
    """A tag's text as stored and searched: NFC (some editors write Vietnamese decomposed, and
    "Võ" in NFD is another string), trimmed; None when empty."""
    if value is None:
        return None
    out = unicodedata.normalize("NFC", str(value)).strip()
    return out or None


def _read(path: Path, layer: str) -> tuple[list[dict[str, Any]], list[bytes]]:
    import pyogrio.raw
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        meta, _fids, geoms, fields = pyogrio.raw.read(str(path), layer=layer,
                                                      bbox=HANOI_BOUNDS_LONLAT)[:4]
    except (DataSourceError, DataLayerError) as exc:
        raise InvalidInput(f"{path.name} is not a readable OpenStreetMap file: {exc}",
                           message_vi=f"Không đọc được tệp OpenStreetMap {path.name}") from exc
    names = list(meta["fields"])
    rows = [{k: _text(v) if isinstance(v, str) else v
             for k, v in zip(names, values, strict=True)} for values in zip(*fields, strict=True)] \
        if len(fields) else [{} for _ in geoms]
    return rows, list(geoms)


def _project(geoms: list[bytes]) -> list[Any]:
    shapes = np.array([wkb.loads(g) if g is not None else None for g in geoms], dtype=object)
    if not len(shapes):
        return []
    to_vn = transformer(4326, STORAGE_SRID)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = to_vn.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return list(shapely.transform(shapes, fn))


def _osm_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_osm(path: str | Path) -> BasemapRows:
    """Roads, house numbers and places of an OSM extract, in EPSG:5897."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", message_vi=f"Không có tệp {path}")
    if not path.name.lower().endswith(SUFFIXES):
        raise InvalidInput(f"{path.name}: give an OpenStreetMap .osm or .osm.pbf file",
                           message_vi="Hãy dùng tệp OpenStreetMap .osm hoặc .osm.pbf")
    out = BasemapRows()
    rows, geoms = _read(path, "lines")
    for row, geom in zip(rows, _project(geoms), strict=True):
        kind = row.get("highway")
        name = row.get("name")
        if geom is None or not kind or (kind not in ROADS and not name):
            continue
        tags = parse_other_tags(row.get("other_tags"))
        out.streets.append((name, str(kind)[:32], tags.get("ref"), _osm_id(row.get("osm_id")),
                            geom))
    rows, geoms = _read(path, "points")
    for row, geom in zip(rows, _project(geoms), strict=True):
        if geom is None:
            continue
        tags = parse_other_tags(row.get("other_tags"))
        number = tags.get("addr:housenumber")
        if number:
            out.addresses.append((number, tags.get("addr:street"), row.get("name"),
                                  _osm_id(row.get("osm_id")), geom))
        if row.get("place") in PLACES and row.get("name"):
            out.places.append((row["name"], row["place"], _osm_id(row.get("osm_id")), geom))
    rows, geoms = _read(path, "multipolygons")
    for row, geom in zip(rows, _project(geoms), strict=True):
        if geom is None or geom.is_empty:
            continue
        tags = parse_other_tags(row.get("other_tags"))
        number = tags.get("addr:housenumber")
        ident = _osm_id(row.get("osm_way_id")) or _osm_id(row.get("osm_id"))
        if number:
            out.addresses.append((number, tags.get("addr:street"), row.get("name"), ident,
                                  geom.representative_point()))
        if row.get("place") in PLACES and row.get("name"):
            out.places.append((row["name"], row["place"], ident, geom.representative_point()))
    if not any(out.counts()):
        # Importing would replace the streets already imported with nothing (an extract of
        # another city, or of Vietnam without Hanoi): refuse, and keep them.
        raise InvalidInput(
            f"{path.name} has no street, house number or place inside Hanoi's extent "
            f"{HANOI_BOUNDS_LONLAT}: nothing imported, the previous import is kept",
            message_vi=f"Tệp {path.name} không có đường, số nhà hay địa danh nào trong phạm vi "
            "Hà Nội: không nhập gì, giữ nguyên dữ liệu đã nhập trước")
    return out
