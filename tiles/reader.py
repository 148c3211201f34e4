"""A reader around one published map sheet's COG, in rio-tiler's style, with domain errors.

The georeferencing engine pre-warps every sheet to a Cloud-Optimised GeoTIFF whose alpha band (or
mask) is zero outside the neatline; here we only cut tiles from it. Open datasets are kept per
thread (rasterio handles are not thread-safe) so that a busy map does not reopen files per tile.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import rasterio
from morecantile import Tile, TileMatrixSet
from rasterio.errors import RasterioIOError
from rio_tiler.errors import EmptyMosaicError
from rio_tiler.errors import TileOutsideBounds as RioTileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from planning_gis.errors import InvalidInput, StoredFileUnreadable, TileOutsideBounds
from planning_gis.settings import Settings
from tiles.web_cog import serving_path

#: Output formats a client may ask for, by file extension: (GDAL driver, MIME type).
IMAGE_FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}

_env: rasterio.Env | None = None
_env_lock = threading.Lock()


def gdal_env(settings: Settings) -> rasterio.Env:
    """Enter the serving GDAL settings once per process (not per call site) and keep them."""
    global _env
    with _env_lock:
        if _env is None:
            _env = rasterio.Env(
                GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
                GDAL_CACHEMAX=settings.gdal_cachemax_bytes,
                VSI_CACHE=True,
                VSI_CACHE_SIZE=64 * 1024 * 1024,
                GDAL_NUM_THREADS=1,
            )
            _env.__enter__()
    return _env


class _DatasetCache(threading.local):
    """Per-thread LRU of open rasterio datasets, keyed by path and modification time."""

    def __init__(self) -> None:
        self.items: OrderedDict[tuple[str, float], rasterio.DatasetReader] = OrderedDict()

    def get(self, path: str, size: int) -> rasterio.DatasetReader:
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            raise StoredFileUnreadable(
                f"the COG of this sheet is missing: {Path(path).name}",
                message_vi="Không tìm thấy tệp ảnh (COG) của tờ bản đồ này.",
            ) from exc
        key = (path, mtime)
        ds = self.items.get(key)
        if ds is not None and not ds.closed:
            self.items.move_to_end(key)
            return ds
        try:
            ds = rasterio.open(path)
        except RasterioIOError as exc:
            raise StoredFileUnreadable(f"cannot read the COG {Path(path).name}: {exc}",
                                       message_vi="Không đọc được tệp ảnh (COG) của tờ bản đồ này."
                                       ) from exc
        self.items[key] = ds
        while len(self.items) > size:
            _, old = self.items.popitem(last=False)
            old.close()
        return ds


_datasets = _DatasetCache()


@dataclass(frozen=True)
class SheetInfo:
    """What a TileJSON needs about one sheet's raster."""

    bounds_lonlat: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    band_count: int


class SheetReader:
    """Tiles of one COG on one grid; a context manager like rio-tiler's readers.

    rio-tiler's own exceptions stay inside: callers see planning_gis errors only.
    """

    def __init__(self, path: str | Path, tms: TileMatrixSet, settings: Settings) -> None:
        gdal_env(settings)
        self.path = serving_path(path)
        self.tms = tms
        self.settings = settings
        dataset = _datasets.get(self.path, settings.open_dataset_cache)
        self._reader = Reader(None, dataset=dataset, tms=tms)

    def __enter__(self) -> SheetReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The dataset stays open in the per-thread cache; the rio-tiler wrapper holds no file.
        self._reader.close()

    def info(self) -> SheetInfo:
        left, bottom, right, top = self._reader.get_geographic_bounds("EPSG:4326")
        return SheetInfo(
            bounds_lonlat=(left, bottom, right, top),
            minzoom=self._reader.minzoom,
            maxzoom=self._reader.maxzoom,
            band_count=self._reader.dataset.count,
        )

    def tile(self, tile: Tile, tilesize: int | None = None) -> ImageData:
        """The tile's pixels with a mask (transparent outside the neatline and the sheet)."""
        try:
            return self._reader.tile(
                tile.x, tile.y, tile.z, tilesize=tilesize or self.settings.tile_size
            )
        except RioTileOutsideBounds as exc:
            raise TileOutsideBounds(
                f"tile {tile.z}/{tile.x}/{tile.y} lies outside this sheet",
                message_vi="Ô lưới nằm ngoài phạm vi tờ bản đồ.",
            ) from exc


def mosaic_tile(
    paths: list[str], tms: TileMatrixSet, settings: Settings, tile: Tile
) -> ImageData:
    """The first non-transparent pixel of the given sheets (in order) for one tile."""

    def _read(path: str, x: int, y: int, z: int) -> ImageData:
        with SheetReader(path, tms, settings) as reader:
            try:
                return reader.tile(Tile(x=x, y=y, z=z))
            except TileOutsideBounds as exc:
                raise RioTileOutsideBounds(str(exc)) from exc

    try:
        image, _ = mosaic_reader(paths, _read, tile.x, tile.y, tile.z, threads=0)
    except EmptyMosaicError as exc:
        raise TileOutsideBounds(
            f"no sheet of this plan covers tile {tile.z}/{tile.x}/{tile.y}",
            message_vi="Không có tờ bản đồ nào của đồ án phủ ô lưới này.",
        ) from exc
    return image


def render(image: ImageData, ext: str, png_zlevel: int = 3) -> tuple[bytes, str]:
    """Encode a tile as PNG or WebP with its mask as alpha; returns (bytes, MIME type)."""
    try:
        driver, mime = IMAGE_FORMATS[ext]
    except KeyError as exc:
        raise InvalidInput(
            f"unknown image format {ext!r}: use one of {', '.join(IMAGE_FORMATS)}",
            message_vi=f"Định dạng ảnh không hỗ trợ {ext!r}",
        ) from exc
    if driver == "WEBP":
        options: dict[str, object] = {"lossless": False, "quality": 85}
    else:
        options = {"ZLEVEL": png_zlevel}
    return image.render(img_format=driver, add_mask=True, **options), mime
