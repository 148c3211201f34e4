"""The tile grid in use, as data from morecantile, and the checks of a requested z/x/y.

Tile arithmetic (bounds of a tile, its matrix size) always comes from the TileMatrixSet so that
the raster tiles, the vector tiles and the TileJSON documents agree on one grid.
"""

from __future__ import annotations

from functools import lru_cache

import morecantile
from morecantile import Tile, TileMatrixSet

from planning_gis.errors import InvalidTile, UnknownCRS
from planning_gis.settings import Settings


@lru_cache(maxsize=8)
def get_tms(identifier: str) -> TileMatrixSet:
    """The named morecantile grid (``WebMercatorQuad`` by default), loaded once per process."""
    try:
        return morecantile.tms.get(identifier)
    except Exception as exc:  # morecantile raises InvalidIdentifier
        raise UnknownCRS(f"unknown tile matrix set {identifier!r}") from exc


def tms_for(settings: Settings) -> TileMatrixSet:
    return get_tms(settings.tile_matrix_set)


_SRIDS: dict[str, int] = {}


def tms_srid(tms: TileMatrixSet) -> int:
    """The EPSG code of the grid's CRS, for PostGIS envelopes (pyproj asked once per grid)."""
    code = _SRIDS.get(tms.id)
    if code is None:
        found = tms.crs.to_epsg()
        if found is None:
            raise UnknownCRS(f"tile matrix set {tms.id!r} has no EPSG code")
        code = _SRIDS[tms.id] = int(found)
    return code


def parse_tile(tms: TileMatrixSet, z: str, x: str, y: str) -> Tile:
    """Turn path strings into a Tile that exists in the grid, or raise InvalidTile (a 400).

    Routes take strings rather than ``<int:z>`` so that "abc" gets our JSON error with a reason
    instead of a bare routing 404.
    """
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError as exc:
        raise InvalidTile(
            f"z/x/y must be whole numbers, got {z}/{x}/{y}",
            message_vi=f"z/x/y phải là số nguyên, nhận được {z}/{x}/{y}",
        ) from exc
    if not tms.minzoom <= zi <= tms.maxzoom:
        raise InvalidTile(
            f"zoom {zi} is outside the grid's {tms.minzoom}..{tms.maxzoom}",
            message_vi=f"Mức thu phóng {zi} nằm ngoài khoảng {tms.minzoom}..{tms.maxzoom}",
        )
    matrix = tms.matrix(zi)
    if not (0 <= xi < matrix.matrixWidth and 0 <= yi < matrix.matrixHeight):
        raise InvalidTile(
            f"tile {zi}/{xi}/{yi} does not exist: at zoom {zi} x runs 0..{matrix.matrixWidth - 1}"
            f" and y 0..{matrix.matrixHeight - 1}",
            message_vi=f"Ô lưới {zi}/{xi}/{yi} không tồn tại ở mức thu phóng {zi}",
        )
    return Tile(x=xi, y=yi, z=zi)


def tile_bounds(tms: TileMatrixSet, tile: Tile) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of a tile in the grid's CRS."""
    b = tms.xy_bounds(tile)
    return (b.left, b.bottom, b.right, b.top)
