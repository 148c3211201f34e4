"""Control points: the pixel of a grid cross on the scan and its map coordinates.

Files come in three shapes: a CSV with named columns, QGIS ``.points`` files, and GCPs embedded
in a GeoTIFF. Vietnamese surveyors write X = northing, Y = easting, GIS software writes x =
easting; a column named only ``X``/``Y`` is therefore ambiguous, and we settle it by checking
which reading falls inside Hanoi. A file that falls outside Hanoi in both readings is refused
with a message rather than guessed at.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pyproj import CRS

from planning_gis.crs import (
    VN2000_TM3_HANOI,
    WGS84,
    in_hanoi_lonlat,
    parse_crs,
    transformer,
)
from planning_gis.errors import (
    GeoreferenceError,
    InvalidInput,
    MissingFile,
    OutsideArea,
    OutsideHanoi,
)


@dataclass(frozen=True)
class ControlPoint:
    """One control point: scan pixel (column, row; row grows downwards) and map coordinates."""

    pixel_x: float
    pixel_y: float
    easting: float
    northing: float
    enabled: bool = True
    label: str = ""


@dataclass
class ControlPointSet:
    """Points plus the CRS their map coordinates are in, and notes on how the file was read."""

    points: list[ControlPoint]
    crs: CRS | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> list[ControlPoint]:
        return [p for p in self.points if p.enabled]

    def epsg(self) -> int | None:
        return _epsg(self.crs) if self.crs is not None else None


def _epsg(crs: CRS) -> int | None:
    code = crs.to_epsg()
    if code is None:
        code = crs.to_epsg(min_confidence=70)
    return code


# Column names we accept, lower-cased and stripped of spaces/underscores/brackets.
_PIXEL_X = {"pixelx", "px", "col", "column", "sourcex", "srcx", "imagex", "xpixel", "pixelcol"}
_PIXEL_Y = {"pixely", "py", "row", "line", "sourcey", "srcy", "imagey", "ypixel", "pixelrow"}
_EAST = {"easting", "east", "e", "yeast", "mapx", "lon", "longitude", "ydong"}
_NORTH = {"northing", "north", "n", "xnorth", "mapy", "lat", "latitude", "xbac"}
_VN_X = {"x", "xm", "xvn2000", "toadox"}  # Vietnamese X = northing (checked against Hanoi)
_VN_Y = {"y", "ym", "yvn2000", "toadoy"}
_ENABLE = {"enable", "enabled", "use", "active"}
_LABEL = {"label", "name", "id", "ten", "tên", "point", "diem"}


def _norm(name: str) -> str:
    keep = "".join(ch for ch in name.strip().lower() if ch.isalnum())
    return keep


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "n", "off", "")


def _float(value: str, what: str, line: int) -> float:
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    try:
        number = float(text)
    except ValueError as exc:
        raise InvalidInput(f"line {line}: {what} {value!r} is not a number") from exc
    if not math.isfinite(number):
        raise InvalidInput(f"line {line}: {what} must be a finite number")
    return number


def read_control_points(
    path: str | Path, crs: str | int | None = None
) -> ControlPointSet:
    """Read control points from a CSV, a QGIS ``.points`` file or a GeoTIFF with GCPs.

    ``crs`` is the CRS the caller says the map coordinates are in; a ``#CRS:`` header or the
    GeoTIFF's GCP CRS wins when present (and a note records any disagreement).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFile(f"control-point file not found: {p}")
    suffix = p.suffix.lower()
    given = parse_crs(crs) if crs is not None else None
    if suffix in (".tif", ".tiff"):
        result = _read_geotiff_gcps(p)
    else:
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{p.name}: not a UTF-8 text file") from exc
        if suffix == ".points" or text.lstrip().startswith("#CRS") or "mapX" in text[:2000]:
            result = parse_points_text(text)
        else:
            result = parse_csv_text(text, crs=given)
    if result.crs is None:
        result.crs = given if given is not None else parse_crs(VN2000_TM3_HANOI)
    elif given is not None and _epsg(given) != _epsg(result.crs):
        result.notes.append(
            f"file says its CRS is EPSG:{_epsg(result.crs)}; --crs EPSG:{_epsg(given)} is used "
            "as the output CRS"
        )
    if not result.points:
        raise GeoreferenceError(f"{p.name}: no control points found")
    check_in_hanoi(result)
    return result


def _read_geotiff_gcps(path: Path) -> ControlPointSet:
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            gcps, gcp_crs = src.gcps
    except RasterioIOError as exc:
        raise InvalidInput(f"{path.name}: cannot read GeoTIFF: {exc}") from exc
    if not gcps:
        raise GeoreferenceError(f"{path.name}: the GeoTIFF has no embedded control points (GCPs)")
    points = [
        ControlPoint(g.col, g.row, g.x, g.y, True, str(g.id or i + 1))
        for i, g in enumerate(gcps)
    ]
    crs = CRS.from_wkt(gcp_crs.to_wkt()) if gcp_crs else None
    return ControlPointSet(points, crs, [f"{len(points)} GCPs read from {path.name}"])


def parse_points_text(text: str) -> ControlPointSet:
    """Parse a QGIS georeferencer ``.points`` file (source Y is the negated row)."""
    crs = None
    body: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#CRS:"):
                definition = line[5:].strip()
                if definition:
                    crs = CRS.from_wkt(definition) if "[" in definition else parse_crs(definition)
            continue
        body.append(line)
    if not body:
        raise GeoreferenceError("the .points file has no header line and no points")
    reader = csv.reader(body)
    header = [_norm(h) for h in next(reader)]
    try:
        ix = {k: header.index(k.lower()) for k in ("mapX", "mapY", "sourceX", "sourceY")}
    except ValueError as exc:
        raise InvalidInput(
            ".points file must have columns mapX,mapY,sourceX,sourceY[,enable]"
        ) from exc
    ien = header.index("enable") if "enable" in header else None
    points = []
    for n, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        points.append(
            ControlPoint(
                pixel_x=_float(row[ix["sourceX"]], "sourceX", n),
                pixel_y=-_float(row[ix["sourceY"]], "sourceY", n),
                easting=_float(row[ix["mapX"]], "mapX", n),
                northing=_float(row[ix["mapY"]], "mapY", n),
                enabled=_truthy(row[ien]) if ien is not None and ien < len(row) else True,
                label=str(n - 1),
            )
        )
    return ControlPointSet(points, crs, [])


def parse_csv_text(text: str, crs: CRS | None = None) -> ControlPointSet:
    """Parse a CSV with named columns; settle a bare ``X``/``Y`` pair by the Hanoi check."""
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if r and any(c.strip() for c in r)]
    rows = [r for r in rows if not r[0].lstrip().startswith("#")]
    if not rows:
        raise GeoreferenceError("the CSV is empty")
    header = [_norm(h) for h in rows[0]]

    def find(names: set[str]) -> int | None:
        for i, h in enumerate(header):
            if h in names:
                return i
        return None

    ipx, ipy = find(_PIXEL_X), find(_PIXEL_Y)
    ie, inn = find(_EAST), find(_NORTH)
    ivx, ivy = find(_VN_X), find(_VN_Y)
    ien, ilab = find(_ENABLE), find(_LABEL)
    if ipx is None or ipy is None:
        raise InvalidInput(
            "CSV header must name the pixel columns (pixel_x,pixel_y) and the map columns "
            f"(easting,northing or Vietnamese X,Y); got {','.join(rows[0])}"
        )
    notes: list[str] = []
    ambiguous = False
    if ie is not None and inn is not None:
        notes.append("map columns read by name: easting, northing")
    elif ivx is not None and ivy is not None:
        ie, inn = ivy, ivx  # Vietnamese order: X = northing, Y = easting
        ambiguous = True
        notes.append("map columns X, Y read in the Vietnamese order: X = northing, Y = easting")
    else:
        raise InvalidInput(
            "CSV header must name the map columns: easting,northing (or x_north,y_east, or "
            f"Vietnamese X,Y); got {','.join(rows[0])}"
        )
    points = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            raise InvalidInput(f"line {n}: expected {len(header)} columns, got {len(row)}")
        points.append(
            ControlPoint(
                pixel_x=_float(row[ipx], "pixel_x", n),
                pixel_y=_float(row[ipy], "pixel_y", n),
                easting=_float(row[ie], "easting", n),
                northing=_float(row[inn], "northing", n),
                enabled=_truthy(row[ien]) if ien is not None else True,
                label=row[ilab].strip() if ilab is not None else str(n - 1),
            )
        )
    result = ControlPointSet(points, crs, notes)
    if ambiguous and points:
        inside, inside_swapped = _hanoi_counts(points, crs or parse_crs(VN2000_TM3_HANOI))
        if inside_swapped > inside:
            result.points = [_swap(p) for p in points]
            result.notes[-1] = (
                "map columns X, Y are in the GIS order (X = easting): the Vietnamese reading "
                "falls outside the CRS's region and this one inside"
            )
    return result


def _swap(p: ControlPoint) -> ControlPoint:
    return replace(p, easting=p.northing, northing=p.easting)


def _lonlat(points: Sequence[ControlPoint], crs: CRS, swapped: bool = False) -> np.ndarray:
    e = np.array([p.northing if swapped else p.easting for p in points], dtype=float)
    n = np.array([p.easting if swapped else p.northing for p in points], dtype=float)
    code = _epsg(crs)
    if code is None:
        raise InvalidInput("the control points' CRS has no EPSG code")
    lon, lat = transformer(code, WGS84).transform(e, n)
    return np.column_stack([np.atleast_1d(lon), np.atleast_1d(lat)])


#: Geodetic datums of Vietnam's plane systems: a sheet in one of them is a Hanoi sheet here, and
#: its points are checked against Hanoi's extent (which also catches swapped X/Y, since a
#: swapped VN-2000 pair lands far outside). Any other CRS is checked against its own area of use.
HANOI_DATUMS = ("Vietnam 2000", "Hanoi 1972")


@dataclass(frozen=True)
class Region:
    """Where a control point set's points must fall, in WGS 84 lon/lat, and how to name it."""

    name: str
    name_vi: str
    bounds: tuple[float, float, float, float] | None  # west, south, east, north; None = Hanoi
    hanoi: bool

    def contains(self, lon: float, lat: float) -> bool:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return False
        if self.hanoi:
            return in_hanoi_lonlat(lon, lat)
        assert self.bounds is not None
        w, s, e, n = self.bounds
        pad = 0.05  # degrees: areas of use are drawn at the border, sheets run a little past
        if not (s - pad <= lat <= n + pad):
            return False
        if w <= e:
            return w - pad <= lon <= e + pad
        return lon >= w - pad or lon <= e + pad  # an area that crosses the antimeridian


def region_of(crs: CRS) -> Region | None:
    """Hanoi for VN-2000 and HN-72 systems, else the CRS's area of use (None if it has none)."""
    datum = crs.datum.name if crs.datum is not None else ""
    if any(d in datum for d in HANOI_DATUMS):
        return Region("Hanoi", "Hà Nội", None, True)
    area = crs.area_of_use
    if area is None:
        return None
    return Region(f"the area of use of {crs.name} ({area.name})",
                  f"vùng sử dụng của {crs.name} ({area.name})", tuple(area.bounds), False)


def _region_counts(points: Sequence[ControlPoint], crs: CRS, region: Region) -> tuple[int, int]:
    ll = _lonlat(points, crs)
    sw = _lonlat(points, crs, swapped=True)
    inside = sum(region.contains(lo, la) for lo, la in ll)
    inside_sw = sum(region.contains(lo, la) for lo, la in sw)
    return int(inside), int(inside_sw)


def _hanoi_counts(points: Sequence[ControlPoint], crs: CRS) -> tuple[int, int]:
    region = region_of(crs) or Region("Hanoi", "Hà Nội", None, True)
    return _region_counts(points, crs, region)


def check_in_hanoi(cps: ControlPointSet) -> None:
    """Refuse a file whose points lie outside their CRS's region in both axis readings.

    The region is Hanoi for VN-2000 and HN-72 systems (the service's own sheets), and the
    CRS's area of use from the EPSG database for any other code, so that an old sheet in, say,
    Swiss LV03 is accepted and a Swiss pair typed in the wrong order is still refused.
    A single point that is only inside when swapped is kept: the residual report names it as a
    swapped-X/Y blunder, which is more useful to the planner than refusing the whole file.
    """
    crs = cps.crs or parse_crs(VN2000_TM3_HANOI)
    code = _epsg(crs)
    region = region_of(crs)
    if region is None:
        cps.notes.append(f"EPSG:{code} has no area of use: the points' position is not checked")
        return
    inside, inside_sw = _region_counts(cps.points, crs, region)
    if inside >= max(1, len(cps.points) // 2):
        return
    if region.hanoi:
        if inside_sw > inside:
            raise OutsideHanoi(
                f"control points in EPSG:{code} fall outside Hanoi, but would be inside with "
                "easting and northing swapped: check the column names (X = northing, about "
                "2 3xx xxx; Y = easting, about 5xx xxx in VN-2000)",
                message_vi="Điểm khống chế nằm ngoài Hà Nội; có vẻ X và Y bị đảo chỗ.",
            )
        raise OutsideHanoi(
            f"control points in EPSG:{code} fall outside Hanoi in both axis readings: check the "
            "CRS",
            message_vi="Điểm khống chế nằm ngoài phạm vi Hà Nội theo cả hai cách đọc X/Y.",
        )
    if inside_sw > inside:
        raise OutsideArea(
            f"control points in EPSG:{code} fall outside {region.name}, but would be inside "
            "with easting and northing swapped: check the column names",
            message_vi=f"Điểm khống chế nằm ngoài {region.name_vi}; có vẻ X và Y bị đảo chỗ.",
        )
    raise OutsideArea(
        f"control points in EPSG:{code} fall outside {region.name} in both axis readings: "
        "check the CRS",
        message_vi=f"Điểm khống chế nằm ngoài {region.name_vi} theo cả hai cách đọc X/Y: "
        "hãy kiểm tra hệ tọa độ.",
    )


def _crs_wkt(crs: CRS | None) -> str:
    if crs is None:
        return ""
    return crs.to_wkt()


def write_points(points: Iterable[ControlPoint], path: str | Path, crs: CRS | None) -> None:
    """Write a QGIS ``.points`` file (QGIS 3 layout: ``#CRS:`` header, source Y negated)."""
    lines = [f"#CRS: {_crs_wkt(crs)}", "mapX,mapY,sourceX,sourceY,enable,dX,dY,residual"]
    for p in points:
        lines.append(
            f"{p.easting:.4f},{p.northing:.4f},{p.pixel_x:.4f},{-p.pixel_y:.4f},"
            f"{1 if p.enabled else 0},0,0,0"
        )
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(points: Iterable[ControlPoint], path: str | Path) -> None:
    """Write a CSV with explicit axis names (never bare X/Y)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "pixel_x", "pixel_y", "easting", "northing", "enabled"])
        for p in points:
            w.writerow(
                [p.label, f"{p.pixel_x:.4f}", f"{p.pixel_y:.4f}", f"{p.easting:.4f}",
                 f"{p.northing:.4f}", 1 if p.enabled else 0]
            )
