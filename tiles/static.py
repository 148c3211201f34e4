"""Static publication of the published sheets: one PMTiles raster archive and one TileJSON each.

The vector layers' archives (layers/static.py) have a sheet counterpart here, so that the citizen
page can draw a scanned sheet from files as well. The tiles are cut by the API's own
:class:`tiles.reader.SheetReader` and encoded by the same :func:`tiles.reader.render` (PNG, the
settings' zlib level), so an archived tile is the bytes ``/tiles/sheets/{id}/{z}/{x}/{y}.png``
answers. rio-pmtiles (PyPI, 1.2.2) installs beside our rasterio and works, but it warps the COG
its own way: run on the two demo sheets with ``--tile-size 256 --resampling nearest --rgba``,
5 of its 68 tiles were pixel-equal to the API's, the others off by 2.8-4.2 levels on average
where both are opaque and on the edge by 0.1 % of the pixels, and its zooms start at 0. A map
switching between the API and the archive would shift; so the API's own reader is used.

A tile wholly outside the neatline (transparent) is left out of the archive: the map draws
nothing there either way. Each archive covers the COG's own zooms (rio-tiler's min/max zoom for
its resolution), the top lowered while the tile count would pass ``max_tiles``.

A sheet is written again only when what it is made of changed: its version, its COG (path, size,
modification time) or the tile settings. A sheet no longer published loses its archive, so the
static side never shows a withdrawn sheet. Files are written under a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from morecantile import Tile, TileMatrixSet
from pmtiles.tile import Compression, TileType
from sqlalchemy import text

from planning_gis import db
from planning_gis.errors import InvalidInput, NotFound, TileOutsideBounds
from planning_gis.settings import Settings
from tiles import archive as archives
from tiles import catalogue
from tiles.grid import get_tms
from tiles.reader import SheetReader, render

#: Folder under OUTDIR that holds the sheets' archives (``sheets/<id>.pmtiles`` + ``<id>.json``).
SHEETS_DIR = "sheets"
#: Bumped when what is written changes shape, so that old archives are written again.
FORMAT = 1
IMAGE_FORMAT = "png"

SHEETS_SQL = text(
    "SELECT s.id, s.plan_id, s.title, s.cog_path, s.current_version, p.name AS plan_name"
    " FROM published_sheets s JOIN plans p ON p.id = s.plan_id ORDER BY s.id"
)


def sheet_zooms(tms: TileMatrixSet, bounds: list[float], minzoom: int, maxzoom: int,
                max_tiles: int) -> range:
    """The COG's zooms, the top lowered while the tiles over the sheet would pass ``max_tiles``."""
    top = maxzoom
    while top >= minzoom:
        total = 0
        for z in range(minzoom, top + 1):
            xs, ys = archives.tile_ranges(tms, bounds, z)
            total += len(xs) * len(ys)
        if total <= max_tiles:
            break
        top -= 1
    return range(minzoom, top + 1)


def fingerprint(row, cog: str, settings: Settings) -> dict:
    """What the archive is made of: the same dict means the archive on disk is still right."""
    st = os.stat(cog)
    return {"format": FORMAT, "version": row.current_version, "cog": row.cog_path,
            "cog_size": st.st_size, "cog_mtime_ns": st.st_mtime_ns,
            "tile_size": settings.tile_size, "png_zlevel": settings.png_zlevel,
            "tile_matrix_set": archives.STATIC_TMS}


def sheet_tilejson(row, bounds: list[float], zooms: range, made_of: dict, base_url: str
                   ) -> dict:
    """The sheet's TileJSON 3.0 with its archive in the ``pmtiles://`` form."""
    w, s, e, n = bounds
    rel = f"{SHEETS_DIR}/{row.id}.pmtiles"
    archive = f"{base_url.rstrip('/')}/{rel}" if base_url else rel
    return {
        "tilejson": "3.0.0",
        "name": row.title,
        "description": f"{row.title} – {row.plan_name}",
        "attribution": "Sở Quy hoạch – Kiến trúc Hà Nội (demo)",
        "scheme": "xyz",
        "tiles": [f"pmtiles://{archive}/{{z}}/{{x}}/{{y}}"],
        "pmtiles": archive,
        "format": IMAGE_FORMAT,
        "tileSize": made_of["tile_size"],
        "minzoom": zooms.start,
        "maxzoom": zooms.stop - 1,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2, (s + n) / 2, zooms.start],
        "plan_id": row.plan_id,
        "planning": made_of,
    }


def _write_archive(path: Path, reader: SheetReader, tms: TileMatrixSet, bounds: list[float],
                   zooms: range, meta: dict) -> tuple[int, int]:
    """Cut and encode every non-transparent tile and publish the archive at ``path``; (tiles
    written, bytes)."""
    def bodies() -> Iterator[tuple[Tile, bytes]]:
        for tile in archives.ordered_tiles(tms, bounds, zooms):
            try:
                image = reader.tile(Tile(tile.x, tile.y, tile.z))
            except TileOutsideBounds:
                continue
            if not image.mask.any():
                continue  # wholly outside the neatline: nothing to draw
            body, _ = render(image, IMAGE_FORMAT, reader.settings.png_zlevel)
            yield tile, body

    return archives.publish_archive(path, bodies(), bounds, meta, TileType.PNG,
                                    Compression.NONE)


def publish_sheet(settings: Settings, row, outdir: Path, *, max_tiles: int, force: bool = False,
                  base_url: str = "") -> archives.Published:
    """Write ``outdir/sheets/<id>.pmtiles`` and ``<id>.json`` unless they are still right."""
    started = time.perf_counter()
    tms = get_tms(archives.STATIC_TMS)
    cog = catalogue.cog_file(row.cog_path, settings)
    folder = outdir / SHEETS_DIR
    name = f"sheet {row.id}"
    with SheetReader(cog, tms, settings) as reader:  # StoredFileUnreadable if the COG is gone
        info = reader.info()
        made_of = fingerprint(row, reader.path, settings)
        bounds = list(info.bounds_lonlat)
        zooms = sheet_zooms(tms, bounds, info.minzoom, info.maxzoom, max_tiles)
        archive = folder / f"{row.id}.pmtiles"
        try:
            prev = json.loads((folder / f"{row.id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            prev = None
        if (not force and prev is not None and prev.get("planning") == made_of
                and prev.get("minzoom") == zooms.start and prev.get("maxzoom") == zooms.stop - 1
                and (archive.is_file() or not prev.get("tiles"))):
            return archives.Published(name, row.current_version, zooms.start, zooms.stop - 1, 0, 0,
                             time.perf_counter() - started, True)
        if not zooms:
            raise InvalidInput(f"sheet {row.id}: even z{info.minzoom} has more than "
                               f"{max_tiles} tiles over the sheet; raise --max-tiles")
        meta = sheet_tilejson(row, bounds, zooms, made_of, base_url)
        count, size = _write_archive(archive, reader, tms, bounds, zooms, meta)
    archives.write_json(folder / f"{row.id}.json", meta)
    return archives.Published(name, row.current_version, zooms.start, zooms.stop - 1, count, size,
                     time.perf_counter() - started, False)


def _withdraw(folder: Path, keep: set[int]) -> list[str]:
    """Remove the archives of sheets no longer published; the names removed."""
    gone = []
    for path in sorted(folder.glob("*.json")):
        if path.stem.isdigit() and int(path.stem) not in keep:
            (folder / f"{path.stem}.pmtiles").unlink(missing_ok=True)
            path.unlink()
            gone.append(f"sheet {path.stem}")
    return gone


def publish_sheets(settings: Settings, outdir: Path, sheet_ids: list[int] | None = None, *,
                   max_tiles: int, force: bool = False, base_url: str = ""
                   ) -> tuple[list[archives.Published], list[str]]:
    """Publish every published sheet (or the named ones) into ``outdir/sheets``; withdraw the
    archives of sheets no longer published (only when all were asked for)."""
    with db.get_engine(settings).connect() as conn:
        rows = conn.execute(SHEETS_SQL).all()
    if sheet_ids:
        known = {r.id for r in rows}
        missing = [i for i in sheet_ids if i not in known]
        if missing:
            raise NotFound(f"no published map sheet with id {missing[0]}",
                           message_vi=f"Không có tờ bản đồ đã công bố mã {missing[0]}")
        rows = [r for r in rows if r.id in set(sheet_ids)]
    folder = outdir / SHEETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    done = [publish_sheet(settings, r, outdir, max_tiles=max_tiles, force=force,
                          base_url=base_url) for r in rows]
    gone = [] if sheet_ids else _withdraw(folder, {r.id for r in rows})
    return done, gone
