"""Coordinate reference systems of Hanoi's plans, and the axis-order trap of VN-2000.

Vietnamese surveying writes X = northing, Y = easting. Every helper here names axes explicitly
and always goes through EPSG codes with pyproj (never a bare proj string), so that the 7-parameter
VN-2000 datum shift is applied: skipping it puts a point about 220 m off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from planning_gis.errors import InvalidInput, OutsideHanoi, UnknownCRS

WGS84 = 4326
WEB_MERCATOR = 3857
VN2000_TM3_HANOI = 5897
VN2000_UTM48 = 3405
HN72_GK18 = 2044
STORAGE_SRID = VN2000_TM3_HANOI

#: Hanoi's extent in lon/lat with a small margin (min lon, min lat, max lon, max lat).
HANOI_BOUNDS_LONLAT = (105.25, 20.53, 106.05, 21.42)


@lru_cache(maxsize=64)
def parse_crs(value: str | int) -> CRS:
    """Turn "EPSG:5897", "5897", 5897 or an OGC CRS URI into a CRS, or raise UnknownCRS."""
    text = str(value).strip()
    if text.startswith("http://www.opengis.net/def/crs/"):
        parts = text.rstrip("/").split("/")
        if parts[-3:] == ["OGC", "1.3", "CRS84"]:
            text = "OGC:CRS84"
        else:
            text = f"{parts[-3]}:{parts[-1]}"
    elif text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        raise UnknownCRS(
            f"unknown CRS {value!r}: give an EPSG code such as EPSG:5897",
            message_vi=f"Hệ tọa độ không xác định {value!r}: hãy dùng mã EPSG, ví dụ EPSG:5897",
        ) from exc
    if not (crs.is_projected or crs.is_geographic):
        raise UnknownCRS(f"CRS {value!r} is neither projected nor geographic")
    return crs


def epsg_of(value: str | int) -> int:
    """The EPSG code of a CRS argument (CRS84 counts as 4326), or UnknownCRS."""
    crs = parse_crs(value)
    if crs.to_string() == "OGC:CRS84":
        return WGS84
    code = crs.to_epsg()
    if code is None:
        raise UnknownCRS(f"CRS {value!r} has no EPSG code")
    return code


@lru_cache(maxsize=64)
def transformer(src: str | int, dst: str | int) -> Transformer:
    """A cached x/y-ordered transformer (lon, lat / easting, northing) between two CRSs."""
    return Transformer.from_crs(parse_crs(src), parse_crs(dst), always_xy=True)


def lonlat_to_vn2000(lon: float, lat: float) -> tuple[float, float]:
    """(easting, northing) in EPSG:5897 for a WGS 84 lon/lat."""
    return transformer(WGS84, VN2000_TM3_HANOI).transform(lon, lat)


def vn2000_to_lonlat(easting: float, northing: float) -> tuple[float, float]:
    """(lon, lat) in WGS 84 for an EPSG:5897 easting/northing."""
    return transformer(VN2000_TM3_HANOI, WGS84).transform(easting, northing)


def in_hanoi_lonlat(lon: float, lat: float) -> bool:
    minx, miny, maxx, maxy = HANOI_BOUNDS_LONLAT
    return minx <= lon <= maxx and miny <= lat <= maxy


@dataclass(frozen=True)
class ResolvedPoint:
    """A point the user gave, in every form the rest of the code wants, and how we read it."""

    lon: float
    lat: float
    easting: float
    northing: float
    reading: str  # human explanation of the axis reading we applied

    def as_dict(self) -> dict[str, object]:
        return {
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "easting": round(self.easting, 3),
            "northing": round(self.northing, 3),
            "x_north": round(self.northing, 3),
            "y_east": round(self.easting, 3),
            "reading": self.reading,
        }


def _finite(*values: float) -> None:
    for v in values:
        if v != v or v in (float("inf"), float("-inf")):
            raise InvalidInput("coordinates must be finite numbers")


def resolve_lonlat(lon: float, lat: float) -> ResolvedPoint:
    """Check a WGS 84 lon/lat lies in Hanoi; name a swapped pair instead of guessing."""
    _finite(lon, lat)
    if not in_hanoi_lonlat(lon, lat):
        if in_hanoi_lonlat(lat, lon):
            raise OutsideHanoi(
                f"lon={lon}, lat={lat} is outside Hanoi; swapped (lon={lat}, lat={lon}) it would be "
                "inside: check the axis order (lon is about 105.8, lat about 21.0)",
                message_vi="Tọa độ nằm ngoài Hà Nội; có vẻ kinh độ và vĩ độ bị đảo chỗ "
                "(kinh độ khoảng 105,8; vĩ độ khoảng 21,0).",
            )
        raise OutsideHanoi(
            f"lon={lon}, lat={lat} is outside Hanoi (lon 105.25–106.05, lat 20.53–21.42)",
            message_vi="Tọa độ nằm ngoài phạm vi thành phố Hà Nội.",
        )
    e, n = lonlat_to_vn2000(lon, lat)
    return ResolvedPoint(lon, lat, e, n, "WGS 84 lon/lat")


def resolve_projected(
    x_north: float, y_east: float, crs: str | int = VN2000_TM3_HANOI
) -> ResolvedPoint:
    """Read a projected pair given in the Vietnamese order X = northing, Y = easting.

    A pair that is only inside Hanoi when read the other way round is refused with a message that
    says so: guessing would silently put a citizen's plot on somebody else's.
    """
    _finite(x_north, y_east)
    code = epsg_of(crs)
    if parse_crs(code).is_geographic:
        raise InvalidInput(
            f"EPSG:{code} is geographic: give lon/lat instead of x_north/y_east",
            message_vi="Hệ tọa độ địa lý: hãy nhập kinh độ/vĩ độ.",
        )
    to_ll = transformer(code, WGS84)
    lon, lat = to_ll.transform(y_east, x_north)
    if in_hanoi_lonlat(lon, lat):
        e, n = transformer(code, VN2000_TM3_HANOI).transform(y_east, x_north)
        return ResolvedPoint(lon, lat, e, n, f"EPSG:{code} X (northing)={x_north}, Y (easting)={y_east}")
    slon, slat = to_ll.transform(x_north, y_east)
    if in_hanoi_lonlat(slon, slat):
        raise OutsideHanoi(
            f"X={x_north}, Y={y_east} in EPSG:{code} is outside Hanoi, but it would be inside with "
            "X and Y swapped: X is the northing (about 2 3xx xxx), Y the easting (about 5xx xxx)",
            message_vi="Tọa độ nằm ngoài Hà Nội; có vẻ X và Y bị đảo chỗ "
            "(X là tọa độ Bắc, khoảng 2 3xx xxx; Y là tọa độ Đông, khoảng 5xx xxx).",
        )
    raise OutsideHanoi(
        f"X={x_north}, Y={y_east} in EPSG:{code} is outside Hanoi in both axis readings",
        message_vi="Tọa độ nằm ngoài phạm vi Hà Nội theo cả hai cách đọc X/Y.",
    )


_SPACES = dict.fromkeys(map(ord, " \u00a0\u2009\u202f\t'"), None)


def parse_printed_number(text: str | float | int) -> float:
    """A coordinate typed as printed on a Vietnamese sheet: ``2.325.260``, ``2 325 260``,
    ``2 325 260,50``, ``586400,25``, ``2,325,260.5``, ``2325260.5``.

    Spaces (also non-breaking and thin ones) and apostrophes group thousands. With both ``.``
    and ``,`` the last one is the decimal mark and the other groups thousands. A mark that
    appears more than once groups thousands; a single ``,`` is a decimal comma (Vietnamese
    usage) and a single ``.`` a decimal point. Raises ``ValueError`` on anything else.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().translate(_SPACES)
    if s.startswith("+"):
        s = s[1:]
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        decimal = "." if s.rfind(".") > s.rfind(",") else ","
        group = "," if decimal == "." else "."
        if s.count(decimal) > 1:
            raise ValueError(f"not a number: {text!r}")
        s = s.replace(group, "").replace(decimal, ".")
    elif dots > 1:
        s = s.replace(".", "")
    elif commas > 1:
        s = s.replace(",", "")
    elif commas == 1:
        s = s.replace(",", ".")
    if not s or not all(c.isdigit() or c in ".-" for c in s) or s.count("-") > (s[0] == "-"):
        raise ValueError(f"not a number: {text!r}")
    return float(s)


def local_vn2000_grid(bounds_lonlat: tuple[float, float, float, float],
                      margin: float = 0.25) -> dict[str, object]:
    """Order-2 polynomials between lon/lat and VN-2000 / TM-3 (EPSG:5897) over one area.

    The editor's reference map draws the VN-2000 grid and reads the cursor in X/Y without a
    projection library in the browser: over a plan (a few km) the true transformation (pyproj,
    with the datum shift) is fitted by a quadratic in each direction, and the largest error on a
    dense check grid is returned with it (millimetres for a district; the figure says so).
    """
    import numpy as np

    w, s, e, n = bounds_lonlat
    dw, dh = (e - w) * margin + 1e-3, (n - s) * margin + 1e-3
    w, s, e, n = w - dw, s - dh, e + dw, n + dh
    lon, lat = np.meshgrid(np.linspace(w, e, 15), np.linspace(s, n, 15))
    lon, lat = lon.ravel(), lat.ravel()
    east, north = transformer(4326, VN2000_TM3_HANOI).transform(lon, lat)
    east, north = np.asarray(east), np.asarray(north)

    def terms(u, v):
        return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])

    lo = (float(lon.mean()), float(lat.mean()))
    en = (float(east.mean()), float(north.mean()))
    a = terms(lon - lo[0], lat - lo[1])
    ce = np.linalg.lstsq(a, east, rcond=None)[0]
    cn = np.linalg.lstsq(a, north, rcond=None)[0]
    b = terms((east - en[0]) / 1000.0, (north - en[1]) / 1000.0)  # km: well conditioned
    clon = np.linalg.lstsq(b, lon, rcond=None)[0]
    clat = np.linalg.lstsq(b, lat, rcond=None)[0]
    # check between the fitting nodes
    lon2, lat2 = np.meshgrid(np.linspace(w, e, 22), np.linspace(s, n, 22))
    lon2, lat2 = lon2.ravel(), lat2.ravel()
    e2, n2 = transformer(4326, VN2000_TM3_HANOI).transform(lon2, lat2)
    t2 = terms(lon2 - lo[0], lat2 - lo[1])
    err = float(np.hypot(t2 @ ce - np.asarray(e2), t2 @ cn - np.asarray(n2)).max())
    return {"lonlat_origin": list(lo), "east": ce.tolist(), "north": cn.tolist(),
            "en_origin": list(en), "lon": clon.tolist(), "lat": clat.tolist(),
            "max_error_m": round(err, 4)}
