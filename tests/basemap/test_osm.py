"""``import_maps.py basemap``: OpenStreetMap extracts (XML and PBF, made here by code) to the
base map's streets, house numbers and places; bad files refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from planning_gis.basemap.osm import parse_other_tags, read_osm
from planning_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.db

#: A few real Cầu Giấy coordinates (lon, lat); the names are real streets, the data made up.
NODES = {
    1: (105.7800, 21.0380, {}),
    2: (105.7850, 21.0382, {"addr:housenumber": "12", "addr:street": "Xuân Thủy"}),
    3: (105.7900, 21.0384, {}),
    4: (105.7950, 21.0300, {"place": "quarter", "name": "Dịch Vọng Hậu"}),
    5: (105.8000, 21.0100, {}),
    6: (105.8010, 21.0110, {}),
    7: (105.8020, 21.0100, {}),
    8: (105.7000, 21.5000, {}),  # outside Hanoi's extent: clipped away
    9: (105.7010, 21.5010, {}),
    11: (105.7851, 21.0390, {}), 12: (105.7853, 21.0390, {}), 13: (105.7853, 21.0392, {}),
    14: (105.7851, 21.0392, {}),
}
WAYS = {
    100: ([1, 2, 3], {"highway": "primary", "name": "Xuân Thủy", "ref": "QL32"}),
    101: ([5, 6, 7], {"highway": "trunk", "name": "Trần Duy Hưng"}),
    102: ([8, 9], {"highway": "residential", "name": "Ngoài Hà Nội"}),
    103: ([1, 5], {"highway": "footway"}),  # an unnamed path: not a street of the map
    104: ([11, 12, 13, 14, 11], {"building": "yes", "addr:housenumber": "144",
                                  "addr:street": "Xuân Thủy"}),
}


def write_osm_xml(path: Path) -> Path:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lon, lat, tags) in NODES.items():
        out.append(f'<node id="{i}" version="1" lat="{lat}" lon="{lon}">')
        out += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        out.append("</node>")
    for i, (refs, tags) in WAYS.items():
        out.append(f'<way id="{i}" version="1">')
        out += [f'<nd ref="{r}"/>' for r in refs]
        out += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        out.append("</way>")
    out.append("</osm>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def write_osm_pbf(path: Path) -> Path:
    osmium = pytest.importorskip("osmium")
    with osmium.SimpleWriter(str(path)) as w:
        for i, (lon, lat, tags) in NODES.items():
            w.add_node(osmium.osm.mutable.Node(id=i, version=1, location=(lon, lat), tags=tags))
        for i, (refs, tags) in WAYS.items():
            w.add_way(osmium.osm.mutable.Way(id=i, version=1, nodes=refs, tags=tags))
    return path


def run_cli(*args, settings):
    env = dict(os.environ, PLANNING_DATABASE_URL=settings.database_url,
               PLANNING_DATA_DIR=settings.data_dir)
    return subprocess.run([sys.executable, "import_maps.py", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_other_tags_are_read():
    assert parse_other_tags('"addr:street"=>"Xuân Thủy","ref"=>"a \\"b\\""') == {
        "addr:street": "Xuân Thủy", "ref": 'a "b"'}
    assert parse_other_tags(None) == {}


@pytest.mark.parametrize("writer,name", [(write_osm_xml, "cau-giay.osm"),
                                         (write_osm_pbf, "cau-giay.osm.pbf")])
def test_read_both_encodings(tmp_path, writer, name):
    rows = read_osm(writer(tmp_path / name))
    names = sorted(s[0] for s in rows.streets)
    assert names == ["Trần Duy Hưng", "Xuân Thủy"]
    xt = next(s for s in rows.streets if s[0] == "Xuân Thủy")
    assert xt[1] == "primary" and xt[2] == "QL32" and xt[3] == 100
    e, n = xt[4].coords[0]
    assert 570_000 < e < 600_000 and 2_300_000 < n < 2_350_000  # EPSG:5897 metres
    assert sorted((a[0], a[1]) for a in rows.addresses) == [("12", "Xuân Thủy"),
                                                           ("144", "Xuân Thủy")]
    assert [(p[0], p[1]) for p in rows.places] == [("Dịch Vọng Hậu", "quarter")]


def test_basemap_command_imports_and_replaces(demo, engine, tmp_path):
    path = write_osm_xml(tmp_path / "cau-giay.osm")
    try:
        for _ in range(2):  # a second import replaces the first
            r = run_cli("basemap", str(path), settings=demo)
            assert r.returncode == 0, r.stderr
            assert "imported 2 streets, 2 house numbers, 1 places" in r.stdout
        with engine.connect() as c:
            n = c.execute(text("SELECT count(*) FROM streets WHERE source = 'osm'")).scalar()
            fictional = c.execute(text("SELECT count(*) FROM streets WHERE is_fictional")).scalar()
        assert n == 2 and fictional > 0, "the demo's fictional streets stay beside OSM's"
    finally:
        with engine.begin() as c:
            for table in ("streets", "addresses", "places"):
                c.execute(text(f"DELETE FROM {table} WHERE source = 'osm'"))


@pytest.mark.parametrize("content,name,words", [
    (None, "missing.osm", "no such file"),
    ("not xml at all", "bad.osm", "not a readable OpenStreetMap file"),
    ("{}", "plot.geojson", "give an OpenStreetMap .osm or .osm.pbf file"),
    # Another city (Ho Chi Minh City): importing would replace Hanoi's streets with nothing.
    ('<?xml version="1.0"?><osm version="0.6"><node id="1" version="1" lat="10.78" lon="106.69"/>'
     '<node id="2" version="1" lat="10.79" lon="106.70"/><way id="3" version="1"><nd ref="1"/>'
     '<nd ref="2"/><tag k="highway" v="primary"/><tag k="name" v="Võ Thị Sáu"/></way></osm>',
     "saigon.osm", "nothing imported, the previous import is kept"),
])
def test_bad_files_are_one_line_errors(demo, tmp_path, content, name, words):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    r = run_cli("basemap", str(path), settings=demo)
    assert r.returncode == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
