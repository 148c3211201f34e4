"""The static read side through the cluster's nginx (planning_gis/cluster.py's ``/pmtiles/``):
a PMTiles client reads an archive of ``publish static`` with HTTP range requests only, and
gets the API's tiles."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import subprocess

import pytest
from pmtiles.reader import Reader, all_tiles

from layers import static
from planning_gis.cluster import write_nginx_conf
from tests.ops.conftest import free_port
from tests.ops.test_cluster_faults import NGINX, _wait_port

pytestmark = pytest.mark.db


def test_pmtiles_through_nginx_with_range_requests(demo, client, tmp_path):
    out = tmp_path / "static"
    static.publish_static(demo, out, ["zones", "redlines"], max_zoom=16)
    port = free_port()
    prefix = tmp_path / "nginx"
    conf = write_nginx_conf(prefix, f"127.0.0.1:{port}", ["127.0.0.1:9"], static_dir=out)
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix), "-g", directives])
    ranges: list[str] = []
    try:
        _wait_port(port, nginx)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def get_bytes(offset: int, length: int) -> bytes:
            rng = f"bytes={offset}-{offset + length - 1}"
            conn.request("GET", "/pmtiles/zones.pmtiles", headers={"Range": rng})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 206, resp.status
            assert resp.getheader("Content-Range").startswith(f"bytes {offset}-")
            assert resp.getheader("Access-Control-Allow-Origin") == "*"
            ranges.append(rng)
            return body

        reader = Reader(get_bytes)
        assert reader.metadata()["name"] == "zones"
        tiles = dict(all_tiles(get_bytes))
        assert tiles
        for (z, x, y), data in tiles.items():
            assert gzip.decompress(data) == client.get(f"/tiles/zones/{z}/{x}/{y}.mvt").data
        conn.request("GET", "/pmtiles/zones.json")
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        assert resp.status == 200 and resp.getheader("ETag")
        assert doc["tiles"][0].startswith("pmtiles://zones.pmtiles/")
        print(f"\n{len(tiles)} tiles read through nginx in {len(ranges)} range requests")
    finally:
        nginx.terminate()
        nginx.wait(10)
