"""Open a scanned sheet safely: PNG, JPEG, TIFF or a one-page PDF.

The pixel count is checked from the file header *before* anything is decoded, so a
decompression bomb (a tiny file that claims 100 000 x 100 000 pixels) is refused cheaply. A
truncated or corrupt file becomes :class:`CorruptImage` with one line that says which file.
A PDF page is rendered with pypdfium2 at the native resolution of its largest image, so that the
control points' pixel coordinates mean the same as on the original scan.
"""

from __future__ import annotations

import warnings
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


def load_scan(info: ScanInfo) -> Scan:
    """Decode the whole scan into memory, as uint8 (rows, columns, bands), strip by strip.

    Strips keep the peak to the final array plus one strip; a palette becomes RGB, an alpha
    band is dropped (the warp makes its own), 16-bit data is scaled to 8 bits.
    """
    if info.kind == "pdf":
        return _load_pdf(info)
    p = info.path
    with open(p, "rb") as fh:
        if fh.read(8) == b"\x89PNG\r\n\x1a\n":
            _check_png_chunks(p)
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(p) as src:
            interp = list(src.colorinterp)
            palette = None
            if interp and interp[0] == ColorInterp.palette:
                cmap = src.colormap(1)
                palette = np.zeros((256, 3), np.uint8)
                for k, v in cmap.items():
                    if 0 <= k < 256:
                        palette[k] = v[:3]
                bands = [1]
                out_bands = 3
            else:
                colour = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha]
                bands = colour[:3] if len(colour) >= 3 else colour[:1]
                out_bands = len(bands)
            arr = np.empty((src.height, src.width, out_bands), np.uint8)
            rows = max(1, min(src.height, (64 * 1024 * 1024) // max(1, src.width * len(bands))))
            for y0 in range(0, src.height, rows):
                h = min(rows, src.height - y0)
                strip = src.read(bands, window=Window(0, y0, src.width, h))
                if strip.dtype != np.uint8:
                    strip = _to_uint8(strip)
                if palette is not None:
                    arr[y0 : y0 + h] = palette[strip[0]]
                else:
                    arr[y0 : y0 + h] = np.moveaxis(strip, 0, -1)
    except RasterioError as exc:
        raise CorruptImage(
            f"{p.name}: the image is truncated or corrupt ({_first_line(exc)})",
            message_vi="Ảnh quét bị hỏng hoặc không đầy đủ.",
        ) from exc
    return Scan(p, arr)


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
