"""``/api/lookup``: what the plans say at a point (GET) or over a plot (POST)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from shapely import transform as shapely_transform
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from layers.editions import EditionCache
from layers.lookup import lookup_plot, lookup_point, point_key
from planning_gis.crs import (
    STORAGE_SRID,
    WGS84,
    epsg_of,
    resolve_lonlat,
    resolve_projected,
    transformer,
    vn2000_to_lonlat,
)
from planning_gis.errors import InvalidGeometry, InvalidInput, TooLarge
from planning_gis.web import db
from planning_gis.web.json_body import read_json_body

bp = Blueprint("lookup", __name__, url_prefix="/api")

POINT_PARAMS = {"lon", "lat", "x_north", "y_east", "crs", "date"}


def _number(name: str) -> float:
    raw = request.args.get(name, "")
    try:
        value = float(raw.replace(",", ".")) if raw.count(",") == 1 and "." not in raw else float(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"{name} must be a number, got {raw!r}",
            message_vi=f"{name} phải là một số, nhận được {raw!r}",
        ) from exc
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number", message_vi=f"{name} phải là số hữu hạn")
    return value


def _date() -> dt.date:
    raw = request.args.get("date")
    if not raw:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"date must be YYYY-MM-DD, got {raw!r}",
                           message_vi="Ngày phải có dạng YYYY-MM-DD") from exc


def _dumps(obj: Any) -> str:
    """Compact JSON with the app's settings, as Flask's own JSON responses are."""
    return current_app.json.dumps(obj, separators=(",", ":"))


@dataclass(frozen=True)
class PlansAnswer:
    """The plans part of an answer, serialised once: what the look-up cache keeps."""

    plans_json: str
    governing: int | None
    empty: bool

    @classmethod
    def of(cls, plans: list[dict]) -> PlansAnswer:
        return cls(plans_json=_dumps(plans),
                   governing=next((p["id"] for p in plans if p["governing"]), None),
                   empty=not plans)


#: Stands for the plans in the serialised answer until their own JSON is put in its place.
_PLANS_SLOT = "\ue000plans\ue000"


def _answer(query: dict[str, Any], answer: PlansAnswer, on: dt.date) -> Response:
    doc = {
        "query": query,
        "date": on.isoformat(),
        "governing_plan_id": answer.governing,
        "plans": _PLANS_SLOT,
        "source": {
            "database": "Hanoi planning-map service",
            "crs": f"EPSG:{STORAGE_SRID}",
            "note": "zones traced from the plans' drawings; see each zone's accuracy",
            "note_vi": "Ranh giới ô đất số hóa từ bản vẽ quy hoạch; xem độ chính xác của từng ô",
        },
    }
    if answer.empty:
        doc["message"] = "no plan held here covers this place"
        doc["message_vi"] = "Chưa có đồ án quy hoạch nào trong hệ thống phủ vị trí này"
    head, slot, tail = _dumps(doc).partition(f'"{_PLANS_SLOT}"')
    if not slot:  # a provider escaping non-ASCII would hide the slot (create_app turns that off)
        raise RuntimeError("the JSON provider must keep non-ASCII text (ensure_ascii=False)")
    body = head + answer.plans_json + tail
    resp = Response(body + "\n", mimetype="application/json")
    resp.headers["Cache-Control"] = current_app.config["SETTINGS"].api_cache_control
    return resp


def _context() -> dict[str, Any]:
    settings = current_app.config["SETTINGS"]
    return {"url_template": settings.document_url_template,
            "base_url": request.url_root.rstrip("/")}


@bp.get("/lookup")
def lookup_get() -> Response:
    """Zones at ``lon``/``lat`` (WGS 84) or ``x_north``/``y_east`` (VN-2000, ``crs=``)."""
    unknown = set(request.args) - POINT_PARAMS
    if unknown:
        raise InvalidInput(f"unknown parameter(s): {', '.join(sorted(unknown))}",
                           message_vi=f"Tham số không hợp lệ: {', '.join(sorted(unknown))}")
    has_ll = "lon" in request.args or "lat" in request.args
    has_xy = "x_north" in request.args or "y_east" in request.args
    if has_ll == has_xy:
        raise InvalidInput(
            "give either lon and lat (WGS 84) or x_north and y_east (VN-2000, EPSG:5897)",
            message_vi="Hãy nhập kinh độ/vĩ độ (lon, lat) hoặc tọa độ VN-2000 (x_north, y_east)",
        )
    if has_ll:
        if "crs" in request.args:
            raise InvalidInput("crs applies to x_north/y_east only; lon/lat are WGS 84",
                               message_vi="crs chỉ dùng cho x_north/y_east")
        point = resolve_lonlat(_number("lon"), _number("lat"))
    else:
        point = resolve_projected(_number("x_north"), _number("y_east"),
                                  request.args.get("crs", STORAGE_SRID))
    on = _date()
    conn = db.get_conn()
    context = _context()
    cache: EditionCache = current_app.extensions["lookup_cache"]
    key = point_key(conn, point.easting, point.northing) if cache.max_bytes else None
    if key is not None:
        key = (*key, on, context["url_template"], context["base_url"])
    answer = cache.get(key) if key is not None else None
    if answer is None:
        answer = PlansAnswer.of(lookup_point(conn, point.easting, point.northing, today=on,
                                             **context))
        if key is not None:
            cache.put(key, answer, len(answer.plans_json) + 200)
    return _answer(point.as_dict(), answer, on)


def _check_plot_size(geometry: dict) -> None:
    """Count rings and vertices before shapely builds anything (a 41 MB polygon held a thread
    for 13 s): over ``lookup_max_plot_rings``/``lookup_max_plot_vertices`` is a 413."""
    settings = current_app.config["SETTINGS"]
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry.get("type") == "Polygon" else coords
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        raise InvalidGeometry("the plot's coordinates must be arrays of rings",
                              message_vi="Tọa độ thửa đất phải là mảng các vòng")
    rings = vertices = 0
    for polygon in polygons:
        for ring in polygon:
            if not isinstance(ring, list):
                raise InvalidGeometry("each ring must be an array of positions",
                                      message_vi="Mỗi vòng phải là một mảng tọa độ")
            rings += 1
            vertices += len(ring)
    if rings > settings.lookup_max_plot_rings:
        raise TooLarge(f"the plot has {rings} rings (parts and holes); at most "
                       f"{settings.lookup_max_plot_rings}",
                       message_vi=f"Thửa đất có quá nhiều vòng (tối đa "
                                  f"{settings.lookup_max_plot_rings})")
    if vertices > settings.lookup_max_plot_vertices:
        raise TooLarge(f"the plot has {vertices} vertices; at most "
                       f"{settings.lookup_max_plot_vertices}",
                       message_vi=f"Thửa đất có quá nhiều đỉnh (tối đa "
                                  f"{settings.lookup_max_plot_vertices})")


def read_plot() -> Any:
    """The plot of a POST body: strict JSON under the body limit, then :func:`_plot_geometry`."""
    return _plot_geometry(read_json_body(InvalidGeometry))


def _plot_geometry(body: Any):
    if not isinstance(body, dict):
        raise InvalidGeometry("send a GeoJSON Polygon, MultiPolygon or Feature as JSON",
                              message_vi="Hãy gửi thửa đất dạng GeoJSON (Polygon hoặc Feature)")
    if body.get("type") == "Feature":
        body = body.get("geometry")
        if not isinstance(body, dict):
            raise InvalidGeometry("the Feature has no geometry",
                                  message_vi="Feature không có hình học")
    if body.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry(
            f"the plot must be a Polygon or MultiPolygon, got {body.get('type')!r}",
            message_vi="Thửa đất phải là Polygon hoặc MultiPolygon",
        )
    _check_plot_size(body)
    try:
        geom = shape(body)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InvalidGeometry(f"cannot read the GeoJSON geometry: {exc}",
                              message_vi="Không đọc được hình học GeoJSON") from exc
    if geom.is_empty or not geom.is_valid:
        raise InvalidGeometry(
            f"the plot polygon is not valid: {explain_validity(geom)}",
            message_vi="Đa giác thửa đất không hợp lệ (tự cắt hoặc rỗng)",
        )
    return geom


@bp.post("/lookup")
def lookup_post() -> Response:
    """Each zone's share of a plot (GeoJSON; ``crs=`` EPSG:4326 by default, or EPSG:5897)."""
    settings = current_app.config["SETTINGS"]
    geom = read_plot()
    code = epsg_of(request.args.get("crs", WGS84))
    # The plot's centre must lie in Hanoi (checked before any transform, in the CRS it came in);
    # the axis message comes from the same checks as GET. GeoJSON order is x, y.
    c = geom.centroid
    if code == WGS84:
        resolve_lonlat(c.x, c.y)
    else:
        resolve_projected(c.y, c.x, code)
    if code != STORAGE_SRID:
        to_storage = transformer(code, STORAGE_SRID)
        geom = shapely_transform(geom, to_storage.transform, interleaved=False)
    c = geom.centroid
    area = geom.area
    if area <= 0:
        raise InvalidGeometry("the plot has no area", message_vi="Thửa đất có diện tích bằng 0")
    if area > settings.lookup_max_plot_m2:
        raise TooLarge(
            f"the plot is {area / 1e6:.1f} km²; the limit is "
            f"{settings.lookup_max_plot_m2 / 1e6:.1f} km²",
            message_vi="Thửa đất quá lớn để tra cứu",
        )
    on = _date()
    plans = lookup_plot(db.get_conn(), geom.wkt, area, today=on, **_context())
    lon, lat = vn2000_to_lonlat(c.x, c.y)
    query = {"plot_area_m2": round(area, 2), "centroid": {"lon": round(lon, 7),
             "lat": round(lat, 7)}, "crs": f"EPSG:{code}", "plot": mapping(geom)
             if len(geom.wkt) < 20000 else None}
    return _answer(query, PlansAnswer.of(plans), on)


def init_app(app: Flask) -> None:
    """The app's look-up cache: answers by point key (see layers/lookup.py's POINT_KEY_SQL)."""
    app.extensions["lookup_cache"] = EditionCache(
        app.config["SETTINGS"].lookup_cache_mb * 1024 * 1024)
