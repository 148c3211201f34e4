"""Request parameters, parsed once: numbers, whole numbers, ids, points, boxes, tiles, dates, plots.

Like titiler's ``dependencies.py``: each kind of parameter has one function that reads it from the
query string (or the path, or the body) and either returns a plain Python value or raises the
domain error that says, in English and Vietnamese, what was wrong. Blueprints call these and pass
plain values to the services, which know nothing of requests.

The rules, the same on every endpoint:

- **Numbers.** An optional sign, digits, and at most one decimal separator, which may be the dot
  or the Vietnamese comma (``21,0278`` is ``21.0278``). No exponent, ``nan`` or ``inf``.
  Where a form allows it (``thousands=True``: VN-2000 metres such as ``2 326 000,5``), digits may
  be grouped by threes with spaces, or with dots when a comma is the decimal separator or more
  than one dot groups them (``2.326.000,5``, ``2.326.000``); a single dot stays a decimal point.
- **Whole numbers** (counts, pages, years): digits within bounds; **ids** in a path: a value that is
  not a positive whole number names nothing, so it is a 404 like an id that does not exist.
- **Unknown parameters** are a 400 (:class:`UnknownParameter`) naming them: a misspelt ``lng``
  must not be silently ignored. Tile images are the one exception: map clients put cache
  busters in their query string (``?v=2``), and a tile is the same whatever follows the ``?``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from morecantile import Tile, TileMatrixSet
from shapely import transform as shapely_transform
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from planning_gis.crs import (
    STORAGE_SRID,
    WGS84,
    ResolvedPoint,
    epsg_of,
    resolve_lonlat,
    resolve_projected,
    transformer,
)
from planning_gis.documents.library import LibraryFilters
from planning_gis.errors import (
    InvalidBBox,
    InvalidGeometry,
    InvalidInput,
    InvalidTile,
    NotFound,
    TooLarge,
    UnknownParameter,
)
from planning_gis.settings import Settings
from planning_gis.web.json_body import read_json_body
from tiles.grid import check_tile
from tiles.reader import IMAGE_FORMATS

#: The parameters of a point: WGS 84 ``lon``/``lat`` or VN-2000 ``x_north``/``y_east`` + ``crs``.
POINT_PARAMS = frozenset({"lon", "lat", "x_north", "y_east", "crs"})

_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
_GROUPED_SPACE = re.compile(r"([+-]?\d{1,3}(?: \d{3})+)(?:[.,](\d+))?")
_GROUPED_DOTS = re.compile(r"([+-]?\d{1,3}(?:\.\d{3})+)(?:,(\d+))?")
_WHOLE = re.compile(r"[+-]?\d+")


def _bad_number(name: str, raw: str) -> InvalidInput:
    return InvalidInput(f"{name} must be a number, got {raw!r}",
                        message_vi=f"{name} phải là một số, nhận được {raw!r}")


def parse_number(raw: str, name: str, *, thousands: bool = False) -> float:
    """``raw`` as a float by the one rule of the module docstring, or InvalidInput naming it."""
    text = raw.strip()
    if _NUMBER.fullmatch(text):
        return float(text.replace(",", "."))
    if thousands:
        m = _GROUPED_SPACE.fullmatch(text)
        if m is None:
            m = _GROUPED_DOTS.fullmatch(text)
            # "2.326" alone is a decimal (caught above); dots group only with a comma or twice.
            if m is not None and m.group(2) is None and m.group(1).count(".") < 2:
                m = None
        if m is not None:
            whole = re.sub(r"[ .]", "", m.group(1))
            return float(f"{whole}.{m.group(2)}" if m.group(2) else whole)
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InvalidInput(f"{name} must be a finite number, got {raw!r}",
                           message_vi=f"{name} phải là một số hữu hạn")
    raise _bad_number(name, raw)


def number_arg(args: Mapping[str, Any], name: str, *, thousands: bool = False) -> float:
    """A required number parameter."""
    return parse_number(str(args.get(name) or ""), name, thousands=thousands)


def int_arg(args: Mapping[str, Any], name: str, default: int | None, low: int,
            high: int | None = None) -> int | None:
    """``args[name]`` as an int in ``low..high`` (no upper bound when None); absent or empty
    gives ``default``."""
    raw = str(args.get(name) or "").strip()
    if not raw:
        return default
    if not _WHOLE.fullmatch(raw):
        raise InvalidInput(f"{name} must be a whole number, got {raw!r}",
                           message_vi=f"{name} phải là số nguyên")
    value = int(raw)
    if high is None and value < low:
        raise InvalidInput(f"{name} must be at least {low}, got {value}",
                           message_vi=f"{name} phải lớn hơn hoặc bằng {low}")
    if high is not None and not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}",
                           message_vi=f"{name} phải từ {low} đến {high}")
    return value


def id_arg(value: str | None, what: str) -> int:
    """An id from a path or a form: a positive whole number, else NotFound (nothing has that id)."""
    raw = (value or "").strip()
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise NotFound(f"no {what} {value!r}", message_vi=f"Không có {what} {value!r}.")
    return int(raw)


def check_known(args: Iterable[str], known: Iterable[str], hint: str = "") -> None:
    """Refuse parameters the endpoint does not know (400 naming them; ``hint`` says what is)."""
    unknown = sorted(set(args) - set(known))
    if unknown:
        names = ", ".join(unknown)
        raise UnknownParameter(f"unknown parameter(s): {names}{hint}",
                               message_vi=f"Tham số không hợp lệ: {names}")


def point(args: Mapping[str, Any]) -> ResolvedPoint:
    """``lon``/``lat`` (WGS 84) or ``x_north``/``y_east`` (VN-2000, Vietnamese order; ``crs=``
    EPSG:5897 by default; metres may be grouped by thousands), checked to lie in Hanoi."""
    has_ll = "lon" in args or "lat" in args
    has_xy = "x_north" in args or "y_east" in args
    if has_ll == has_xy:
        raise InvalidInput(
            "give either lon and lat (WGS 84) or x_north and y_east (VN-2000, EPSG:5897)",
            message_vi="Hãy nhập kinh độ/vĩ độ (lon, lat) hoặc tọa độ VN-2000 (x_north, y_east)",
        )
    if has_ll:
        if "crs" in args:
            raise InvalidInput("crs applies to x_north/y_east only; lon/lat are WGS 84",
                               message_vi="crs chỉ dùng cho x_north/y_east")
        return resolve_lonlat(number_arg(args, "lon"), number_arg(args, "lat"))
    return resolve_projected(number_arg(args, "x_north", thousands=True),
                             number_arg(args, "y_east", thousands=True),
                             args.get("crs") or STORAGE_SRID)


def bbox(raw: str, flipped: bool = False) -> tuple[float, float, float, float]:
    """Four (or six, 3-D) comma-separated numbers in the bbox CRS's axis order -> x/y min/max.

    The comma separates the numbers here, so a bbox's numbers take the dot only.
    """
    parts = [p.strip() for p in raw.split(",")]
    if not all(_NUMBER.fullmatch(p) and "," not in p for p in parts):
        raise InvalidBBox(
            f"bbox must be numbers separated by commas, got {raw!r}",
            message_vi="bbox phải gồm các số cách nhau bởi dấu phẩy",
        )
    nums = [float(p) for p in parts]
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4:
        raise InvalidBBox("bbox must have four finite numbers: minx,miny,maxx,maxy",
                          message_vi="bbox phải gồm bốn số hữu hạn")
    a, b, c, d = nums
    if flipped:
        a, b, c, d = b, a, d, c
    if not (a <= c and b <= d):
        raise InvalidBBox(
            f"bbox {raw!r} has its minimum above its maximum",
            message_vi="bbox có giá trị nhỏ nhất lớn hơn giá trị lớn nhất",
        )
    return a, b, c, d


def tile_numbers(z: str, x: str, y: str) -> tuple[int, int, int]:
    """Path strings z/x/y as whole numbers, or InvalidTile (a 400)."""
    if not all(_WHOLE.fullmatch(v) for v in (z, x, y)):
        raise InvalidTile(
            f"z/x/y must be whole numbers, got {z}/{x}/{y}",
            message_vi=f"z/x/y phải là số nguyên, nhận được {z}/{x}/{y}",
        )
    return int(z), int(x), int(y)


def tile(tms: TileMatrixSet, z: str, x: str, y: str) -> Tile:
    """Path strings z/x/y as a Tile that exists in the grid, or InvalidTile (a 400).

    Routes take strings rather than ``<int:z>`` so that "abc" gets our JSON error with a reason
    instead of a bare routing 404.
    """
    return check_tile(tms, *tile_numbers(z, x, y))


def date_arg(args: Mapping[str, Any], name: str = "date") -> dt.date:
    """An ISO date (``YYYY-MM-DD``); absent means today."""
    raw = args.get(name)
    if not raw:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be YYYY-MM-DD, got {raw!r}",
                           message_vi="Ngày phải có dạng YYYY-MM-DD") from exc


def _check_plot_size(geometry: dict, settings: Settings) -> None:
    """Count rings and vertices before shapely builds anything (a 41 MB polygon held a thread
    for 13 s): over ``lookup_max_plot_rings``/``lookup_max_plot_vertices`` is a 413."""
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


def plot_geometry(body: Any, settings: Settings) -> BaseGeometry:
    """A plot from a decoded JSON body: a GeoJSON Polygon, MultiPolygon or Feature of one, valid,
    within the size limits; the same reading for the look-up and the information sheet."""
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
    _check_plot_size(body, settings)
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


def typed(kind: str, name: str, raw: str) -> object:
    """A property filter's value as its type in the registry (``integer``, ``number``, text), or
    a 400 that names the property. Text is compared in NFC, the form the database stores: a label
    typed on a keyboard that sends decomposed Vietnamese (NFD, e.g. macOS) must still find it."""
    if kind == "integer":
        value = int_arg({name: raw}, name, None, -(2**63), 2**63 - 1)
        if value is None:
            raise InvalidInput(f"{name} must be a whole number, got {raw!r}",
                               message_vi=f"{name} phải là số nguyên, nhận được {raw!r}")
        return value
    if kind == "number":
        return parse_number(raw, name)
    return unicodedata.normalize("NFC", raw)


def library_filters(args: Mapping[str, Any], today: dt.date | None = None) -> LibraryFilters:
    """``type, issuer, year, plan, q, page, per_page, after`` of the document library, as
    checked :class:`~planning_gis.documents.library.LibraryFilters`."""
    today = today or dt.date.today()
    return LibraryFilters.checked(
        doc_type=args.get("type"), issuer=args.get("issuer"),
        year=int_arg(args, "year", None, 1945, today.year),
        plan_id=int_arg(args, "plan", None, 1, 2**31 - 1), q=args.get("q"),
        page=int_arg(args, "page", 1, 1, 100_000) or 1,
        per_page=int_arg(args, "per_page", 20, 1, 100) or 20, after=args.get("after"))


#: The query parameters of the library (page and JSON API).
LIBRARY_PARAMS = frozenset({"type", "issuer", "year", "plan", "q", "page", "per_page", "after"})


def image_format(ext: str) -> str:
    """A raster tile's format by its extension: ``png`` or ``webp``."""
    if ext not in IMAGE_FORMATS:
        raise InvalidInput(
            f"unknown image format {ext!r}: use .png or .webp",
            message_vi=f"Định dạng ảnh không hỗ trợ {ext!r}: dùng .png hoặc .webp",
        )
    return ext


def plot_crs(args: Mapping[str, Any], allowed: Iterable[int] | None = None) -> int:
    """The EPSG code of a posted plot's ``crs=`` (WGS 84 when absent), within ``allowed``."""
    code = epsg_of(args.get("crs") or WGS84)
    allowed = tuple(allowed) if allowed is not None else None
    if allowed is not None and code not in allowed:
        names = " or ".join(str(c) for c in allowed)
        raise InvalidInput(f"crs must be {names}, got {args.get('crs')!r}",
                           message_vi=f"crs phải là {names}")
    return code


def plot(settings: Settings) -> BaseGeometry:
    """The plot of a POST body: strict JSON under the body limit, then :func:`plot_geometry`."""
    return plot_geometry(read_json_body(InvalidGeometry), settings)


@dataclass(frozen=True)
class StoredPlot:
    """A posted plot in the storage CRS (EPSG:5897, metres), with its area."""

    geom: BaseGeometry
    area_m2: float


def stored_plot(settings: Settings, code: int) -> StoredPlot:
    """The posted plot, checked once for every endpoint that takes one (the look-up, the
    information sheet): its centre lies in Hanoi (tested in the CRS it came in, so that swapped
    axes get the same message as a point), it has an area, and not more than the limit."""
    geom = plot(settings)
    c = geom.centroid
    if code == WGS84:
        resolve_lonlat(c.x, c.y)  # GeoJSON order is x, y
    else:
        resolve_projected(c.y, c.x, code)
    if code != STORAGE_SRID:
        geom = shapely_transform(geom, transformer(code, STORAGE_SRID).transform,
                                 interleaved=False)
    area = geom.area
    if area <= 0:
        raise InvalidGeometry("the plot has no area", message_vi="Thửa đất có diện tích bằng 0")
    if area > settings.lookup_max_plot_m2:
        limit = settings.lookup_max_plot_m2 / 1e6
        raise TooLarge(f"the plot is {area / 1e6:.1f} km²; the limit is {limit:.1f} km²",
                       message_vi=f"Thửa đất quá lớn ({area / 1e6:.1f} km²; tối đa "
                                  f"{limit:.1f} km²)".replace(".", ","))
    return StoredPlot(geom, area)


#: Corners of a plot as written on a land-use certificate: up to this many.
MAX_CORNERS = 200


def _corner(line: str, n: int) -> tuple[float, float]:
    """One corner line: ``X;Y`` or ``X<tab>Y`` (digits may be grouped by spaces), or tokens
    separated by spaces whose last two are X and Y (a leading corner number is allowed)."""
    parts = [p for p in re.split(r"[;\t]", line) if p.strip()]
    if len(parts) < 2:
        parts = line.split()
    if len(parts) < 2:
        raise InvalidGeometry(f"corner line {n}: give X (north) and Y (east)",
                              message_vi=f"Dòng {n}: cần hai số X (Bắc) và Y (Đông).")
    x = parse_number(parts[-2], f"X ({n})", thousands=True)
    y = parse_number(parts[-1], f"Y ({n})", thousands=True)
    return x, y


def corners_plot(raw: str, settings: Settings) -> StoredPlot:
    """A plot from VN-2000 (EPSG:5897) corners as the land-use certificate lists them, one a
    line, X = northing then Y = easting; checked in Hanoi (a swapped pair is named) and by the
    same size limit as a drawn plot."""
    corners = []
    for n, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        corners.append(_corner(line, n))
        if len(corners) > MAX_CORNERS:
            raise TooLarge(f"at most {MAX_CORNERS} corners",
                           message_vi=f"Tối đa {MAX_CORNERS} đỉnh thửa đất.")
    if len(corners) < 3:
        raise InvalidGeometry("a plot needs at least three corners",
                              message_vi="Thửa đất cần ít nhất 3 đỉnh (mỗi dòng: X Y).")
    for x_north, y_east in corners:
        resolve_projected(x_north, y_east, STORAGE_SRID)
    from shapely.geometry import Polygon

    poly = Polygon([(y, x) for x, y in corners])
    if not poly.is_valid or poly.area <= 0:
        raise InvalidGeometry("the corners do not make a simple polygon",
                              message_vi="Các đỉnh không tạo thành thửa đất hợp lệ (các cạnh cắt"
                                         " nhau hoặc sai thứ tự).")
    if poly.area > settings.lookup_max_plot_m2:
        raise TooLarge("the plot is too large", message_vi="Thửa đất quá lớn.")
    return StoredPlot(poly, poly.area)


def geojson_plot(body: Any, code: int, settings: Settings) -> StoredPlot:
    """A plot from a decoded GeoJSON document (a small uploaded file, or a form's hidden field
    holding the plot drawn on the map) in ``code``, checked as :func:`stored_plot` checks a
    posted one."""
    geom = plot_geometry(body, settings)
    c = geom.centroid
    if code == WGS84:
        resolve_lonlat(c.x, c.y)
    else:
        resolve_projected(c.y, c.x, code)
    if code != STORAGE_SRID:
        geom = shapely_transform(geom, transformer(code, STORAGE_SRID).transform,
                                 interleaved=False)
    if geom.area <= 0:
        raise InvalidGeometry("the plot has no area", message_vi="Thửa đất có diện tích bằng 0")
    if geom.area > settings.lookup_max_plot_m2:
        raise TooLarge("the plot is too large", message_vi="Thửa đất quá lớn.")
    return StoredPlot(geom, geom.area)
def optional_date(args: Mapping[str, Any], name: str) -> dt.date | None:
    """An ISO date (``YYYY-MM-DD``), or None when absent (unlike :func:`date_arg`: no today)."""
    raw = args.get(name)
    if not raw:
        return None
    return date_arg(args, name)


#: What a comparison can be answered as.
COMPARE_FORMATS = ("json", "csv", "html")


@dataclass(frozen=True)
class CompareQuery:
    """``a`` (a plan) on ``date_a`` against ``b`` (default: the same plan) on ``date_b``."""

    plan_a: int
    plan_b: int | None
    date_a: dt.date | None
    date_b: dt.date | None
    format: str
    geometry: bool
    sides: bool


def compare_query(args: Mapping[str, Any]) -> CompareQuery:
    """The comparison's parameters, each checked once."""
    plan_a = int_arg(args, "a", None, 1, 2**31 - 1)
    if plan_a is None:
        raise InvalidInput("give the plan to compare: a=PLAN_ID (and b=PLAN_ID or date_a=DATE)",
                           message_vi="Hãy chọn đồ án cần so sánh: a=mã đồ án "
                                      "(và b=mã đồ án khác hoặc date_a=ngày).")
    fmt = str(args.get("format") or "json")
    if fmt not in COMPARE_FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(COMPARE_FORMATS)}, got {fmt!r}",
                           message_vi="format phải là json, csv hoặc html")
    flags = {}
    for name in ("geometry", "sides"):
        raw = str(args.get(name) or "0")
        if raw not in ("0", "1"):
            raise InvalidInput(f"{name} must be 0 or 1, got {raw!r}",
                               message_vi=f"{name} phải là 0 hoặc 1")
        flags[name] = raw == "1"
    return CompareQuery(plan_a, int_arg(args, "b", None, 1, 2**31 - 1),
                        optional_date(args, "date_a"), optional_date(args, "date_b"), fmt,
                        flags["geometry"], flags["sides"])
