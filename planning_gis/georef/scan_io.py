"""Open a scanned sheet safely: PNG, JPEG, TIFF or a one-page PDF.

The pixel count is checked from the file header *before* anything is decoded, so a
decompression bomb (a tiny file that claims 100 000 x 100 000 pixels) is refused cheaply. A
truncated or corrupt file becomes :class:`CorruptImage` with one line that says which file.
A PDF page is rendered with pypdfium2 at the native resolution of its largest image, so that the
control points' pixel coordinates mean the same as on the original scan.
"""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from planning_gis.errors import CorruptImage, ImageTooLarge, InvalidInput, MissingFile
from planning_gis.settings import Settings, get_settings

warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class ScanInfo:
    """What the header says: size and bands, before decoding."""

    path: Path
    width: int
    height: int
    bands: int
    kind: str  # "raster" or "pdf"
    pdf_scale: float = 1.0  # render scale (pixels per PDF point) for a PDF page

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass
class Scan:
    """A decoded scan: ``array`` is (rows, columns, bands) uint8, bands 1 (grey) or 3 (RGB)."""

    path: Path
    array: np.ndarray

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def bands(self) -> int:
        return int(self.array.shape[2])


def _check_limit(width: int, height: int, path: Path, settings: Settings) -> None:
    if width <= 0 or height <= 0:
        raise CorruptImage(f"{path.name}: image has no pixels")
    if width * height > settings.max_scan_pixels:
        raise ImageTooLarge(
            f"{path.name}: {width} x {height} = {width * height:,} pixels is over the limit of "
            f"{settings.max_scan_pixels:,} (PLANNING_MAX_SCAN_PIXELS)",
            message_vi="Ảnh quét vượt quá số điểm ảnh cho phép.",
        )


def probe_scan(path: str | Path, settings: Settings | None = None) -> ScanInfo:
    """Read only the header: size, bands; refuse unknown kinds and images over the limit."""
    settings = settings or get_settings()
    p = Path(path)
    if not p.exists():
        raise MissingFile(f"scan not found: {p}")
    suffix = p.suffix.lower()
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if suffix == ".pdf" or magic.startswith(b"%PDF"):
        return _probe_pdf(p, settings)
    if suffix not in RASTER_SUFFIXES:
        raise InvalidInput(f"{p.name}: scans must be PNG, JPEG, TIFF or a one-page PDF")
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(p) as src:
            info = ScanInfo(p, src.width, src.height, src.count, "raster")
    except RasterioError as exc:
        raise CorruptImage(f"{p.name}: not a readable image ({_first_line(exc)})") from exc
    _check_limit(info.width, info.height, p, settings)
    return info


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _probe_pdf(p: Path, settings: Settings) -> ScanInfo:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(p))
    except pdfium.PdfiumError as exc:
        raise CorruptImage(f"{p.name}: not a readable PDF ({_first_line(exc)})") from exc
    try:
        if len(pdf) != 1:
            raise InvalidInput(f"{p.name}: the PDF has {len(pdf)} pages; give a one-page PDF")
        page = pdf[0]
        best = None
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
            w, h = obj.get_px_size()
            left, bottom, right, top = obj.get_bounds()
            if w * h > 0 and right > left and (best is None or w * h > best[0] * best[1]):
                best = (w, h, right - left)
        if best is None:
            raise CorruptImage(
                f"{p.name}: the PDF page holds no image: a scanned sheet is expected",
                message_vi="Tệp PDF không chứa ảnh quét.",
            )
        scale = best[0] / best[2]
        pw, ph = page.get_size()
        width, height = round(pw * scale), round(ph * scale)
    finally:
        pdf.close()
    _check_limit(width, height, p, settings)
    return ScanInfo(p, width, height, 3, "pdf", scale)


def _check_png_chunks(path: Path) -> None:
    """Walk the PNG chunk list up to IEND (seeks only, no decoding).

    GDAL's PNG driver returns a truncated file's missing rows without raising, so a PNG cut off
    in transfer would otherwise warp into a sheet with a blank bottom.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            raise CorruptImage(f"{path.name}: not a PNG file")
        pos = 8
        while True:
            head = fh.read(8)
            if len(head) < 8:
                raise CorruptImage(f"{path.name}: the PNG is truncated (no IEND chunk)")
            length = int.from_bytes(head[:4], "big")
            pos += 12 + length
            if pos > size:
                kind = head[4:8].decode("latin-1")
                raise CorruptImage(f"{path.name}: the PNG is truncated (inside a {kind} chunk)")
            if head[4:8] == b"IEND":
                return
            fh.seek(pos)


def _band_plan(src) -> tuple[list[int], np.ndarray | None, int]:
    """Which bands to read, the palette (or None), and how many bands come out (1 or 3)."""
    interp = list(src.colorinterp)
    if interp and interp[0] == ColorInterp.palette:
        cmap = src.colormap(1)
        palette = np.zeros((256, 3), np.uint8)
        for k, v in cmap.items():
            if 0 <= k < 256:
                palette[k] = v[:3]
        return [1], palette, 3
    colour = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha]
    bands = colour[:3] if len(colour) >= 3 else colour[:1]
    return bands, None, len(bands)


def _as_pixels(data: np.ndarray, palette: np.ndarray | None) -> np.ndarray:
    """(bands, rows, cols) as read -> (rows, cols, bands) uint8, palette expanded."""
    if data.dtype != np.uint8:
        data = _to_uint8(data)
    if palette is not None:
        return palette[data[0]]
    return np.moveaxis(data, 0, -1)


def _corrupt(p: Path, exc: BaseException) -> CorruptImage:
    return CorruptImage(
        f"{p.name}: the image is truncated or corrupt ({_first_line(exc)})",
        message_vi="Ảnh quét bị hỏng hoặc không đầy đủ.",
    )


def _strip_rows(width: int, bands: int, budget: int = 64 * 1024 * 1024, align: int = 1) -> int:
    rows = max(1, budget // max(1, width * bands))
    return max(align, rows // align * align)


def load_scan(info: ScanInfo) -> Scan:
    """Decode the whole scan into memory, as uint8 (rows, columns, bands), strip by strip.

    Strips keep the peak to the final array plus one strip; a palette becomes RGB, an alpha
    band is dropped (the warp makes its own), 16-bit data is scaled to 8 bits. The warp does not
    use this (see :func:`open_windows`); small scans (previews, rotation) do.
    """
    if info.kind == "pdf":
        return _load_pdf(info)
    p = info.path
    _check_png(p)
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(p) as src:
            bands, palette, out_bands = _band_plan(src)
            arr = np.empty((src.height, src.width, out_bands), np.uint8)
            rows = _strip_rows(src.width, len(bands))
            for y0 in range(0, src.height, rows):
                h = min(rows, src.height - y0)
                strip = src.read(bands, window=Window(0, y0, src.width, h))
                arr[y0 : y0 + h] = _as_pixels(strip, palette)
    except RasterioError as exc:
        raise _corrupt(p, exc) from exc
    return Scan(p, arr)


def _check_png(p: Path) -> None:
    with open(p, "rb") as fh:
        if fh.read(8) == b"\x89PNG\r\n\x1a\n":
            _check_png_chunks(p)


class ScanWindows:
    """A scan read window by window: :meth:`read` gives (rows, columns, bands) uint8.

    Opened by :func:`open_windows`; the same palette/alpha/16-bit rules as :func:`load_scan`.
    """

    def __init__(self, path: Path, name: str):
        self.name = name
        self.path = path
        try:
            self.ds = rasterio.open(path)
        except RasterioError as exc:
            raise _corrupt(Path(name), exc) from exc
        self._bands, self._palette, self.bands = _band_plan(self.ds)
        self.width, self.height = self.ds.width, self.ds.height

    def read(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        try:
            data = self.ds.read(self._bands, window=Window(x0, y0, x1 - x0, y1 - y0))
        except RasterioError as exc:
            raise _corrupt(Path(self.name), exc) from exc
        return np.ascontiguousarray(_as_pixels(data, self._palette))

    def close(self) -> None:
        self.ds.close()


#: A TIFF whose blocks hold more pixels than this is decoded to a tiled copy first: reading a
#: window of a one-strip TIFF would decode the whole image again for every window.
MAX_DIRECT_BLOCK_PIXELS = 4 * 1024 * 1024


def _readable_by_window(info: ScanInfo) -> bool:
    if info.kind != "raster":
        return False
    with open(info.path, "rb") as fh:
        if fh.read(4) not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return False
    try:
        with rasterio.open(info.path) as src:
            bh, bw = src.block_shapes[0]
    except RasterioError as exc:
        raise _corrupt(info.path, exc) from exc
    return bh * bw <= MAX_DIRECT_BLOCK_PIXELS


@contextmanager
def open_windows(info: ScanInfo, workdir: Path, block: int = 512) -> Iterator[ScanWindows]:
    """The scan as :class:`ScanWindows`, in bounded memory.

    A tiled or striped TIFF is read where it lies. A PNG, JPEG or PDF page (which cannot be read
    by window cheaply) is first decoded once, strip by strip, into an uncompressed tiled
    GeoTIFF in ``workdir``; that file is removed when the block exits, also on failure.
    """
    tmp: Path | None = None
    try:
        if _readable_by_window(info):
            src = info.path
        else:
            tmp = workdir / f".{info.path.name}.{uuid.uuid4().hex[:8]}.src.tif"
            decode_to_tiff(info, tmp, block)
            src = tmp
        with rasterio.Env(GDAL_PAM_ENABLED="NO"):
            windows = ScanWindows(src, info.path.name)
            try:
                yield windows
            finally:
                windows.close()
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + ".aux.xml").unlink(missing_ok=True)


def decode_to_tiff(info: ScanInfo, dst_path: Path, block: int = 512) -> None:
    """Decode the scan strip by strip (bounded memory) into an uncompressed tiled 8-bit GeoTIFF
    (grey or RGB: palette expanded, alpha dropped, 16-bit scaled)."""
    profile = {"driver": "GTiff", "width": info.width, "height": info.height, "dtype": "uint8",
               "tiled": True, "blockxsize": block, "blockysize": block, "BIGTIFF": "IF_SAFER"}
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        if info.kind == "pdf":
            with rasterio.open(dst_path, "w", count=3, photometric="RGB", **profile) as dst:
                for y0, strip in _pdf_strips(info, block):
                    dst.write(np.moveaxis(strip, -1, 0), window=Window(0, y0, info.width,
                                                                      strip.shape[0]))
            return
        p = info.path
        _check_png(p)
        try:
            with rasterio.open(p) as src:
                bands, palette, out_bands = _band_plan(src)
                photometric = "RGB" if out_bands == 3 else "MINISBLACK"
                with rasterio.open(dst_path, "w", count=out_bands, photometric=photometric,
                                   **profile) as dst:
                    rows = _strip_rows(src.width, len(bands), align=block)
                    for y0 in range(0, src.height, rows):
                        h = min(rows, src.height - y0)
                        strip = src.read(bands, window=Window(0, y0, src.width, h))
                        dst.write(np.moveaxis(_as_pixels(strip, palette), -1, 0),
                                  window=Window(0, y0, src.width, h))
        except RasterioError as exc:
            raise _corrupt(p, exc) from exc


def _pdf_strips(info: ScanInfo, block: int) -> Iterator[tuple[int, np.ndarray]]:
    """The PDF page rendered in horizontal strips (rows y0.., RGB), as :func:`_load_pdf` would
    render it whole: the same page size in pixels (ceil of points x scale), white background."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(info.path))
        try:
            page = pdf[0]
            full_w = math.ceil(page.get_width() * info.pdf_scale)
            full_h = math.ceil(page.get_height() * info.pdf_scale)
            rows = _strip_rows(full_w, 4, align=block)
            flags = pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_REVERSE_BYTE_ORDER
            for y0 in range(0, info.height, rows):
                h = min(rows, info.height - y0)
                bitmap = pdfium.PdfBitmap.new_native(full_w, h, pdfium_c.FPDFBitmap_BGR,
                                                     rev_byteorder=True)
                bitmap.fill_rect((255, 255, 255, 255), 0, 0, full_w, h)
                pdfium_c.FPDF_RenderPageBitmap(bitmap, page, 0, -y0, full_w, full_h, 0, flags)
                arr = np.array(bitmap.to_numpy()[:, : info.width, :3], dtype=np.uint8)
                bitmap.close()
                yield y0, arr
        finally:
            pdf.close()
    except pdfium.PdfiumError as exc:
        raise CorruptImage(f"{info.path.name}: cannot render the PDF page ({exc})") from exc


def _to_uint8(strip: np.ndarray) -> np.ndarray:
    if strip.dtype == np.uint16:
        return (strip >> 8).astype(np.uint8)
    if strip.dtype == bool:
        return strip.astype(np.uint8) * 255
    return np.clip(strip, 0, 255).astype(np.uint8)


def _load_pdf(info: ScanInfo) -> Scan:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(info.path))
        try:
            bitmap = pdf[0].render(scale=info.pdf_scale, rev_byteorder=True)
            arr = np.array(bitmap.to_numpy()[:, :, :3], dtype=np.uint8, copy=True)
        finally:
            pdf.close()
    except pdfium.PdfiumError as exc:
        raise CorruptImage(f"{info.path.name}: cannot render the PDF page ({exc})") from exc
    return Scan(info.path, np.ascontiguousarray(arr))


def open_scan(path: str | Path, settings: Settings | None = None) -> Scan:
    """Probe then decode a scan (see :func:`probe_scan` and :func:`load_scan`)."""
    return load_scan(probe_scan(path, settings))
