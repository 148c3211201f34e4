"""PMTiles archives on the static grid: what the vector layers' publication (layers/static.py)
and the sheets' (tiles/static.py) share: the grid, the tiles of an extent in the archive's
order, the header's coordinates, and files written under a temporary name then renamed (a
reader never sees half an archive or half a TileJSON)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from morecantile import Tile, TileMatrixSet
from pmtiles.tile import zxy_to_tileid

#: The grid the archives are cut on (what PMTiles clients and Leaflet expect).
STATIC_TMS = "WebMercatorQuad"


@dataclass(frozen=True)
class Published:
    """What ``publish static`` did for one layer."""

    layer: str
    edition: int | None
    minzoom: int
    maxzoom: int
    tiles: int  # tiles with data written (empty tiles are left out of the archive)
    bytes: int
    seconds: float
    skipped: bool  # the archive on disk was already of this edition

    def line(self) -> str:
        if self.skipped:
            return f"{self.layer}: unchanged (edition {self.edition}), kept"
        return (f"{self.layer}: edition {self.edition}, z{self.minzoom}-{self.maxzoom}, "
                f"{self.tiles} tiles, {self.bytes / 1e6:.2f} MB in {self.seconds:.1f} s "
                f"({self.tiles / max(self.seconds, 1e-6):.0f} tiles/s)")


def tile_ranges(tms: TileMatrixSet, bounds: list[float], zoom: int
                ) -> tuple[range, range]:
    """The x and y tile ranges covering ``bounds`` (lon/lat) at ``zoom`` (from the grid)."""
    w, s, e, n = bounds
    ul = tms.tile(w, n, zoom)
    lr = tms.tile(e, s, zoom)
    return range(ul.x, lr.x + 1), range(ul.y, lr.y + 1)


def ordered_tiles(tms: TileMatrixSet, bounds: list[float], zooms: range) -> Iterable[Tile]:
    """Tiles in PMTiles' tile-id order (zoom, then Hilbert curve): a clustered archive."""
    for z in zooms:
        xs, ys = tile_ranges(tms, bounds, z)
        ids = sorted((zxy_to_tileid(z, x, y), x, y) for x in xs for y in ys)
        for _, x, y in ids:
            yield Tile(x, y, z)


def e7(v: float) -> int:
    """Degrees as PMTiles' header stores them (ten-millionths)."""
    return int(round(v * 10_000_000))


def partial_for(path: Path) -> Path:
    """The hidden temporary name a file is written under before the rename (per process, so
    that two publications into one folder do not write into each other's file)."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def write_json(path: Path, doc: dict) -> None:
    """Write a TileJSON under a temporary name and rename it into place."""
    partial = partial_for(path)
    try:
        partial.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
