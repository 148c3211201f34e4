#!/usr/bin/env python3
"""Tiles through the cluster of ``./run.sh cluster``: one app node direct against two nodes
behind nginx, cache cold then warm; figures printed side by side, never asserted.

Start the cluster first (``./run.sh cluster``), then:

    python bench/cluster.py [--node http://127.0.0.1:8001] [--proxy http://127.0.0.1:8080]
                            [--seconds 5] [--zooms 14,15,16]

The tiles are those over the loaded zones at the given zooms, split in two disjoint halves so
that each "cold" figure meets tiles nobody asked for yet: half A on the node direct, half B
through nginx. Cold = one pass over every tile of the half, 16 clients (each tile rendered by
the app; through nginx also stored in its cache); warm = wrk for ``--seconds`` over the same
half, 32 connections (the node answers from its in-process edition cache, nginx from its disk
cache without asking a node). Static = the same half read from ``publish static``'s
``zones.pmtiles`` through nginx's ``/pmtiles/`` (``run.sh cluster`` publishes it into
``var/cluster/static``) as a PMTiles client reads a tile: one HTTP range request for the tile's
bytes (the directories are fetched once per client and kept), wrk with 32 connections.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import TMS, run_wrk, table, zone_tiles  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402


def _extent(tiles) -> tuple[float, float, float, float]:
    boxes = [TMS.bounds(t) for t in tiles]
    return (min(b.left for b in boxes), min(b.bottom for b in boxes),
            max(b.right for b in boxes), max(b.top for b in boxes))


def archive_ranges(path: Path) -> dict[tuple[int, int, int], tuple[int, int]]:
    """Each tile of a PMTiles archive: its (offset, length) in the file, from the directories."""
    from pmtiles.reader import MemorySource
    from pmtiles.tile import deserialize_directory, deserialize_header, tileid_to_zxy

    get = MemorySource(path.read_bytes())
    header = deserialize_header(get(0, 127))
    out: dict[tuple[int, int, int], tuple[int, int]] = {}

    def walk(offset: int, length: int) -> None:
        for e in deserialize_directory(get(offset, length)):
            if e.run_length:
                for i in range(e.run_length):
                    out[tileid_to_zxy(e.tile_id + i)] = (header["tile_data_offset"] + e.offset,
                                                         e.length)
            else:
                walk(header["leaf_directory_offset"] + e.offset, e.length)

    walk(header["root_offset"], header["root_length"])
    return out


def one_pass(base: str, paths: list[str], clients: int = 16) -> dict[str, float]:
    """Each path once, ``clients`` at a time: tiles/s and latency percentiles (ms)."""
    host = urlsplit(base)

    def get(path: str) -> tuple[float, int]:
        started = time.perf_counter()
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
            return time.perf_counter() - started, resp.status
        finally:
            conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(get, paths))
    wall = time.perf_counter() - started
    lat = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for _, status in results if status not in (200, 204))
    return {"rps": len(paths) / wall, "p50": lat[len(lat) // 2],
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", default="http://127.0.0.1:8001")
    parser.add_argument("--proxy", default="http://127.0.0.1:8080")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--zooms", default="14,15,16")
    parser.add_argument("--static-dir", type=Path, default=ROOT / "var" / "cluster" / "static",
                        help="publish static's folder that nginx serves under /pmtiles/")
    args = parser.parse_args()
    # The cluster's primary (run.sh cluster's defaults) unless PLANNING_DATABASE_URL says.
    os.environ.setdefault("PLANNING_DATABASE_URL",
                          "postgresql+psycopg://planning:planning@127.0.0.1:55432/planning")
    settings = Settings.from_env(secret_key="x" * 48)
    tiles = zone_tiles(settings, tuple(int(z) for z in args.zooms.split(",")))
    paths = [f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt" for t in tiles]
    a, b = paths[0::2], paths[1::2]
    print(f"{len(paths)} zone tiles at zooms {args.zooms}: {len(a)} on the node, {len(b)}"
          " through nginx")
    rows = [("path", "tiles/s", "p50 ms", "p99 ms", "errors")]

    def row(name: str, r: dict[str, float]) -> None:
        rows.append((name, f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                     int(r["errors"])))

    row("one node direct, cold (renders each tile)", one_pass(args.node, a))
    row("one node direct, warm (its edition cache)",
        run_wrk(args.node, a, args.seconds, 32))
    row("2 nodes behind nginx, cold cache", one_pass(args.proxy, b))
    row("2 nodes behind nginx, warm cache", run_wrk(args.proxy, b, args.seconds, 32))
    archive = args.static_dir / "zones.pmtiles"
    if archive.is_file():
        where = archive_ranges(archive)
        half_b = [t for t in tiles[1::2] if (t.z, t.x, t.y) in where]
        ranges = [f"/pmtiles/zones.pmtiles\tbytes={o}-{o + n - 1}"
                  for o, n in (where[(t.z, t.x, t.y)] for t in half_b)]
        if ranges:
            row(f"static PMTiles through nginx (range requests, {len(ranges)} tiles)",
                run_wrk(args.proxy, ranges, args.seconds, 32))
    else:
        print(f"no {archive}: run import_maps.py publish static {args.static_dir} first")
    table("Tiles through the cluster (same machine: client, nginx, nodes, PostgreSQL)", rows)
    # Look-ups (never cached by nginx: each reaches a node, which reads the replica).
    rng = random.Random(17)
    w, s, e, n = TMS.bounds(tiles[0]) if len(tiles) == 1 else _extent(tiles)
    points = [f"/api/lookup?lon={rng.uniform(w, e):.6f}&lat={rng.uniform(s, n):.6f}"
              for _ in range(500)]
    look = [("path", "req/s", "p50 ms", "p99 ms", "errors")]
    r = run_wrk(args.proxy, points, args.seconds, 64)
    look.append(("look-up, 64 connections, 2 nodes + replica behind nginx", f"{r['rps']:.0f}",
                 f"{r['p50']:.1f}", f"{r['p99']:.1f}", int(r["errors"])))
    table("Look-up through nginx", look)
    return 0


if __name__ == "__main__":
    sys.exit(main())
