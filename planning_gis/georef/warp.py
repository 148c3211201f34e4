"""Warp a scan to a Cloud-Optimized GeoTIFF with an alpha band, in bounded memory.

How, and why this way:

* The fit is chosen and checked *before* the scan is decoded, so bad control points fail fast.
* The output is produced in blocks. For each block the exact inverse mapping (target CRS ->
  control-point CRS -> scan pixel, Newton-refined on the forward fit) is evaluated on a coarse
  grid of nodes every 16 output pixels and interpolated bilinearly in between (as GDAL's
  approximate transformer does; the error is far below a pixel for these smooth surfaces), then
  OpenCV's ``remap`` resamples the scan window under the block.
* Memory is bounded, whatever the scan's size: each block reads only the scan window under it
  (a tiled or striped TIFF where it lies; a PNG, JPEG or PDF page is first decoded once, strip
  by strip, into a tiled temporary GeoTIFF next to the output), plus a few blocks; GDAL's block
  cache is capped by ``gdal_cachemax_mb``. The blocks go to an uncompressed tiled GeoTIFF next to the
  output, which gets internal overviews and is then copied once into the compressed COG; the
  result is validated (rio-cogeo) and only then renamed onto ``out``. Any failure removes the
  temporary files.
* Alpha is 0 outside the scan and outside the neatline mask, so margins, title block and legend
  never show on the map.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rasterio
import rasterio.shutil
import shapely
from rasterio.enums import ColorInterp, Resampling
from rasterio.features import geometry_mask
from rasterio.transform import Affine
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from planning_gis.crs import VN2000_TM3_HANOI, epsg_of, parse_crs, transformer
from planning_gis.errors import (
    GeoreferenceError,
    ImageTooLarge,
    InvalidGeometry,
    InvalidInput,
    PlanningError,
)
from planning_gis.georef.control_points import ControlPoint, ControlPointSet
from planning_gis.georef.neatline import apply_neatline
from planning_gis.georef.report import analyse
from planning_gis.georef.scan_io import ScanWindows, open_windows, probe_scan
from planning_gis.georef.transforms import Fit
from planning_gis.settings import Settings, get_settings

RESAMPLING = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
NODE_STEP = 16  # output pixels between exact evaluations of the inverse mapping
BLOCK = 512  # output block edge, matching the temporary GeoTIFF's tiles
_CV_MAX = 32000  # OpenCV remap refuses sources of 32 767 pixels or more on a side
_MAX_WINDOW_PX = 32 * 1024 * 1024  # scan pixels read for one block at most (~100 MB RGB)


@dataclass
class WarpResult:
    """The written COG and the residual report of the fit that placed it."""

    path: Path
    method: str
    epsg: int
    width: int
    height: int
    bounds: tuple[float, float, float, float]
    resolution: float
    report: dict[str, object] = field(default_factory=dict)
    #: The fit that placed the scan (with the neatline's correction when it was used), so that
    #: callers outlining the sheet on the map use the very same mapping.
    fit: Fit | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "out": str(self.path),
            "crs": f"EPSG:{self.epsg}",
            "width": self.width,
            "height": self.height,
            "bounds": [round(b, 3) for b in self.bounds],
            "resolution": self.resolution,
            **self.report,
        }


def parse_mask(value: str | Path) -> BaseGeometry:
    """A neatline polygon from WKT, or from a file holding WKT or GeoJSON."""
    text = str(value)
    p = Path(text)
    if len(text) < 1024 and p.suffix and p.exists():
        text = p.read_text(encoding="utf-8")
    text = text.strip()
    try:
        if text.startswith("{"):
            obj = json.loads(text)
            if obj.get("type") == "FeatureCollection":
                geom = shapely.union_all([shape(f["geometry"]) for f in obj["features"]])
            else:
                geom = shape(obj.get("geometry", obj))
        else:
            geom = shapely.from_wkt(text)
    except (ValueError, KeyError, TypeError, shapely.errors.GEOSException) as exc:
        raise InvalidGeometry(
            f"--mask is neither WKT nor GeoJSON nor a file holding one: {exc}"
        ) from exc
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry("--mask must be a polygon (the neatline)")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def _as_set(points: ControlPointSet | Sequence[ControlPoint], points_crs) -> ControlPointSet:
    if isinstance(points, ControlPointSet):
        return points
    return ControlPointSet(list(points), parse_crs(points_crs or VN2000_TM3_HANOI))


class _Mapping:
    """Target CRS coordinates -> scan pixel coordinates (OpenCV convention: centre = integer)."""

    def __init__(self, fit: Fit, fit_epsg: int, target_epsg: int):
        self.fit = fit
        self.to_fit = None if fit_epsg == target_epsg else transformer(target_epsg, fit_epsg)
        self.to_target = None if fit_epsg == target_epsg else transformer(fit_epsg, target_epsg)

    def pixels_to_target(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, n = self.fit.forward(px, py)
        if self.to_target is not None:
            e, n = self.to_target.transform(e, n)
        return np.asarray(e), np.asarray(n)

    def target_to_pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.to_fit is not None:
            x, y = self.to_fit.transform(x, y)
        px, py = self.fit.inverse(np.asarray(x), np.asarray(y))
        return px - 0.5, py - 0.5


def _looks_like_pixels(geom: BaseGeometry, size: tuple[int, int]) -> bool:
    w, h = size
    minx, miny, maxx, maxy = geom.bounds
    margin = 0.05 * max(w, h)
    return minx >= -margin and miny >= -margin and maxx <= w + margin and maxy <= h + margin


def _mask_in_pixels(
    mask: BaseGeometry, size: tuple[int, int], mapping: _Mapping
) -> BaseGeometry:
    """Masks are given in scan pixels; one clearly outside the image is read as map coordinates
    in the control points' CRS (and brought back to pixels through the fit)."""
    if _looks_like_pixels(mask, size):
        return mask
    w, h = size
    minx, miny, maxx, maxy = mask.bounds
    dense = shapely.segmentize(mask, max_segment_length=max(maxx - minx, maxy - miny) / 200)

    def back(coords: np.ndarray) -> np.ndarray:
        px, py = mapping.fit.inverse(coords[:, 0], coords[:, 1])
        return np.column_stack([px, py])

    geom = shapely.transform(dense, back)
    gx0, gy0, gx1, gy1 = geom.bounds
    if gx1 < 0 or gy1 < 0 or gx0 > w or gy0 > h:
        raise InvalidGeometry("--mask does not overlap the scan, neither in pixels nor on the map")
    return geom


def _to_target(geom_px: BaseGeometry, mapping: _Mapping, size: tuple[int, int]) -> BaseGeometry:
    dense = shapely.segmentize(geom_px, max_segment_length=max(size) / 100)

    def fwd(coords: np.ndarray) -> np.ndarray:
        x, y = mapping.pixels_to_target(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(dense, fwd)


def _interp_nodes(nodes: np.ndarray, h: int, w: int, step: int) -> np.ndarray:
    """Bilinear interpolation of node values (nodes at offsets (k-1)*s + (s-1)/2) to h x w."""
    nr, nc = nodes.shape
    big = cv2.resize(nodes, (nc * step, nr * step), interpolation=cv2.INTER_LINEAR)
    return big[step : step + h, step : step + w]


def _block_maps(
    mapping: _Mapping, gt: Affine, x0: int, y0: int, w: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    s = NODE_STEP
    nc = math.ceil(w / s) + 2
    nr = math.ceil(h / s) + 2
    off_c = (np.arange(nc) - 1) * s + (s - 1) / 2.0 + 0.5  # +0.5: pixel centre
    off_r = (np.arange(nr) - 1) * s + (s - 1) / 2.0 + 0.5
    cc, rr = np.meshgrid(x0 + off_c, y0 + off_r)
    x = gt.c + cc * gt.a
    y = gt.f + rr * gt.e
    px, py = mapping.target_to_pixels(x.ravel(), y.ravel())
    mx = _interp_nodes(px.reshape(nr, nc).astype(np.float32), h, w, s)
    my = _interp_nodes(py.reshape(nr, nc).astype(np.float32), h, w, s)
    return mx, my


def _remap(src: ScanWindows, mx: np.ndarray, my: np.ndarray, interp: int) -> np.ndarray | None:
    """Resample the block: read only the scan window under it, then ``cv2.remap``."""
    sh, sw = src.height, src.width
    fx = mx[np.isfinite(mx)]
    fy = my[np.isfinite(my)]
    if fx.size == 0:
        return None
    pad = 4
    x0 = int(max(0, math.floor(fx.min()) - pad))
    x1 = int(min(sw, math.ceil(fx.max()) + pad + 1))
    y0 = int(max(0, math.floor(fy.min()) - pad))
    y1 = int(min(sh, math.ceil(fy.max()) + pad + 1))
    if x1 <= x0 or y1 <= y0:
        return None
    h, w = mx.shape
    too_big = (x1 - x0) * (y1 - y0) > _MAX_WINDOW_PX
    if (x1 - x0 >= _CV_MAX or y1 - y0 >= _CV_MAX or too_big) and (h > 16 or w > 16):
        # Too wide for OpenCV, or a window over the memory bound (a much coarser output than
        # the scan): halve the block so the window read stays small.
        if h >= w:
            half = h // 2
            a = _remap(src, mx[:half], my[:half], interp)
            b = _remap(src, mx[half:], my[half:], interp)
            axis = 0
        else:
            half = w // 2
            a = _remap(src, mx[:, :half], my[:, :half], interp)
            b = _remap(src, mx[:, half:], my[:, half:], interp)
            axis = 1
        blank = np.zeros((h, w, src.bands), np.uint8)
        parts = np.split(blank, [half], axis=axis)
        if a is not None:
            parts[0][...] = a.reshape(parts[0].shape)
        if b is not None:
            parts[1][...] = b.reshape(parts[1].shape)
        return np.concatenate(parts, axis=axis)
    win = src.read(x0, y0, x1, y1)
    if win.shape[2] == 1:
        win = win[:, :, 0]
    return cv2.remap(
        win, mx - np.float32(x0), my - np.float32(y0), interp, borderMode=cv2.BORDER_REPLICATE
    )


def _tmp_name(out: Path, tag: str) -> Path:
    return out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.{tag}.tif")


def warp_scan(
    scan_path: str | Path,
    points: ControlPointSet | Sequence[ControlPoint],
    crs: str | int = VN2000_TM3_HANOI,
    method: str = "auto",
    out: str | Path = "out.tif",
    resolution: float | None = None,
    mask: str | Path | BaseGeometry | None = None,
    resampling: str = "bilinear",
    *,
    drop_blunders: bool = False,
    points_crs: str | int | None = None,
    settings: Settings | None = None,
    progress: Callable[[float], None] | None = None,
    neatline: bool = True,
    neatline_bounds: tuple[float, float, float, float] | None = None,
) -> WarpResult:
    """Fit the control points, warp the scan to a validated COG at ``out``, return the report.

    ``crs`` is the output CRS (any EPSG code). The fit is made in the control points' own CRS,
    which must be projected (metres), and the output grid is brought back to it through pyproj.
    ``progress`` is called with the fraction done (0..1) after each row of blocks and at the end.
    The neatline (given as ``neatline_bounds`` minE, minN, maxE, maxN, or inferred from the
    points on it) is traced in the scan and used when it lowers the leave-one-out error
    (:func:`planning_gis.georef.neatline.apply_neatline`); ``neatline=False`` skips it.
    """
    settings = settings or get_settings()
    out = Path(out)
    if resampling not in RESAMPLING:
        raise InvalidInput(f"resampling must be one of {', '.join(RESAMPLING)}")
    if resolution is not None and not (resolution > 0 and math.isfinite(resolution)):
        raise InvalidInput("--resolution must be a positive number of metres")
    if not out.parent.is_dir():
        raise InvalidInput(f"output folder does not exist: {out.parent}")
    target_epsg = epsg_of(crs)
    cps = _as_set(points, points_crs)
    fit_epsg = cps.epsg() or VN2000_TM3_HANOI
    if parse_crs(fit_epsg).is_geographic:
        raise GeoreferenceError(
            f"control points are in a geographic CRS (EPSG:{fit_epsg}): give them in a projected "
            "CRS in metres, such as EPSG:5897"
        )
    info = probe_scan(scan_path, settings)
    geom = None
    region = None
    if mask is not None:
        geom = mask if isinstance(mask, BaseGeometry) else parse_mask(mask)
        if _looks_like_pixels(geom, (info.width, info.height)):
            region = geom.intersection(box(0, 0, info.width, info.height)).area or None
    analyse_kwargs = dict(drop_blunders=drop_blunders, image_size=(info.width, info.height),
                          crs_epsg=target_epsg, region_area_px=region)
    rep = analyse(cps.points, method, **analyse_kwargs)  # bad points fail before any decoding
    tmp_raw = _tmp_name(out, "raw")
    tmp_cog = _tmp_name(out, "cog")
    try:
        with _gdal_env(settings), open_windows(info, out.parent) as scan:
            rep = apply_neatline(rep, cps.points, method, scan, bounds=neatline_bounds,
                                 enabled=neatline, **analyse_kwargs)
            rep.data["notes"] = list(cps.notes) + list(rep.data["notes"])  # type: ignore[arg-type]
            mapping = _Mapping(rep.fit, fit_epsg, target_epsg)
            grid = _output_grid(rep.fit, mapping, geom, (info.width, info.height), resolution,
                                target_epsg, settings)
            gt, width, height, footprint, masked = grid
            _write_blocks(scan, mapping, gt, width, height, footprint if masked else None,
                          tmp_raw, target_epsg, resampling, settings, progress)
        _to_cog(tmp_raw, tmp_cog, resampling, settings)
        valid, errors, _warnings = cog_validate(str(tmp_cog), quiet=True)
        if not valid:
            raise PlanningError(f"the written COG is not valid: {'; '.join(errors)}")
        os.replace(tmp_cog, out)
        if progress is not None:
            progress(1.0)
    finally:
        for p in (tmp_raw, tmp_cog):
            p.unlink(missing_ok=True)
            Path(str(p) + ".aux.xml").unlink(missing_ok=True)
    minx, maxy = gt.c, gt.f
    maxx, miny = minx + width * gt.a, maxy + height * gt.e
    return WarpResult(
        out, rep.fit.method, target_epsg, width, height, (minx, miny, maxx, maxy), gt.a, rep.data,
        rep.fit,
    )


def _output_grid(
    fit: Fit,
    mapping: _Mapping,
    geom: BaseGeometry | None,
    size: tuple[int, int],
    resolution: float | None,
    target_epsg: int,
    settings: Settings,
) -> tuple[Affine, int, int, BaseGeometry, bool]:
    """The output grid (geotransform, width, height) covering the scan or its mask, the mask's
    footprint in the target CRS, and whether there is a mask."""
    mask_px = None
    if geom is not None:
        mask_px = _mask_in_pixels(geom, size, mapping).intersection(box(0, 0, *size))
        if mask_px.is_empty:
            raise InvalidGeometry("--mask does not overlap the scan")
    footprint_px = mask_px if mask_px is not None else box(0, 0, *size)
    footprint = _to_target(footprint_px, mapping, size)
    if not footprint.is_valid or footprint.area <= 0:
        raise GeoreferenceError(
            f"the {fit.method} fit folds the sheet over itself: choose a stiffer method "
            "or add control points near the edges"
        )
    natural = math.sqrt(footprint.area / footprint_px.area)
    if resolution is None:
        res = float(f"{natural:.4g}")
    elif parse_crs(target_epsg).is_geographic:
        res = resolution * natural / fit.pixel_size_m
    else:
        res = float(resolution)
    minx, miny, maxx, maxy = footprint.bounds
    minx, miny = math.floor(minx / res) * res, math.floor(miny / res) * res
    maxx, maxy = math.ceil(maxx / res) * res, math.ceil(maxy / res) * res
    width = max(1, round((maxx - minx) / res))
    height = max(1, round((maxy - miny) / res))
    if width * height > 4 * settings.max_scan_pixels:
        raise ImageTooLarge(
            f"the output would be {width} x {height} pixels at {res:g} per pixel: "
            "choose a coarser --resolution"
        )
    return Affine(res, 0.0, minx, 0.0, -res, maxy), width, height, footprint, mask_px is not None


def _gdal_env(settings: Settings) -> rasterio.Env:
    """GDAL's block cache bounded, multi-threaded decoding of the scan's compressed tiles."""
    return rasterio.Env(GDAL_CACHEMAX=settings.gdal_cachemax_bytes, GDAL_PAM_ENABLED="NO",
                        GDAL_NUM_THREADS=str(max(1, settings.warp_threads)))


def _write_blocks(
    src: ScanWindows,
    mapping: _Mapping,
    gt: Affine,
    width: int,
    height: int,
    mask_target: BaseGeometry | None,
    path: Path,
    epsg: int,
    resampling: str,
    settings: Settings,
    progress: Callable[[float], None] | None = None,
) -> None:
    bands = src.bands
    cv2.setNumThreads(max(1, settings.warp_threads))
    interp = RESAMPLING[resampling]
    sh, sw = src.height, src.width
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": bands + 1,
        "dtype": "uint8",
        "crs": parse_crs(epsg).to_wkt(),
        "transform": gt,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "photometric": "RGB" if bands == 3 else "MINISBLACK",
        "BIGTIFF": "IF_SAFER",
    }
    # Wider blocks mean fewer remap calls; keep a block's buffers within warp_memory_mb.
    per_px = 4 * 4 + bands + 2
    bw = BLOCK * max(1, min(8, (settings.warp_memory_mb * 2**20) // (BLOCK * BLOCK * per_px * 4)))
    with rasterio.open(path, "w", **profile) as dst:
        dst.colorinterp = (
            [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
            if bands == 3
            else [ColorInterp.gray, ColorInterp.alpha]
        )
        for y0 in range(0, height, BLOCK):
            h = min(BLOCK, height - y0)
            for x0 in range(0, width, bw):
                w = min(bw, width - x0)
                mx, my = _block_maps(mapping, gt, x0, y0, w, h)
                alpha = (mx >= -0.5) & (mx <= sw - 0.5) & (my >= -0.5) & (my <= sh - 0.5)
                if mask_target is not None and alpha.any():
                    bt = gt * Affine.translation(x0, y0)
                    alpha &= geometry_mask(
                        [mask_target], out_shape=(h, w), transform=bt, invert=True
                    )
                block = np.zeros((bands + 1, h, w), np.uint8)
                if alpha.any():
                    data = _remap(src, mx, my, interp)
                    if data is not None:
                        if data.ndim == 2:
                            data = data[:, :, None]
                        data[~alpha] = 0
                        block[:bands] = np.moveaxis(data, -1, 0)
                        block[bands] = alpha.astype(np.uint8) * 255
                dst.write(block, window=Window(x0, y0, w, h))
        if progress is not None:
            progress(0.4 * (y0 + h) / height)  # the COG (compression, overviews) is the rest


def _to_cog(src: Path, dst: Path, resampling: str, settings: Settings) -> None:
    """Internal overviews built on the temporary tiled GeoTIFF itself, then one compressed copy
    with ``COPY_SRC_OVERVIEWS`` (the COG layout: overviews first, then the full-resolution tiles).

    The overview levels are rio-cogeo's (halving while the smaller side stays over one block).
    One pass less over the pixels than ``rio_cogeo.cog_translate`` (which copies the raster to a
    temporary file of its own first), in the same bounded memory.
    """
    overview = {"nearest": Resampling.nearest, "bilinear": Resampling.average,
                "cubic": Resampling.average, "lanczos": Resampling.average}[resampling]
    threads = str(max(1, settings.warp_threads))
    with rasterio.Env(GDAL_NUM_THREADS=threads, GDAL_CACHEMAX=settings.gdal_cachemax_bytes,
                      GDAL_TIFF_OVR_BLOCKSIZE=str(BLOCK), GDAL_PAM_ENABLED="NO"):
        with rasterio.open(src, "r+") as ds:
            levels, factor = [], 1
            while min(ds.width // factor, ds.height // factor) > BLOCK:
                factor *= 2
                levels.append(factor)
            if levels:
                ds.build_overviews(levels, overview)
        rasterio.shutil.copy(src, dst, driver="GTiff", COPY_SRC_OVERVIEWS="YES", TILED="YES",
                             BLOCKXSIZE=BLOCK, BLOCKYSIZE=BLOCK, COMPRESS="DEFLATE", PREDICTOR=2,
                             NUM_THREADS=threads, BIGTIFF="IF_SAFER", INTERLEAVE="PIXEL")
