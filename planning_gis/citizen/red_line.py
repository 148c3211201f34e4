"""The red-line answer: *Nhà tôi có bị dính lộ giới không?* — for a point or a plot.

For a point: the nearest planned road (name, planned width and cross-section, the road plan and
its decision), the distance from the point to the red line, and whether the point lies inside
the road reserve (between the red lines) or in the setback strip before the building line.
For a plot: the area inside the road reserve in m² and %, what remains, and the setback strip.
Said in one Vietnamese sentence (``summary_vi``) that the panel and the information sheet print
as it is, so both say the same. The SQL is in :mod:`layers.red_lines`.
"""

from __future__ import annotations

import json
from typing import Any

from shapely import wkb
from shapely.ops import unary_union
from sqlalchemy import Connection

from layers.red_lines import NEAR_M, nearest_street, roads_near_plot, roads_near_point
from planning_gis.crs import STORAGE_SRID, transformer
from planning_gis.models import PLAN_KINDS, PLAN_STATUSES

#: Below this a cut is drawing noise (a plot drawn along the red line), not a cut: 0.05 m².
MIN_CUT_M2 = 0.05


def _num(value: float, digits: int = 1) -> str:
    """A number the Vietnamese way: 1 234,5."""
    text = f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")
    return text


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _road(r: Any) -> dict[str, Any]:
    kind_vi, kind_en, _ = PLAN_KINDS.get(r.plan_kind, (r.plan_kind, r.plan_kind, 0))
    status_vi, status_en = PLAN_STATUSES.get(r.plan_status, (r.plan_status, r.plan_status))
    return {
        "id": r.id,
        "road_name": r.road_name,
        "width_m": r.width_m,
        "cross_section": r.cross_section,
        "setback_m": r.setback_m,
        "plan": {
            "id": r.plan_id, "name": r.plan_name,
            "kind": {"code": r.plan_kind, "name_vi": kind_vi, "name_en": kind_en},
            "status": {"code": r.plan_status, "name_vi": status_vi, "name_en": status_en},
            "scale": f"1:{r.scale_denominator}" if r.scale_denominator else None,
            "decision": {"number": r.decision_number, "date": _iso(r.decision_date),
                         "approving_body": r.approving_body},
            "fictional": r.is_fictional,
        },
        "distance_m": round(float(r.to_red_line_m), 2),
        "inside_reserve": bool(r.inside),
        "distance_to_reserve_m": (round(float(r.to_reserve_m), 2)
                                  if r.to_reserve_m is not None else None),
        "nearest_point": _point(r.nearest_point),
        "geometry": {"red_lines": _geojson(r.lines_geojson),
                     "reserve": _geojson(r.reserve_geojson)},
    }


def _geojson(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    doc = json.loads(raw)
    return None if not doc.get("coordinates") and not doc.get("geometries") else doc


def _point(raw: str | None) -> dict[str, float] | None:
    doc = _geojson(raw)
    if not doc:
        return None
    lon, lat = doc["coordinates"][:2]
    return {"lon": lon, "lat": lat}


def _road_title(road: dict[str, Any]) -> str:
    name = road["road_name"] or "đường quy hoạch"
    facts = []
    if road["width_m"]:
        facts.append(f"lộ giới {_num(road['width_m'], 1).rstrip('0').rstrip(',')} m")
    if road["cross_section"]:
        facts.append(f"mặt cắt {road['cross_section']}")
    return name + (f" ({', '.join(facts)})" if facts else "")


def _in_setback(road: dict[str, Any]) -> bool | None:
    if not road["setback_m"] or road["distance_to_reserve_m"] is None:
        return None
    return not road["inside_reserve"] and road["distance_to_reserve_m"] < road["setback_m"]


def point_answer(conn: Connection, easting: float, northing: float,
                 near_m: float = NEAR_M) -> dict[str, Any]:
    """The red-line answer for an EPSG:5897 point."""
    roads = [_road(r) for r in roads_near_point(conn, easting, northing, near_m=near_m)]
    for road in roads:
        road["in_setback"] = _in_setback(road)
    inside = [r for r in roads if r["inside_reserve"]]
    first = inside[0] if inside else (roads[0] if roads else None)
    street = nearest_street(conn, easting, northing)
    if first is None:
        summary_vi = (f"Không có tuyến đường quy hoạch (chỉ giới đường đỏ) nào trong phạm vi "
                      f"{_num(near_m, 0)} m quanh vị trí này trong cơ sở dữ liệu.")
        summary_en = f"No planned road (red line) within {near_m:.0f} m of this point."
    elif first["inside_reserve"]:
        summary_vi = (f"Vị trí NẰM TRONG chỉ giới đường đỏ (trong phạm vi lộ giới) của "
                      f"{_road_title(first)}; cách đường đỏ {_num(first['distance_m'])} m.")
        summary_en = (f"The point is INSIDE the road reserve of {first['road_name']}; "
                      f"{first['distance_m']:.1f} m from the red line.")
    else:
        summary_vi = (f"Vị trí nằm ngoài chỉ giới đường đỏ; cách đường đỏ của "
                      f"{_road_title(first)} {_num(first['distance_m'])} m.")
        summary_en = (f"The point is outside the road reserve, {first['distance_m']:.1f} m from "
                      f"the red line of {first['road_name']}.")
        if first["in_setback"]:
            summary_vi += (f" Vị trí nằm trong khoảng lùi {_num(first['setback_m'])} m giữa chỉ "
                           "giới đường đỏ và chỉ giới xây dựng: đất vẫn của chủ sử dụng nhưng "
                           "không được xây dựng công trình.")
            summary_en += (f" It lies in the {first['setback_m']:.1f} m setback before the "
                           "building line (owner's land, not buildable).")
    return {
        "near_m": near_m,
        "inside_reserve": bool(inside),
        "road": first,
        "roads": roads,
        "street": ({"id": street.id, "name": street.name, "kind": street.kind,
                    "fictional": street.is_fictional,
                    "distance_m": round(float(street.distance_m), 1)} if street else None),
        "summary_vi": summary_vi,
        "summary_en": summary_en,
    }


def _to_lonlat_geojson(geom) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    import shapely

    to_wgs = transformer(STORAGE_SRID, 4326)

    def fn(xy):
        import numpy as np

        x, y = to_wgs.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geom, fn)
    return json.loads(shapely.to_geojson(shapely.set_precision(out, 1e-7)))


def plot_answer(conn: Connection, wkt: str, plot_area_m2: float,
                near_m: float = NEAR_M) -> dict[str, Any]:
    """The red-line answer for a plot (EPSG:5897 WKT): m² and % inside the road reserve."""
    rows = roads_near_plot(conn, wkt, near_m=near_m)
    roads, cuts, strips = [], [], []
    for r in rows:
        road = _road(r)
        cut = wkb.loads(bytes(r.cut_wkb)) if r.cut_wkb is not None else None
        strip = wkb.loads(bytes(r.setback_wkb)) if r.setback_wkb is not None else None
        cut_m2 = cut.area if cut is not None else 0.0
        strip_m2 = strip.area if strip is not None else 0.0
        if cut_m2 < MIN_CUT_M2:
            cut_m2, cut = 0.0, None
        road["cut_m2"] = round(cut_m2, 2)
        road["cut_pct"] = round(100.0 * cut_m2 / plot_area_m2, 2)
        road["setback_strip_m2"] = round(strip_m2, 2) if r.setback_m else None
        road["inside_reserve"] = cut_m2 > 0
        road["in_setback"] = strip_m2 >= MIN_CUT_M2 if r.setback_m else None
        road["geometry"]["cut"] = _to_lonlat_geojson(cut)
        roads.append(road)
        if cut is not None:
            cuts.append(cut)
        if strip is not None and strip_m2 >= MIN_CUT_M2:
            strips.append(strip)
    cut_all = unary_union(cuts) if cuts else None
    cut_m2 = cut_all.area if cut_all is not None else 0.0
    strip_all = unary_union(strips).difference(cut_all) if strips and cut_all is not None \
        else (unary_union(strips) if strips else None)
    strip_m2 = strip_all.area if strip_all is not None else 0.0
    remaining = max(plot_area_m2 - cut_m2, 0.0)
    pct = 100.0 * cut_m2 / plot_area_m2
    cutting = [r for r in roads if r["cut_m2"] > 0]
    if cutting:
        names = ", ".join(_road_title(r) for r in cutting)
        summary_vi = (f"Thửa đất BỊ CẮT bởi chỉ giới đường đỏ của {names}: "
                      f"{_num(cut_m2)} m² ({_num(pct)} %) nằm trong phạm vi lộ giới; "
                      f"phần còn lại {_num(remaining)} m².")
        summary_en = (f"The plot is CUT by the red line: {cut_m2:.1f} m² ({pct:.1f} %) lies in "
                      f"the road reserve; {remaining:.1f} m² remain.")
    elif roads:
        summary_vi = (f"Thửa đất không bị cắt bởi chỉ giới đường đỏ; cách đường đỏ của "
                      f"{_road_title(roads[0])} {_num(roads[0]['distance_m'])} m.")
        summary_en = (f"The plot is not cut by a red line; {roads[0]['distance_m']:.1f} m from "
                      f"the red line of {roads[0]['road_name']}.")
    else:
        summary_vi = (f"Không có tuyến đường quy hoạch (chỉ giới đường đỏ) nào trong phạm vi "
                      f"{_num(near_m, 0)} m quanh thửa đất trong cơ sở dữ liệu.")
        summary_en = f"No planned road (red line) within {near_m:.0f} m of the plot."
    if strip_m2 >= MIN_CUT_M2:
        summary_vi += (f" {_num(strip_m2)} m² nằm trong khoảng lùi giữa chỉ giới đường đỏ và "
                       f"chỉ giới xây dựng (không được xây dựng); phần có thể xây dựng "
                       f"{_num(max(remaining - strip_m2, 0.0))} m².")
        summary_en += f" {strip_m2:.1f} m² lie in the setback before the building line."
    return {
        "near_m": near_m,
        "plot_area_m2": round(plot_area_m2, 2),
        "inside_reserve": cut_m2 > 0,
        "cut_m2": round(cut_m2, 2),
        "cut_pct": round(pct, 2),
        "remaining_m2": round(remaining, 2),
        "setback_strip_m2": round(strip_m2, 2),
        "buildable_m2": round(max(remaining - strip_m2, 0.0), 2),
        "cut": _to_lonlat_geojson(cut_all),
        "road": cutting[0] if cutting else (roads[0] if roads else None),
        "roads": roads,
        "summary_vi": summary_vi,
        "summary_en": summary_en,
    }
