"""Static publication of the vector layers: one PMTiles archive and one TileJSON per layer.

Protomaps' approach: the read side as files that nginx, object storage or a CDN serve with
HTTP range requests, no app node or database behind them. The tiles are the API's own (the
registry's layers rendered by :func:`layers.mvt.render_tile` on the WebMercatorQuad grid), so
the archive and ``/tiles/{layer}/{z}/{x}/{y}.mvt`` give the same bytes; they are stored
gzip-compressed, as PMTiles clients expect for MVT.

Per layer the archive covers the data's extent from the layer's ``minzoom`` to its ``maxzoom``
capped at ``max_zoom`` (16 by default: beyond it a map client overzooms the z16 tile), and the
top zoom is lowered further while the tile count would pass ``max_tiles``, so that a city-wide
layer cannot fill the disk; the TileJSON says the zooms kept.

A layer is written again only when its edition (layers/editions.py) or what was asked of it
(zoom cap) changed. The edition and the tiles are read in one repeatable-read snapshot, so the
edition recorded is the data's. Files are written under a temporary name and renamed: a
reader never sees half an archive.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from morecantile import Tile, TileMatrixSet
from pmtiles.tile import Compression, TileType
from sqlalchemy import Connection, text

from layers import registry
from layers.editions import layer_edition
from layers.mvt import layer_bounds, render_tile
from layers.registry import MVT, Dataset
from planning_gis import db
from planning_gis.errors import InvalidInput
from planning_gis.settings import Settings
from tiles.archive import (
    STATIC_TMS,
    Published,
    ordered_tiles,
    publish_archive,
    tile_ranges,
    write_json,
)
from tiles.grid import get_tms

DEFAULT_MAX_ZOOM = 16
DEFAULT_MAX_TILES = 200_000
#: Bumped when what is written changes shape, so that old archives are written again.
FORMAT = 1


def plan_zooms(tms: TileMatrixSet, layer: Dataset, bounds: list[float], max_zoom: int,
               max_tiles: int) -> range:
    """The layer's zooms within the caps: its own range, ``max_zoom``, then ``max_tiles``."""
    top = min(layer.maxzoom, max_zoom)
    while top >= layer.minzoom:
        total = 0
        for z in range(layer.minzoom, top + 1):
            xs, ys = tile_ranges(tms, bounds, z)
            total += len(xs) * len(ys)
        if total <= max_tiles:
            break
        top -= 1
    return range(layer.minzoom, top + 1)


def tilejson(layer: Dataset, bounds: list[float], zooms: range, edition: int | None,
             base_url: str) -> dict:
    """The layer's TileJSON 3.0: the archive's URL in the ``pmtiles://`` form that the
    ``pmtiles`` JS package's protocol reads, the fields from the registry."""
    w, s, e, n = bounds
    archive = f"{base_url.rstrip('/')}/{layer.id}.pmtiles" if base_url else f"{layer.id}.pmtiles"
    return {
        "tilejson": "3.0.0",
        "name": layer.id,
        "description": f"{layer.tile_title_vi or layer.title_vi} – {layer.tile_title or layer.title}",
        "scheme": "xyz",
        "tiles": [f"pmtiles://{archive}/{{z}}/{{x}}/{{y}}"],
        "pmtiles": archive,
        "minzoom": zooms.start,
        "maxzoom": zooms.stop - 1,
        "bounds": [w, s, e, n],
        "center": [(w + e) / 2, (s + n) / 2, max(zooms.start, min(12, zooms.stop - 1))],
        "vector_layers": [{"id": layer.id, "description": layer.tile_title or layer.title,
                           "minzoom": zooms.start, "maxzoom": zooms.stop - 1,
                           "fields": layer.tilejson_fields}],
        "planning": {"format": FORMAT, "edition": edition, "tile_matrix_set": STATIC_TMS},
    }


def _write_archive(path: Path, conn: Connection, layer: Dataset, tms: TileMatrixSet,
                   bounds: list[float], zooms: range, settings: Settings, meta: dict
                   ) -> tuple[int, int]:
    """Render the tiles and publish the archive at ``path``; (tiles written, bytes)."""
    def bodies() -> Iterator[tuple[Tile, bytes]]:
        for tile in ordered_tiles(tms, bounds, zooms):
            body = render_tile(conn, layer, tms, tile, settings)
            if body:
                yield tile, gzip.compress(body, compresslevel=6, mtime=0)

    return publish_archive(path, bodies(), bounds, meta, TileType.MVT, Compression.GZIP)


def _previous(outdir: Path, layer_id: str) -> dict | None:
    try:
        return json.loads((outdir / f"{layer_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def clip_bounds(bounds: list[float], bbox: tuple[float, float, float, float] | None
                ) -> list[float]:
    """The data's extent within ``bbox`` (lon/lat), so that a city's dense core can be
    published to its top zoom without the whole city; an empty overlap is refused."""
    if bbox is None:
        return bounds
    w, s = max(bounds[0], bbox[0]), max(bounds[1], bbox[1])
    e, n = min(bounds[2], bbox[2]), min(bounds[3], bbox[3])
    if w >= e or s >= n:
        raise InvalidInput(f"--bbox {','.join(map(str, bbox))} does not overlap the data "
                           f"({','.join(map(str, bounds))})")
    return [w, s, e, n]


def publish_layer(settings: Settings, layer: Dataset, outdir: Path, *,
                  max_zoom: int = DEFAULT_MAX_ZOOM, max_tiles: int = DEFAULT_MAX_TILES,
                  force: bool = False, base_url: str = "",
                  bbox: tuple[float, float, float, float] | None = None) -> Published:
    """Write ``outdir/<layer>.pmtiles`` and ``<layer>.json`` unless they are of this edition
    (and extent: ``bbox`` limits the archive to part of the data)."""
    started = time.perf_counter()
    tms = get_tms(STATIC_TMS)
    with db.get_engine(settings).connect() as conn:
        # One snapshot for the edition and every tile (the edition recorded is the data's).
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        edition = layer_edition(conn, layer.edition or layer.id)
        bounds = clip_bounds(layer_bounds(conn, layer), bbox)
        zooms = plan_zooms(tms, layer, bounds, max_zoom, max_tiles)
        prev = _previous(outdir, layer.id)
        wanted = {"format": FORMAT, "edition": edition, "tile_matrix_set": STATIC_TMS}
        archive = outdir / f"{layer.id}.pmtiles"
        if (not force and edition is not None and prev is not None
                and prev.get("planning") == wanted and prev.get("maxzoom") == zooms.stop - 1
                and prev.get("minzoom") == zooms.start and prev.get("bounds") == bounds
                and (archive.is_file() or not prev.get("tiles"))):
            return Published(layer.id, edition, zooms.start, zooms.stop - 1, 0, 0,
                             time.perf_counter() - started, True)
        if not zooms:
            raise InvalidInput(f"layer {layer.id}: even z{layer.minzoom} has more than "
                               f"{max_tiles} tiles over the data; raise --max-tiles")
        meta = tilejson(layer, bounds, zooms, edition, base_url)
        count, size = _write_archive(archive, conn, layer, tms, bounds, zooms, settings, meta)
        conn.rollback()
    write_json(outdir / f"{layer.id}.json", meta)
    return Published(layer.id, edition, zooms.start, zooms.stop - 1, count, size,
                     time.perf_counter() - started, False)


def check_outdir(outdir: Path) -> None:
    """Make ``outdir`` if needed and prove it writable, or one InvalidInput line: a publication
    must not fail after minutes of rendering because of a typo in the folder."""
    if not str(outdir).strip():
        raise InvalidInput("OUTDIR is empty: name the folder to publish into")
    if outdir.exists() and not outdir.is_dir():
        raise InvalidInput(f"OUTDIR {outdir} exists and is not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / f".probe-{os.getpid()}.partial"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(f"cannot write into OUTDIR {outdir}: {exc.strerror or exc}") from exc


def publish_static(settings: Settings, outdir: Path, layer_ids: list[str] | None = None,
                   **options) -> list[Published]:
    """Publish every vector layer of the registry (or the named ones) into ``outdir``."""
    if options.get("max_zoom", DEFAULT_MAX_ZOOM) not in range(0, 23):
        raise InvalidInput("--max-zoom must be between 0 and 22")
    if options.get("max_tiles", DEFAULT_MAX_TILES) < 1:
        raise InvalidInput("--max-tiles must be at least 1")
    bbox = options.get("bbox")
    if bbox is not None and not (len(bbox) == 4 and -180 <= bbox[0] < bbox[2] <= 180
                                 and -85.06 <= bbox[1] < bbox[3] <= 85.06):
        raise InvalidInput("--bbox is west,south,east,north in degrees (west < east, "
                           "south < north)")
    layers = [registry.get(i, MVT) for i in layer_ids] if layer_ids else \
        list(registry.datasets(MVT))
    check_outdir(outdir)
    return [publish_layer(settings, layer, outdir, **options) for layer in layers]
