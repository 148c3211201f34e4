"""Open files that came from outside (uploads, files handed to the CLI) with GDAL, safely.

GDAL picks a driver from a file's *content*: a ``.json`` holding ``<OGRVRTDataSource>`` XML is
opened by the VRT driver, which then reads any path (``/etc/passwd``) or URL it names; a PNG
signature followed by ``<VRTDataset>`` XML is a VRT raster too. So an uploaded file is opened
only by the driver its type allows, and only after its content has been checked to be plainly
that format:

* vector (zones): GeoJSON for ``.geojson``/``.json`` (parsed as JSON first, opened with the
  ``GeoJSON:`` prefix so no other driver is asked), GPKG for ``.gpkg`` (SQLite header with the
  GeoPackage application id, opened with the ``GPKG:`` prefix), ESRI Shapefile for ``.shp`` and
  for a ``.zip``, whose members are checked (no links, nothing outside its folder, only the
  shapefile's parts, counts and uncompressed bytes bounded against zip bombs) and extracted by
  us (GDAL never sees the zip), DXF for ``.dxf``;
* raster (scans): GTiff, PNG, JPEG or PDF, named to rasterio as the only driver to try.

Every file is also refused when its head holds the marker of a driver that follows references
(VRT, WMS, WMTS, tile indexes), and every open runs under :data:`GDAL_UPLOAD_OPTIONS`, which
keep GDAL off the network and away from sibling files whatever a driver might try.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from planning_gis.errors import CorruptImage, InvalidInput, TooLarge, UnsafeFile

#: GDAL configuration for every open of an outside file: no network (a /vsicurl/ name must end
#: with an extension no file has; HTTP goes to a closed local port and gives up at once), no
#: directory listing beside the file, no external access from SQLite/GeoPackage SQL, no Python
#: in VRT pixel functions, no .aux.xml sidecars read or written.
GDAL_UPLOAD_OPTIONS: dict[str, str] = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".planning-gis-no-network",
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/planning-gis/no-network",
    "GDAL_HTTP_PROXY": "http://127.0.0.1:9",
    "GDAL_HTTPS_PROXY": "http://127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_NETRC": "NO",
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_PAM_ENABLED": "NO",
}

#: Content that makes GDAL's identification pick a driver which follows paths or URLs
#: (it looks for these anywhere in the file's first kilobytes).
FORBIDDEN_MARKERS = (
    b"<OGRVRTDataSource", b"<VRTDataset", b"<GDAL_WMS", b"<GDAL_WMTS", b"<WMS_Capabilities",
    b"<GDALTileIndexDataset", b"<Capabilities", b"<WFS_Capabilities",
)
#: How much of a file's head is searched for the markers (GDAL reads 1 KB, some drivers more).
MARKER_SCAN_BYTES = 1 << 16

#: The driver each upload type allows.
VECTOR_DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG",
                  ".shp": "ESRI Shapefile", ".zip": "ESRI Shapefile", ".dxf": "DXF"}
RASTER_DRIVERS = {"tif": "GTiff", "png": "PNG", "jpg": "JPEG", "pdf": "PDF"}

#: Members a zipped shapefile may hold (its parts and metadata); anything else is refused.
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".qix",
                   ".xml", ".qmd", ".fix", ".atx", ".ain", ".aih"}

_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
#: CRS names a GeoJSON may give: codes and URNs, or the OGC's own http URIs (resolved offline).
_CRS_NAME = re.compile(r"^(?:[^/\\]*|https?://www\.opengis\.net/def/crs/[\w./-]*)$")
_pyogrio_lock = threading.Lock()
_pyogrio_ready = False


@dataclass(frozen=True)
class ZoneFileLimits:
    """Bounds on a zones file, so that one upload cannot exhaust the server's memory or time."""

    max_bytes: int = 100 * 2**20  # the file as uploaded (a GeoJSON is parsed in memory)
    max_features: int = 50_000
    max_vertices: int = 200_000  # per feature
    max_zip_members: int = 64
    max_zip_bytes: int = 1024 * 2**20  # uncompressed total of a zip's members
    max_geojson_object_mb: int = 100  # OGR_GEOJSON_MAX_OBJ_SIZE


def scrub(message: str, *paths: object) -> str:
    """``message`` without server paths: the given ones become their file names, any other
    absolute path becomes ``…`` (GDAL's messages name source files and temporary folders)."""
    for p in sorted((str(p) for p in paths if p), key=len, reverse=True):
        message = message.replace(p, Path(p).name)
    message = re.sub(r"/vsi\w+/\S*", "…", message)
    message = re.sub(r"(?<![\w.:])/(?:[\w.+-]+/)+[\w.+-]*", "…", message)
    return message.strip().splitlines()[0] if message.strip() else ""


def pyogrio_configured(limits: ZoneFileLimits | None = None) -> None:
    """Set :data:`GDAL_UPLOAD_OPTIONS` in pyogrio's GDAL.

    pyogrio carries its own copy of GDAL that this service uses only to read outside vector
    files, so the options are set process-wide once (setting and unsetting them per call would
    race between the threads of a server) and stay set.
    """
    global _pyogrio_ready
    if _pyogrio_ready:
        return
    import pyogrio

    with _pyogrio_lock:
        options = dict(GDAL_UPLOAD_OPTIONS)
        options["OGR_GEOJSON_MAX_OBJ_SIZE"] = str((limits or ZoneFileLimits()).max_geojson_object_mb)
        pyogrio.set_gdal_config_options(options)
        _pyogrio_ready = True


def _head(path: Path, size: int = MARKER_SCAN_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def refuse_markers(path: Path, display: str) -> None:
    """Refuse a file whose head names another driver's XML (VRT, WMS …)."""
    head = _head(path)
    for marker in FORBIDDEN_MARKERS:
        if marker in head:
            raise UnsafeFile(
                f"{display}: the file holds {marker.decode()[1:]} XML, which names other files "
                "or addresses; it was not opened",
                message_vi=f"{display}: tệp chứa mô tả {marker.decode()[1:]} trỏ tới tệp hoặc "
                           "địa chỉ khác nên không được mở.")


def _not_this_format(display: str, kind: str) -> UnsafeFile:
    return UnsafeFile(f"cannot read {display} as a {kind} file: its content is not {kind}",
                      message_vi=f"{display}: không phải tệp {kind} (nội dung không khớp với "
                                 "loại tệp).")


def _check_geojson(path: Path, display: str) -> None:
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # nesting: RecursionError
        raise InvalidInput(f"cannot read {display} as GeoJSON: not valid JSON ({exc})",
                           message_vi=f"{display}: không phải GeoJSON hợp lệ.") from exc
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise _not_this_format(display, "GeoJSON")
    crs = doc.get("crs")
    if crs is not None:
        # The 2008 GeoJSON "link"/"url" CRS makes GDAL fetch the URL; only names are taken.
        props = crs.get("properties") if isinstance(crs, dict) else None
        name = props.get("name") if isinstance(props, dict) else None
        if not (isinstance(crs, dict) and crs.get("type") in ("name", "EPSG") and
                (name is None or (isinstance(name, str) and _CRS_NAME.match(name)))):
            raise UnsafeFile(
                f"{display}: its 'crs' must be a name such as EPSG:5897, not a link or a file",
                message_vi=f"{display}: mục 'crs' phải là tên hệ tọa độ (ví dụ EPSG:5897), "
                           "không phải liên kết hay tệp.")


def _check_gpkg(path: Path, display: str) -> None:
    head = _head(path, 100)
    if not head.startswith(b"SQLite format 3\x00") or head[68:72] not in _GPKG_IDS:
        raise _not_this_format(display, "GeoPackage")


def _check_shp(path: Path, display: str) -> None:
    if _head(path, 4) != b"\x00\x00\x27\x0a":
        raise _not_this_format(display, "Shapefile")


def _check_dxf(path: Path, display: str) -> None:
    head = _head(path, 4096)
    if head.startswith(b"AutoCAD Binary DXF"):
        return
    text = head.decode("latin1").lstrip("\ufeff \t\r\n")
    if not re.match(r"(999\s*\r?\n[^\n]*\r?\n\s*)?0\s*\r?\n\s*SECTION\b", text):
        raise _not_this_format(display, "DXF")


def _safe_member(info: zipfile.ZipInfo, display: str) -> PurePosixPath | None:
    """The member's path if it is a plain file inside the zip; None for folders and macOS
    leftovers; refuses links, absolute names and names that climb out with ``..``."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeFile(f"{display}: member {name!r} is a symbolic link",
                         message_vi=f"{display}: thành phần {name!r} là liên kết tượng trưng.")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", name) or "\0" in name:
        raise UnsafeFile(f"{display}: member {name!r} points outside the zip",
                         message_vi=f"{display}: thành phần {name!r} trỏ ra ngoài tệp nén.")
    if info.is_dir() or pure.parts[0] == "__MACOSX" or pure.name.startswith("._"):
        return None
    if pure.suffix.lower() not in SHAPEFILE_PARTS:
        raise UnsafeFile(
            f"{display}: member {name!r} is not part of a shapefile "
            f"(a zip may hold only {', '.join(sorted(SHAPEFILE_PARTS))})",
            message_vi=f"{display}: thành phần {name!r} không thuộc bộ tệp Shapefile.")
    return pure


def _extract_shapefile(path: Path, display: str, into: Path, limits: ZoneFileLimits) -> Path:
    """Extract the one shapefile of a zip into ``into`` (flat), counting real bytes."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"{display}: not a readable zip file (truncated or damaged)",
                           message_vi=f"{display}: tệp nén .zip bị hỏng hoặc không đầy đủ.") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise TooLarge(f"{display}: the zip has {len(infos)} members; at most "
                           f"{limits.max_zip_members} are accepted",
                           message_vi=f"{display}: tệp nén có {len(infos)} thành phần, vượt quá "
                                      f"{limits.max_zip_members}.")
        members = [(i, p) for i in infos if (p := _safe_member(i, display)) is not None]
        shps = [p for _i, p in members if p.suffix.lower() == ".shp"]
        if len(shps) != 1:
            raise InvalidInput(
                f"{display}: a zipped shapefile must hold exactly one .shp, it holds {len(shps)}",
                message_vi=f"{display}: tệp nén phải chứa đúng một tệp .shp (có {len(shps)}).")
        folder = shps[0].parent
        declared = sum(i.file_size for i, _p in members)
        too_big = TooLarge(
            f"{display}: the zip unpacks to more than {limits.max_zip_bytes / 2**20:,.0f} MB",
            message_vi=f"{display}: tệp nén khi giải nén vượt quá "
                       f"{limits.max_zip_bytes / 2**20:,.0f} MB.")
        if declared > limits.max_zip_bytes:
            raise too_big
        total = 0
        seen: set[str] = set()
        for info, pure in members:
            if pure.parent != folder:
                continue  # another folder's files are not this shapefile's parts
            target = into / pure.name
            if pure.name.lower() in seen:
                raise UnsafeFile(f"{display}: member {pure.name!r} appears twice",
                                 message_vi=f"{display}: thành phần {pure.name!r} lặp lại.")
            seen.add(pure.name.lower())
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        total += len(chunk)
                        if total > limits.max_zip_bytes:  # the header may lie about sizes
                            raise too_big
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError,
                    RuntimeError) as exc:  # RuntimeError: an encrypted member
                raise InvalidInput(
                    f"{display}: member {pure.name!r} cannot be unpacked (damaged zip)",
                    message_vi=f"{display}: không giải nén được {pure.name!r} (tệp nén hỏng).",
                ) from exc
        shp = into / shps[0].name
    return shp


@contextmanager
def vector_source(path: Path, display: str,
                  limits: ZoneFileLimits | None = None) -> Iterator[tuple[str, Path, str]]:
    """Check ``path`` and yield ``(gdal_name, local_file, driver)`` for pyogrio.

    ``gdal_name`` forces the driver where GDAL has a prefix for it; ``local_file`` is the file
    itself (the extracted ``.shp`` of a zip, for its ``.cpg``). Temporary files of a zip are
    removed when the block ends.
    """
    limits = limits or ZoneFileLimits()
    path = Path(path)
    suffix = path.suffix.lower()
    driver = VECTOR_DRIVERS.get(suffix)
    if driver is None:
        raise InvalidInput(
            f"{display}: not a GeoPackage, GeoJSON, DXF, Shapefile or zipped Shapefile",
            message_vi=f"{display}: tệp phải là GeoPackage, GeoJSON, DXF hoặc Shapefile "
                       "(nén .zip).")
    size = path.stat().st_size
    if size > limits.max_bytes:
        mb = limits.max_bytes / 2**20
        raise TooLarge(f"{display}: the file is larger than {mb:,.0f} MB",
                       message_vi=f"{display}: tệp lớn hơn giới hạn {mb:,.0f} MB.")
    if size == 0:
        raise InvalidInput(f"{display}: the file is empty", message_vi=f"{display}: tệp rỗng.")
    pyogrio_configured(limits)
    if suffix == ".zip":
        tmp = Path(tempfile.mkdtemp(prefix="zones-zip-"))
        try:
            shp = _extract_shapefile(path, display, tmp, limits)
            refuse_markers(shp, display)
            _check_shp(shp, display)
            yield str(shp), shp, driver
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    refuse_markers(path, display)
    if driver == "GeoJSON":
        _check_geojson(path, display)
        yield f"GeoJSON:{path.resolve()}", path, driver
    elif driver == "GPKG":
        _check_gpkg(path, display)
        yield f"GPKG:{path.resolve()}", path, driver
    elif driver == "ESRI Shapefile":
        _check_shp(path, display)
        for sidecar in (".dbf", ".shx"):
            part = path.with_suffix(sidecar)
            if part.exists():
                refuse_markers(part, display)
        yield str(path), path, driver
    else:
        _check_dxf(path, display)
        yield str(path), path, driver


# --- rasters ----------------------------------------------------------------------------

@contextmanager
def raster_env() -> Iterator[None]:
    """A rasterio.Env with :data:`GDAL_UPLOAD_OPTIONS`, for every open of an uploaded scan."""
    import rasterio

    with rasterio.Env(**GDAL_UPLOAD_OPTIONS):
        yield


def check_raster(path: Path, fmt: str, display: str) -> str:
    """Refuse a scan that another driver would claim; return the one driver allowed for it.

    ``fmt`` is the type sniffed from the signature (tif, png, jpg, pdf). The file must open
    with that driver alone, so that a PNG signature followed by VRT XML is refused rather than
    read as a VRT (which reads any file it names).
    """
    import rasterio
    from rasterio.errors import RasterioError

    driver = RASTER_DRIVERS[fmt]
    refuse_markers(path, display)
    if fmt == "pdf":
        return driver  # PDFs are read with pdfium, never through GDAL's driver search
    try:
        with raster_env(), rasterio.open(path, driver=driver) as src:
            if src.driver != driver:
                raise _not_this_format(display, fmt.upper())
    except RasterioError as exc:
        raise CorruptImage(f"{display}: not a readable {fmt.upper()} image",
                           message_vi=f"{display}: không đọc được như ảnh {fmt.upper()}.") from exc
    return driver
