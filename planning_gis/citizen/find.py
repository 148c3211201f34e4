"""The one search box: a coordinate pair in either system, or words for the library's search.

Citizens paste coordinates from their land papers (VN-2000, X = northing first) or from a phone
(lon/lat). We recognise the pair by its magnitudes, never by guessing an order: the readings go
through :func:`planning_gis.crs.resolve_projected` and :func:`~planning_gis.crs.resolve_lonlat`,
which refuse a pair that is only in Hanoi when swapped, with a message that says so.
Everything that is not a coordinate pair is handed to :func:`planning_gis.documents.search.search`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from planning_gis.crs import ResolvedPoint, resolve_lonlat, resolve_projected
from planning_gis.errors import InvalidInput

# A number: digits with an optional decimal part written with "." or "," (Vietnamese decimal).
_NUM = r"[-+]?\d+(?:[.,]\d+)?"
_LABELLED = re.compile(
    rf"^\s*(?P<a>[xyXY]|lon|lat|kinh\s*độ|vĩ\s*độ|kinh\s*do|vi\s*do)\s*[=:]?\s*(?P<av>{_NUM})"
    rf"\s*[,;\s]\s*(?P<b>[xyXY]|lon|lat|kinh\s*độ|vĩ\s*độ|kinh\s*do|vi\s*do)\s*[=:]?\s*(?P<bv>{_NUM})\s*$",
    re.IGNORECASE,
)
_PAIR_SPACE = re.compile(rf"^\s*({_NUM})\s*(?:[;\s]|,\s)\s*({_NUM})\s*$")
_PAIR_COMMA = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*$")

_LON_NAMES = {"lon", "kinh độ", "kinh do"}
_LAT_NAMES = {"lat", "vĩ độ", "vi do"}


@dataclass(frozen=True)
class CoordinateReading:
    """A pair as typed, what system we read it in, and the resolved point."""

    system: str  # "vn2000" or "lonlat"
    point: ResolvedPoint

    def as_dict(self) -> dict[str, Any]:
        p = self.point
        if self.system == "vn2000":
            reading_vi = (f"VN-2000 (TM-3 105°) X (Bắc) = {p.northing:,.2f} m, "
                          f"Y (Đông) = {p.easting:,.2f} m").replace(",", " ")
            reading_en = (f"VN-2000 / TM-3 105°: X (northing) = {p.northing:.2f} m, "
                          f"Y (easting) = {p.easting:.2f} m")
        else:
            reading_vi = f"WGS 84: kinh độ {p.lon:.6f}, vĩ độ {p.lat:.6f}"
            reading_en = f"WGS 84: lon {p.lon:.6f}, lat {p.lat:.6f}"
        return {"system": self.system, "reading_vi": reading_vi, "reading_en": reading_en,
                **p.as_dict()}


def _float(value: str) -> float:
    return float(value.replace(",", "."))


def _is_projected(a: float, b: float) -> bool:
    return abs(a) >= 100_000 and abs(b) >= 100_000


def _is_angular(a: float, b: float) -> bool:
    return abs(a) <= 180 and abs(b) <= 180


def parse_coordinates(raw: str) -> CoordinateReading | None:
    """A coordinate pair read from the box, None when the text is not one (it is a search).

    Recognised: "2326256.8 586513.4" or "X=2326256.8, Y=586513.4" (VN-2000, Vietnamese order
    unless labelled otherwise), "105.8342, 21.0278" or "lon=105.83 lat=21.03" (WGS 84, lon
    first unless labelled). A pair that is clearly coordinates but outside Hanoi raises
    :class:`~planning_gis.errors.OutsideHanoi`; a mixed pair (one angle, one metre value)
    raises InvalidInput rather than being searched as words.
    """
    text = unicodedata.normalize("NFC", raw).strip()
    m = _LABELLED.match(text)
    if m:
        names = [" ".join(m.group(k).lower().split()) for k in ("a", "b")]
        values = [_float(m.group("av")), _float(m.group("bv"))]
        by_name = dict(zip(names, values, strict=True))
        if set(names) == {"x", "y"}:
            return CoordinateReading("vn2000", resolve_projected(by_name["x"], by_name["y"]))
        lon = next((v for k, v in by_name.items() if k in _LON_NAMES), None)
        lat = next((v for k, v in by_name.items() if k in _LAT_NAMES), None)
        if lon is not None and lat is not None:
            return CoordinateReading("lonlat", resolve_lonlat(lon, lat))
        raise InvalidInput(
            f"cannot read {raw!r}: label the pair X=…, Y=… (VN-2000) or lon=…, lat=…",
            message_vi="Không đọc được tọa độ: hãy ghi X=…, Y=… (VN-2000) hoặc kinh độ=…, vĩ độ=…",
        )
    m = _PAIR_COMMA.match(text) or _PAIR_SPACE.match(text)
    if not m:
        return None
    a, b = _float(m.group(1)), _float(m.group(2))
    decimal = any(sep in m.group(1) + m.group(2) for sep in ".,")
    if _is_projected(a, b):
        return CoordinateReading("vn2000", resolve_projected(a, b))
    if _is_angular(a, b) and decimal:
        return CoordinateReading("lonlat", resolve_lonlat(a, b))
    if decimal and max(abs(a), abs(b)) >= 100_000 and min(abs(a), abs(b)) <= 180:
        raise InvalidInput(
            f"{raw!r} mixes an angle and a metre value: give VN-2000 X Y (both about 2 300 000 and "
            "500 000) or lon lat (about 105.8 and 21.0)",
            message_vi="Cặp số không phải tọa độ hợp lệ: VN-2000 nhập X Y (khoảng 2 3xx xxx và "
            "5xx xxx), hoặc kinh độ vĩ độ (khoảng 105,8 và 21,0).",
        )
    return None  # whole numbers such as "108 1998" are a decision number: search them


def find(conn: Connection, raw: str | None, *, limit: int = 10) -> dict[str, Any]:
    """Answer the search box: ``{"query", "coordinates"}`` or the library search's results."""
    query = unicodedata.normalize("NFC", (raw or "").strip())
    if not query:
        raise InvalidInput("the query q is empty", message_vi="Hãy nhập địa danh, tên quy hoạch, "
                           "ký hiệu ô đất, số quyết định hoặc tọa độ")
    reading = parse_coordinates(query)
    if reading is not None:
        return {"query": query, "coordinates": reading.as_dict(), "results": []}
    from planning_gis.citizen.gazetteer import lookup
    from planning_gis.documents.search import search

    found = search(conn, query, limit=limit)
    # Places first (a citizen looks for where before what); the gazetteer's units replace the
    # library's, which do not say what a former unit is now.
    places = lookup(conn, query, limit=limit)
    rest = [r for r in found["results"] if r["kind"] != "place"]
    found["results"] = (places + rest)[:limit]
    found["coordinates"] = None
    return found
