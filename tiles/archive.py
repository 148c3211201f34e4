"""PMTiles archives on the static grid: what the vector layers' publication (layers/static.py)
and the sheets' (tiles/static.py) share: the grid, the tiles of an extent in the archive's
order, the archive itself (tiles, then header and directories), and files written under a
temporary name then renamed (a reader never sees half an archive or half a TileJSON)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from morecantile import Tile, TileMatrixSet
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

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


def write_archive(path: Path, tiles: Iterator[tuple[Tile, bytes]], bounds: list[float],
                  meta: dict, tile_type: TileType, compression: Compression) -> tuple[int, int]:
    """Write ``tiles`` (each tile and its body, already encoded as ``compression`` says, in
    :func:`ordered_tiles`' order) to ``path`` as one PMTiles archive whose header holds
    ``bounds`` (lon/lat) and ``meta["center"]`` and whose metadata is ``meta``; (tiles
    written, bytes). The bodies are drawn one by one while the file is written, so an archive
    never holds the whole layer in memory. No tile: no file (``path`` is removed)."""
    count = 0
    with open(path, "wb") as fh:
        writer = Writer(fh)
        for tile, body in tiles:
            writer.write_tile(zxy_to_tileid(tile.z, tile.x, tile.y), body)
            count += 1
        if count:
            w, s, e, n = bounds
            center = meta["center"]  # TileJSON's [lon, lat, zoom]
            writer.finalize({
                "tile_type": tile_type, "tile_compression": compression,
                "min_lon_e7": e7(w), "min_lat_e7": e7(s), "max_lon_e7": e7(e),
                "max_lat_e7": e7(n), "center_zoom": center[2],
                "center_lon_e7": e7(center[0]), "center_lat_e7": e7(center[1]),
            }, meta)
    if not count:
        path.unlink()
        return 0, 0
    return count, path.stat().st_size


def publish_archive(path: Path, tiles: Iterator[tuple[Tile, bytes]], bounds: list[float],
                    meta: dict, tile_type: TileType, compression: Compression
                    ) -> tuple[int, int]:
    """:func:`write_archive` under a temporary name, renamed to ``path`` once whole (an
    interrupted or failed write leaves nothing behind); (tiles written, bytes). No tile: no
    archive (a PMTiles needs one), an older one at ``path`` removed, and ``meta["tiles"]``
    emptied so that the TileJSON written next says there is nothing to draw."""
    partial = partial_for(path)
    try:
        count, size = write_archive(partial, tiles, bounds, meta, tile_type, compression)
        if count:
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    if not count:
        meta["tiles"] = []
        path.unlink(missing_ok=True)
    return count, size


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
