"""Scans in: streamed to disk with size and pixel limits, stored once by sha256, previewed.

A scan lives at ``scans/ab/<sha256>.<ext>``; its preview (a Cloud-Optimized GeoTIFF in pixel
space with overviews, so that any zoom of a 1 GB sheet is a few small reads) and its thumbnail at
``previews/ab/<sha256>.tif`` / ``.thumb.png``. Every file is written under a temporary name in its
final folder and renamed into place; whatever this call created is removed again on failure, so
a refused or broken upload leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import rasterio
from PIL import Image
from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from planning_gis.errors import (
    CorruptImage,
    InvalidInput,
    PlanningError,
    StorageUnavailable,
    TooLarge,
)
from planning_gis.georef.scan_io import ScanInfo, decode_to_tiff, probe_scan
from planning_gis.safe_files import RASTER_DRIVERS, check_raster, raster_env, scrub
from planning_gis.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 1 << 20
THUMB_SIZE = 512
#: File signatures of the formats we accept, and the extension we store them under.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
    (b"II+\x00", "tif"),
    (b"MM\x00+", "tif"),
    (b"%PDF", "pdf"),
)


@dataclass
class StoredScan:
    """A scan on disk: its identity, size and where its previews are."""

    sha256: str
    size: int
    fmt: str
    width: int
    height: int
    path: Path
    preview_path: Path
    thumb_path: Path
    created: list[Path] = field(default_factory=list)

    def discard_created(self) -> None:
        """Remove the files this upload wrote (the database refused the sheet)."""
        for p in self.created:
            p.unlink(missing_ok=True)


def scan_path(settings: Settings, sha256: str, fmt: str) -> Path:
    return settings.scans_dir / sha256[:2] / f"{sha256}.{fmt}"


def preview_path(settings: Settings, sha256: str) -> Path:
    return settings.previews_dir / sha256[:2] / f"{sha256}.tif"


def thumb_path(settings: Settings, sha256: str) -> Path:
    return settings.previews_dir / sha256[:2] / f"{sha256}.thumb.png"


def sniff(head: bytes) -> str | None:
    for magic, fmt in SIGNATURES:
        if head.startswith(magic):
            return fmt
    return None


def _too_large(limit: int) -> TooLarge:
    mb = limit / 2**20
    return TooLarge(
        f"the upload is larger than the limit of {mb:,.0f} MB (PLANNING_MAX_UPLOAD_BYTES)",
        message_vi=f"Tệp tải lên vượt quá giới hạn {mb:,.0f} MB.",
    )


#: OSError numbers that mean "the server cannot write its data folder", not a bad upload.
STORAGE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                  errno.ENOTDIR, errno.EIO}


def _storage_error(exc: OSError) -> StorageUnavailable:
    """The client's message names no path; the log keeps the full error for the operator."""
    log.error("cannot write the data folder: %s", exc)
    return StorageUnavailable(
        "the server cannot store the upload: its data folder is not writable or full; "
        "nothing was kept (tell the administrator)",
        message_vi="Máy chủ không lưu được tệp tải lên: thư mục dữ liệu không ghi được hoặc "
                   "đã đầy; không có gì được lưu (hãy báo quản trị viên).",
    )


def save_limited(stream: BinaryIO, path: Path, limit: int, display: str) -> int:
    """Copy an upload stream to ``path`` in chunks, refusing it past ``limit`` bytes (the file
    is removed); a full or read-only disk is a :class:`StorageUnavailable`, no path named."""
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        f"{display}: larger than the limit of {limit / 2**20:,.0f} MB",
                        message_vi=f"{display}: tệp vượt quá giới hạn {limit / 2**20:,.0f} MB.")
                out.write(chunk)
    except TooLarge:
        path.unlink(missing_ok=True)
        raise
    except OSError as exc:
        path.unlink(missing_ok=True)
        if exc.errno in STORAGE_ERRNOS:
            raise _storage_error(exc) from exc
        raise
    return size


def _named_as_upload(exc: PlanningError, filename: str, *internal: Path) -> PlanningError:
    """``exc`` again, its messages naming the upload as the client called it instead of our
    temporary or content-addressed files (and no server path at all)."""
    def clean(text: str) -> str:
        for p in internal:
            text = text.replace(str(p), filename).replace(p.name, filename)
        return scrub(text)

    renamed = type(exc)(clean(exc.message), message_vi=clean(exc.message_vi))
    renamed.__cause__ = exc.__cause__
    return renamed


@contextmanager
def _temp_in(folder: Path, suffix: str) -> Iterator[Path]:
    """A temporary name in ``folder`` that is removed unless it was renamed away."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming-{uuid.uuid4().hex}{suffix}"
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".aux.xml").unlink(missing_ok=True)


def store_scan(stream: BinaryIO, filename: str, settings: Settings,
               declared_size: int | None = None) -> StoredScan:
    """Stream ``stream`` to disk, check it, store it under its sha256 and make its previews.

    Raises TooLarge (bytes or pixels over the limits), InvalidInput (not PNG/JPEG/TIFF/PDF) or
    CorruptImage; in every case nothing is left on disk by this call.
    """
    limit = settings.max_upload_bytes
    if declared_size is not None and declared_size > limit:
        raise _too_large(limit)
    created: list[Path] = []
    internal: list[Path] = []  # our own file names, never shown to the client
    try:
        with _temp_in(settings.scans_dir, ".part") as tmp:
            internal.append(tmp)
            digest = hashlib.sha256()
            size = 0
            head = b""
            with tmp.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    if not head:
                        head = chunk[:16]
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise InvalidInput("the uploaded file is empty", message_vi="Tệp tải lên rỗng.")
            fmt = sniff(head)
            if fmt is None:
                raise InvalidInput(
                    f"{filename}: not a PNG, JPEG, TIFF or PDF file",
                    message_vi=f"{filename}: không phải tệp PNG, JPEG, TIFF hoặc PDF.",
                )
            sha = digest.hexdigest()
            final = scan_path(settings, sha, fmt)
            typed = tmp.with_suffix(f".{fmt}")
            internal += [typed, final, preview_path(settings, sha), thumb_path(settings, sha)]
            os.replace(tmp, typed)
            try:
                # Only the driver of the sniffed type may open it (a PNG signature followed by
                # VRT XML would otherwise be read as a VRT that reads any file it names).
                check_raster(typed, fmt, filename)
                with raster_env():
                    info = probe_scan(typed, settings)  # pixel limit, from the header only
                if final.exists():
                    typed.unlink()
                else:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(typed, final)
                    created.append(final)
            finally:
                typed.unlink(missing_ok=True)
        info.path = final
        stored = StoredScan(sha, size, fmt, info.width, info.height, final,
                            preview_path(settings, sha), thumb_path(settings, sha), created)
        with raster_env():  # the upload's GDAL options for every decode of it
            make_previews(info, stored, settings)
        return stored
    except PlanningError as exc:
        for p in created:
            p.unlink(missing_ok=True)
        raise _named_as_upload(exc, filename, *internal) from exc.__cause__
    except OSError as exc:
        for p in created:
            p.unlink(missing_ok=True)
        if exc.errno in STORAGE_ERRNOS and not isinstance(exc, RasterioError):
            raise _storage_error(exc) from exc
        raise
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise


def make_previews(info: ScanInfo, stored: StoredScan, settings: Settings) -> None:
    """The pixel-space COG (JPEG tiles + overviews) and a PNG thumbnail, unless present."""
    if not stored.preview_path.exists():
        with _temp_in(stored.preview_path.parent, ".tif") as tmp:
            _write_preview_cog(info, tmp, settings)
            os.replace(tmp, stored.preview_path)
            stored.created.append(stored.preview_path)
    if not stored.thumb_path.exists():
        with _temp_in(stored.thumb_path.parent, ".png") as tmp:
            img = read_overview(stored.preview_path, THUMB_SIZE)
            img.save(tmp, format="PNG")
            os.replace(tmp, stored.thumb_path)
            stored.created.append(stored.thumb_path)


def _write_preview_cog(info: ScanInfo, out: Path, settings: Settings) -> None:
    source = info.path
    driver = RASTER_DRIVERS.get(Path(source).suffix.lstrip(".").lower(), "GTiff")
    with _temp_in(out.parent, ".src.tif") as decoded:
        try:
            with raster_env(), rasterio.open(source, driver=driver) as src:
                plain = (src.count in (1, 3) and src.dtypes[0] == "uint8"
                         and src.colorinterp[0].name != "palette")
        except RasterioError:
            plain = False
        if info.kind == "pdf" or not plain:
            # PDF pages, palettes, 16-bit or alpha: decode to plain 8-bit grey/RGB first.
            decode_to_tiff(info, decoded)  # strip by strip: bounded memory
            source = decoded
            driver = "GTiff"
        with raster_env(), rasterio.open(source, driver=driver) as src:
            bands = src.count
        profile = cog_profiles.get("jpeg")
        profile.update({"blockxsize": 512, "blockysize": 512})
        if bands == 1:
            profile.pop("photometric", None)
        try:
            with raster_env(), rasterio.open(source, driver=driver) as src:
                cog_translate(
                    src, str(out), profile, overview_resampling="average",
                    in_memory=False, quiet=True,
                    config={"GDAL_NUM_THREADS": str(max(1, settings.warp_threads)),
                            "GDAL_CACHEMAX": settings.gdal_cachemax_bytes,
                            "GDAL_PAM_ENABLED": "NO", "GDAL_TIFF_OVR_BLOCKSIZE": "512"},
                )
        except RasterioError as exc:
            raise CorruptImage(
                f"{info.path.name}: the image cannot be decoded ({str(exc).splitlines()[0]})",
                message_vi="Ảnh quét bị hỏng hoặc không đầy đủ.",
            ) from exc


def read_overview(path: Path, max_side: int) -> Image.Image:
    """The whole image, at most ``max_side`` pixels on its longer side (read from overviews)."""
    with raster_env(), rasterio.open(path, driver="GTiff") as src:  # our own preview COG
        scale = max(src.width, src.height) / max_side
        w = max(1, round(src.width / max(scale, 1)))
        h = max(1, round(src.height / max(scale, 1)))
        arr = src.read(out_shape=(src.count, h, w))
    if arr.shape[0] == 1:
        return Image.fromarray(arr[0], "L")
    return Image.fromarray(np.moveaxis(arr[:3], 0, -1), "RGB")
