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


def check_tile(tms: TileMatrixSet, zi: int, xi: int, yi: int) -> Tile:
    """The tile z/x/y if it exists in the grid, else InvalidTile (a 400).

    The web layer parses the path (``planning_gis.web.params.tile``); this checks the numbers
    against the grid, which only the TileMatrixSet knows.
    """
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
