"""Static publication (layers/static.py, ``import_maps.py publish static``): every tile of
every archive, read back with the ``pmtiles`` reader, is the API's tile byte for byte, every
tile the API has in the published range is in the archive, and a second publication rewrites
only the layers whose edition changed."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType
from sqlalchemy import text

from layers import registry, static
from planning_gis import db
from planning_gis.settings import PROJECT_ROOT
from tiles.grid import get_tms

pytestmark = pytest.mark.db


def _archive(path):
    fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    return fh, Reader(MmapSource(fh))


def test_archives_hold_the_apis_tiles_and_only_changed_layers_are_republished(
        demo, client, tmp_path):
    out = tmp_path / "static"
    first = static.publish_static(demo, out, max_zoom=16)
    print("\n" + "\n".join(p.line() for p in first))
    assert {p.layer for p in first} == set(registry.ids(registry.MVT))
    written = [p for p in first if p.tiles]
    assert {"zones", "redlines", "plans"} <= {p.layer for p in written}
    tms = get_tms(static.STATIC_TMS)
    compared = 0
    for p in written:
        doc = json.loads((out / f"{p.layer}.json").read_text(encoding="utf-8"))
        assert doc["tiles"] == [f"pmtiles://{p.layer}.pmtiles/{{z}}/{{x}}/{{y}}"]
        assert doc["planning"]["edition"] == p.edition and doc["maxzoom"] == p.maxzoom <= 16
        fh, reader = _archive(out / f"{p.layer}.pmtiles")
        with fh:
            header = reader.header()
            assert header["tile_type"] == TileType.MVT
            assert header["tile_compression"] == Compression.GZIP and header["clustered"]
            assert reader.metadata()["vector_layers"][0]["id"] == p.layer
            tiles = {zxy: gzip.decompress(data) for zxy, data in all_tiles(reader.get_bytes)}
            assert len(tiles) == p.tiles
            for (z, x, y), body in tiles.items():
                api = client.get(f"/tiles/{p.layer}/{z}/{x}/{y}.mvt")
                assert api.status_code == 200 and api.data == body, (p.layer, z, x, y)
                compared += 1
            # Every tile the API draws in the published range is in the archive (the top and
            # bottom zooms, each tile of the data's extent).
            bounds = doc["bounds"]
            for z in (p.minzoom, p.maxzoom):
                xs, ys = static.tile_ranges(tms, bounds, z)
                for x in xs:
                    for y in ys:
                        api = client.get(f"/tiles/{p.layer}/{z}/{x}/{y}.mvt")
                        assert (api.status_code == 200) == ((z, x, y) in tiles), (p.layer, z, x, y)
                        assert reader.get(z, x, y) is None or (z, x, y) in tiles
    print(f"{compared} archived tiles equal to the API's")
    assert compared > 50

    # Nothing changed: every layer is kept.
    again = static.publish_static(demo, out, max_zoom=16)
    assert all(p.skipped for p in again)
    # A write to the red lines bumps their edition: only that layer is written again.
    stamp = (out / "zones.pmtiles").stat().st_mtime_ns
    with db.get_engine(demo).begin() as conn:
        conn.execute(text("UPDATE red_lines SET geom = geom"
                          " WHERE id = (SELECT min(id) FROM red_lines)"))
    third = {p.layer: p for p in static.publish_static(demo, out, max_zoom=16)}
    redlines_edition = next(p.edition for p in first if p.layer == "redlines")
    assert not third["redlines"].skipped and third["redlines"].edition > redlines_edition
    assert [k for k, p in third.items() if not p.skipped] == ["redlines"]
    assert (out / "zones.pmtiles").stat().st_mtime_ns == stamp
    assert not list(out.glob(".*partial"))


def test_zoom_and_tile_caps(demo, tmp_path):
    capped = static.publish_static(demo, tmp_path, ["zones"], max_zoom=12)
    assert capped[0].maxzoom == 12
    few = static.publish_static(demo, tmp_path / "few", ["zones"], max_zoom=16, max_tiles=20)
    assert few[0].maxzoom < 16
    env = {**os.environ, "PLANNING_DATABASE_URL": demo.database_url,
           "PLANNING_DATA_DIR": demo.data_dir, "PYTHONPATH": str(PROJECT_ROOT)}
    for bad in (["--max-zoom", "99"], ["--layer", "nope"], ["--max-tiles", "0"]):
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "publish",
                               "static", str(tmp_path / "bad"), *bad], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.startswith("error: "), (bad, done.stderr)
        assert done.stderr.count("\n") == 1


def test_bbox_publishes_part_of_the_data_to_a_higher_zoom(demo, client, tmp_path):
    whole = static.publish_static(demo, tmp_path / "whole", ["zones"], max_zoom=16)[0]
    doc = json.loads((tmp_path / "whole" / "zones.json").read_text(encoding="utf-8"))
    w, s, e, n = doc["bounds"]
    # The south-west quarter of the data: fewer tiles, each the API's bytes, all inside it.
    quarter = (w, s, (w + e) / 2, (s + n) / 2)
    part = static.publish_static(demo, tmp_path / "part", ["zones"], max_zoom=16,
                                 bbox=quarter)[0]
    assert 0 < part.tiles < whole.tiles and part.maxzoom == whole.maxzoom
    part_doc = json.loads((tmp_path / "part" / "zones.json").read_text(encoding="utf-8"))
    assert part_doc["bounds"] == list(quarter)
    tms = get_tms(static.STATIC_TMS)
    fh, reader = _archive(tmp_path / "part" / "zones.pmtiles")
    with fh:
        for (z, x, y), data in all_tiles(reader.get_bytes):
            b = tms.bounds(x, y, z)
            assert b.left <= quarter[2] and b.right >= quarter[0]
            assert b.bottom <= quarter[3] and b.top >= quarter[1]
            assert client.get(f"/tiles/zones/{z}/{x}/{y}.mvt").data == gzip.decompress(data)
    # Same edition and same box: kept; another box: written again.
    assert static.publish_static(demo, tmp_path / "part", ["zones"], max_zoom=16,
                                 bbox=quarter)[0].skipped
    assert not static.publish_static(demo, tmp_path / "part", ["zones"], max_zoom=16)[0].skipped
    env = {**os.environ, "PLANNING_DATABASE_URL": demo.database_url,
           "PLANNING_DATA_DIR": demo.data_dir, "PYTHONPATH": str(PROJECT_ROOT)}
    for bad in (["--bbox", "1,2,3"], ["--bbox", "a,b,c,d"], ["--bbox", "106,21,105,22"],
                ["--bbox", "0,0,1,1"]):
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "publish",
                               "static", str(tmp_path / "bad"), "--layer", "zones", *bad],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.startswith(("error: ", "usage: ")), \
            (bad, done.stderr)
