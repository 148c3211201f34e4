"""Mapbox vector tiles from PostGIS: one parameterised ``ST_AsMVT`` query per layer.

Layers are the datasets of ``layers/registry.py`` that feed tiles; each statement is built once
from that declaration, never from request input. The tile's envelope comes from the morecantile
grid; the search box is the same envelope widened by the MVT buffer and transformed to the
storage CRS, so the ``&&`` test is an index condition on the table's GiST index. Geometry is
simplified to about one MVT grid cell at the tile's zoom before it is reprojected, then clipped
and quantised by ``ST_AsMVTGeom``.
"""

from __future__ import annotations

from functools import lru_cache

from morecantile import Tile, TileMatrixSet
from sqlalchemy import Connection, TextClause, text

from layers import registry
from layers.registry import MVT, Dataset, ZoomBand
from planning_gis.crs import HANOI_BOUNDS_LONLAT, STORAGE_SRID, WGS84, transformer
from planning_gis.settings import Settings
from tiles.grid import tile_bounds, tms_srid

#: The web map's grid CRS (WebMercatorQuad), in which the derived zone tables also hold geometry.
WEB_SRID = 3857


def _select(layer: Dataset, band: ZoomBand | None, source: str, geom: str, where: str,
            web_geom: str | None = None, area: str | None = None) -> str:
    """One SELECT of a tile's features from ``source``: the band's properties, thinning, order.

    With ``web_geom`` (the same geometry already in EPSG:3857) a WebMercatorQuad tile skips the
    per-feature transform; the CASE picks one branch per row, the other is not computed.
    """
    fields = layer.fields_for(MVT)
    if band is not None and band.fields is not None:
        fields = {k: f for k, f in fields.items() if k in band.fields}
    props = "".join(f", {f.sql} AS {name}" for name, f in fields.items())
    cond = [f"{geom} && ST_Transform(ST_MakeEnvelope(:sxmin, :symin, :sxmax, :symax, :srid), "
            f"{STORAGE_SRID})", f"({layer.where})", f"({layer.tile_where})", f"({where})"]
    if band is not None and band.min_pixels:
        cond.append(f"{area or f'ST_Area({geom})'} >= :min_area")
    order = (band.order_by if band is not None and band.order_by else None) or layer.order_by
    shape = f"ST_Transform(ST_Simplify({geom}, :tolerance, true), :srid)"
    if web_geom:
        shape = (f"CASE WHEN :srid = {WEB_SRID} THEN ST_Simplify({web_geom}, :tolerance, true) "
                 f"ELSE {shape} END")
    return f"""
  SELECT t.id{props},
    ST_AsMVTGeom(
      {shape},
      ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, :srid), :extent, :buffer, true) AS geom
  FROM {source}
  WHERE {" AND ".join(cond)}
  ORDER BY {order}
  OFFSET 0"""


def tile_sql(layer: Dataset, zoom: int | None = None) -> TextClause:
    """The layer's ``ST_AsMVT`` statement for a zoom, built once per zoom band.

    Each SELECT ends in ``OFFSET 0`` so that the outer ``geom IS NOT NULL`` is not pushed into
    it: pushed down, PostgreSQL clipped every feature twice (``ST_AsMVTGeom`` in the filter and
    again in the output), 45 % of a dense city tile's time.

    A band with a precomputed source reads it while it is current and the live source, with
    the band's filter, otherwise: both branches are in the statement, and the one-time test of
    ``current_sql`` decides which runs, in the same snapshot as the rows it reads.
    """
    band = layer.band_for(zoom) if zoom is not None else None
    key = (MVT, band)
    cached = layer.sql_cache.get(key)
    if cached is not None:
        return cached
    where = band.where if band is not None else "TRUE"
    if band is not None and band.source and band.current_sql:
        pre = _select(layer, band, band.source, band.geom_sql or layer.geom_sql,
                      f"{where} AND {band.current_sql}", band.web_geom_sql, band.area_sql)
        live = _select(layer, band, layer.source, layer.geom_sql,
                       f"{where} AND NOT {band.current_sql}")
        rows = f"({pre}) UNION ALL ({live})"
    else:
        rows = _select(layer, band, layer.source, layer.geom_sql, where)
    sql = text(f"""
SELECT ST_AsMVT(mvt.*, '{layer.id}', :extent, 'geom', 'id') FROM ({rows}
) AS mvt WHERE mvt.geom IS NOT NULL
""")
    layer.sql_cache[key] = sql
    return sql


def _min_pixels(layer: Dataset, zoom: int) -> float:
    band = layer.band_for(zoom)
    return band.min_pixels if band is not None else 0.0


def get_layer(name: str) -> Dataset:
    """A vector-tile layer of the registry, or a 404 naming the layers there are."""
    return registry.get(name, MVT)


@lru_cache(maxsize=8)
def service_box(srid: int) -> tuple[float, float, float, float]:
    """Hanoi's extent in the grid's CRS: tiles outside it are empty without asking PostGIS.

    It also keeps the transformed search box inside the area where the storage projection is
    valid (a world-sized envelope would not survive a transform to TM-3).
    """
    return transformer(WGS84, srid).transform_bounds(*HANOI_BOUNDS_LONLAT, densify_pts=21)


def tile_params(
    layer: Dataset, tms: TileMatrixSet, tile: Tile, settings: Settings
) -> dict[str, float | int] | None:
    """The bind parameters of a layer's SQL for one tile, or None when nothing can be there."""
    if not layer.minzoom <= tile.z <= layer.maxzoom:
        return None
    xmin, ymin, xmax, ymax = tile_bounds(tms, tile)
    pad = (xmax - xmin) * settings.mvt_buffer / settings.mvt_extent
    hx0, hy0, hx1, hy1 = service_box(tms_srid(tms))
    sx0, sy0 = max(xmin - pad, hx0), max(ymin - pad, hy0)
    sx1, sy1 = min(xmax + pad, hx1), min(ymax + pad, hy1)
    if sx0 >= sx1 or sy0 >= sy1:
        return None
    return {
        "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax,
        "sxmin": sx0, "symin": sy0, "sxmax": sx1, "symax": sy1,
        "srid": tms_srid(tms),
        "extent": settings.mvt_extent,
        "buffer": settings.mvt_buffer,
        # one MVT grid cell in metres (grid units are close to metres in Hanoi's projections)
        "tolerance": (xmax - xmin) / settings.mvt_extent,
        # the smallest feature the zoom band keeps, in square metres (256-pixel tile pixels)
        "min_area": _min_pixels(layer, tile.z) * ((xmax - xmin) / 256) ** 2,
    }


def render_tile(
    conn: Connection, layer: Dataset, tms: TileMatrixSet, tile: Tile, settings: Settings
) -> bytes:
    """The MVT bytes of one layer for one tile (b'' when the tile is empty)."""
    params = tile_params(layer, tms, tile, settings)
    if params is None:
        return b""
    data = conn.execute(tile_sql(layer, tile.z), params).scalar_one()
    return bytes(data or b"")


def extent_sql(layer: Dataset) -> TextClause:
    """The dataset's extent in lon/lat (one statement for tiles and the OGC API)."""
    cached = layer.sql_cache.get("extent")
    if cached is None:
        cached = text(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform("
            f"ST_SetSRID(ST_Extent({layer.geom_sql})::geometry, {STORAGE_SRID}), 4326) AS b"
            f" FROM {layer.source} WHERE {layer.where}) AS e"
        )
        layer.sql_cache["extent"] = cached
    return cached


def layer_bounds(conn: Connection, layer: Dataset) -> list[float]:
    """The layer's extent in lon/lat (Hanoi's box when the layer is empty)."""
    row = conn.execute(extent_sql(layer)).one()
    if row[0] is None:
        return list(HANOI_BOUNDS_LONLAT)
    return [round(float(v), 6) for v in row]
