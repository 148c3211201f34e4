"""A comparison as JSON (the API), CSV (a spreadsheet) and its zones as GeoJSON (the maps)."""

from __future__ import annotations

import csv
import io
from typing import Any

import shapely
from shapely.geometry import mapping

from planning_gis.crs import STORAGE_SRID, transformer
from planning_gis.history.compare import Change, Comparison, Legend
from planning_gis.history.states import ZoneState
from planning_gis.history.words import sentence

_TO_WGS84 = transformer(STORAGE_SRID, 4326)


def to_wgs84(geom) -> dict[str, Any]:
    """GeoJSON of a 5897 geometry in lon/lat, 7 decimals (1 cm)."""
    g = shapely.transform(geom, lambda xy: _xy(xy))
    g = shapely.set_precision(g, 1e-7) if not g.is_empty else g
    return mapping(g)


def _xy(xy):
    import numpy as np

    x, y = _TO_WGS84.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def zone_dict(z: ZoneState, legend: Legend) -> dict[str, Any]:
    return {"id": z.id, "label": z.label, "function_code": z.function_code,
            "function_vi": legend.vi(z.function_code), "function_en": legend.en(z.function_code),
            "color": legend.color(z.function_code), "area_m2": round(z.area_m2, 1),
            **z.indicators}


def change_dict(c: Change, legend: Legend, geometry: bool = False) -> dict[str, Any]:
    vi, en = sentence(c, legend)
    out: dict[str, Any] = {
        "kind": c.kind, "what": c.what,
        "zones_a": [zone_dict(z, legend) for z in c.a],
        "zones_b": [zone_dict(z, legend) for z in c.b],
        "decision": c.decision, "summary_vi": vi, "summary_en": en,
    }
    if "function" in c.what and c.kind == "modified":
        fa, fb = c.a[0].function_code, c.b[0].function_code
        out["function"] = {"from": fa, "to": fb, "from_vi": legend.vi(fa), "to_vi": legend.vi(fb),
                           "from_en": legend.en(fa), "to_en": legend.en(fb)}
    if c.indicators:
        out["indicators"] = c.indicators
    if c.kind != "added" and c.kind != "removed":
        out["geometry_change"] = {"gained_m2": round(c.gained_m2, 1),
                                  "lost_m2": round(c.lost_m2, 1)}
    if geometry:
        out["geometry"] = to_wgs84(c.geometry)
    return out


def comparison_dict(cmp: Comparison, geometry: bool = False) -> dict[str, Any]:
    return {"a": cmp.a.as_dict(), "b": cmp.b.as_dict(), "scope": cmp.scope,
            "counts": cmp.counts(), "seconds": round(cmp.seconds, 3),
            "changes": [change_dict(c, cmp.legend, geometry) for c in cmp.changes]}


CSV_COLUMNS = ("kind", "what", "zones_a", "functions_a", "zones_b", "functions_b",
               "indicators", "gained_m2", "lost_m2", "decision", "effective_on", "user",
               "summary_vi", "summary_en")


def comparison_csv(cmp: Comparison) -> str:
    """One line per change; UTF-8 with a BOM so that spreadsheets show Vietnamese right."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for c in cmp.changes:
        vi, en = sentence(c, cmp.legend)
        w.writerow([
            c.kind, "|".join(c.what), "|".join(z.label for z in c.a),
            "|".join(z.function_code for z in c.a), "|".join(z.label for z in c.b),
            "|".join(z.function_code for z in c.b),
            "|".join(f"{i['field']}:{i['old']}->{i['new']}" for i in c.indicators),
            round(c.gained_m2, 1), round(c.lost_m2, 1), c.decision.get("number") or "",
            c.decision.get("effective_on") or "", c.decision.get("user") or "", vi, en])
    return buf.getvalue()


def sides_geojson(cmp: Comparison) -> dict[str, Any]:
    """Both sides' zones as two feature collections (the compare view's two maps)."""
    def fc(zones):
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": z.id, "geometry": to_wgs84(z.geom),
             "properties": zone_dict(z, cmp.legend)} for z in zones]}
    return {"a": fc(cmp.a.zones), "b": fc(cmp.b.zones)}
