"""Warming a freshly started server process before it answers its first client.

A look-up is cheap once a process is warm (about 1-2 ms in the app) but the first one pays for
opening database connections, building PROJ transformers, compiling SQL and loading templates.
Doing that here, once per worker, keeps a cold start out of the clients' latency.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import morecantile
from flask import Flask

from planning_gis.crs import STORAGE_SRID, WEB_MERCATOR, WGS84, transformer
from planning_gis.db import get_engine

log = logging.getLogger(__name__)

#: A point in Hanoi's centre: the warm-up only needs valid requests, not hits.
LON, LAT = 105.80, 21.03


def _warm_paths() -> list[str]:
    """Requests on the hot paths: point look-up in both CRSs, a vector tile, OGC items."""
    tile = morecantile.tms.get("WebMercatorQuad").tile(LON, LAT, 15)
    e, n = transformer(WGS84, STORAGE_SRID).transform(LON, LAT)
    return [f"/api/lookup?lon={LON}&lat={LAT}",
            f"/api/lookup?x_north={n:.1f}&y_east={e:.1f}",
            f"/tiles/zones/{tile.z}/{tile.x}/{tile.y}.mvt",
            "/ogc/collections/zones/items?limit=1"]


def warm_up(app: Flask, connections: int = 1) -> None:
    """Open ``connections`` pooled connections and run each hot path once; never raises.

    A warm-up that fails (database still starting, say) must not stop the worker: it only means
    the first clients pay the cold start, as they would without it.
    """
    try:
        settings = app.config["SETTINGS"]
        # The primary's pool and each replica's (public reads go there).
        for url in (settings.database_url, *settings.read_database_urls):
            engine = get_engine(settings, url)
            # Check out the connections all at once so that the pool keeps that many open.
            conns = [engine.connect() for _ in range(min(connections, engine.pool.size()))]
            for conn in conns:
                conn.close()
        for src, dst in ((WGS84, STORAGE_SRID), (STORAGE_SRID, WGS84),
                         (WEB_MERCATOR, STORAGE_SRID), (STORAGE_SRID, WEB_MERCATOR)):
            transformer(src, dst)
        paths = _warm_paths()

        def run(_: int) -> None:
            client = app.test_client()
            for path in paths:
                client.get(path).close()

        # Each thread warms its own thread-local state (PROJ contexts) and connection.
        with ThreadPoolExecutor(max_workers=max(1, connections)) as pool:
            list(pool.map(run, range(max(1, connections))))
    except Exception as exc:  # noqa: BLE001 - a failed warm-up is logged, never fatal
        log.warning("warm-up skipped: %s", exc)
