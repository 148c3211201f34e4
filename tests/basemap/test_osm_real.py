"""``import_maps.py basemap`` on real OpenStreetMap data that nobody here made.

The data: © OpenStreetMap contributors, under the Open Database License 1.0
(https://www.openstreetmap.org/copyright). Exports of the OSM API (``openstreetmap-cgimap``) of
Ho Chi Minh City's districts 1 and 3, as committed to the public repository
``Kaos1105/sumo_hcmc_map``: ``map.osm`` (commit 4da10b03505c, 781 kB, box 10.78525-10.79157 N,
106.68928-106.69567 E) and ``multi-tl-map.osm`` (commit c82bf50696009, 2.2 MB). No Hanoi extract
could be had on this offline machine; Vietnamese street names, house numbers and their quirks
are the same. The files are not in this repository; the tests look for

- ``$PLANNING_OSM_EXCERPT``, else ``../shared/osm/hcmc-q3-excerpt.osm`` beside the checkout: an
  excerpt of ``map.osm`` (113 kB; complete ways, cut with pyosmium: named roads, house numbers
  and places with a node in 106.6900-106.6940 E, 10.7860-10.7900 N);
- ``$PLANNING_OSM_REAL``: a whole extract (``multi-tl-map.osm``);

and are skipped, saying where they looked, when a file is absent.

The importer keeps Hanoi's extent only, so each test moves its copy of the file into Hanoi
first: every latitude and longitude shifted by one constant; names, tags, ways and shapes as
they are.
"""

from __future__ import annotations

import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from planning_gis.citizen.find import find
from planning_gis.settings import PROJECT_ROOT
from tests.basemap.test_osm import run_cli

pytestmark = pytest.mark.db

#: Ho Chi Minh City's districts 1 and 3 moved onto Cầu Giấy (degrees).
SHIFT_LAT, SHIFT_LON = 10.245, -0.900
EXCERPT = "hcmc-q3-excerpt.osm"


def _excerpt() -> Path | None:
    given = os.environ.get("PLANNING_OSM_EXCERPT")
    path = Path(given) if given else PROJECT_ROOT.parent / "shared" / "osm" / EXCERPT
    return path if path.is_file() else None


def _whole() -> Path | None:
    given = os.environ.get("PLANNING_OSM_REAL")
    return Path(given) if given and Path(given).is_file() else None


REAL = [
    pytest.param(_excerpt, id="excerpt", marks=pytest.mark.skipif(
        _excerpt() is None, reason=f"no real OSM excerpt: set PLANNING_OSM_EXCERPT or put {EXCERPT} "
        "in ../shared/osm/ (see this module's docstring for its source)")),
    pytest.param(_whole, id="whole", marks=pytest.mark.skipif(
        _whole() is None, reason="no real OSM extract: set PLANNING_OSM_REAL to a .osm file "
        "(see this module's docstring for its source)")),
]


def moved_into_hanoi(src: Path, dst: Path, *, form: str = "NFC") -> Path:
    """A copy of an OSM XML file shifted into Hanoi; ``form="NFD"`` also decomposes its text
    (as some editors write Vietnamese) to see that the importer stores NFC."""
    def shift(m: re.Match) -> str:
        delta = SHIFT_LAT if m.group(1).endswith("lat") else SHIFT_LON
        return f'{m.group(1)}="{float(m.group(2)) + delta:.7f}"'

    body = re.sub(r'\b(lat|lon|minlat|maxlat|minlon|maxlon)="([-0-9.]+)"', shift,
                  src.read_text(encoding="utf-8"))
    dst.write_text(unicodedata.normalize(form, body), encoding="utf-8")
    return dst


def facts(path: Path) -> dict:
    """What the file holds, read independently of GDAL: the named roads' names, the elements
    with a house number, the most frequent road name and one numbered house on a named road."""
    root = ET.parse(path).getroot()
    tags = [(el.tag, {t.get("k"): t.get("v") for t in el.findall("tag")}) for el in root]
    roads = Counter(t["name"] for kind, t in tags if kind == "way" and "highway" in t and "name" in t)
    houses = [(kind, t) for kind, t in tags if "addr:housenumber" in t]
    house = next(t for kind, t in houses if kind == "node" and t.get("addr:street") in roads)
    return {"roads": set(roads), "top": roads.most_common(1)[0][0], "house": house,
            "houses": houses}


def plain(name: str) -> str:
    """"Võ Thị Sáu" -> "vo thi sau", as typed on a phone without Vietnamese input."""
    nfd = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in nfd if not unicodedata.combining(c)).lower()


def first(conn, query: str) -> dict:
    results = find(conn, query)["results"]
    assert results, query
    return results[0]


@pytest.fixture
def imported(demo, engine, tmp_path, request):
    """The real file moved into Hanoi and imported through the command line."""
    src = request.param()
    path = moved_into_hanoi(src, tmp_path / "moved.osm")
    r = run_cli("basemap", str(path), settings=demo)
    try:
        assert r.returncode == 0, r.stderr
        yield path, facts(path), r.stdout
    finally:
        with engine.begin() as c:
            for table in ("streets", "addresses", "places"):
                c.execute(text(f"DELETE FROM {table} WHERE source = 'osm'"))


@pytest.mark.parametrize("imported", REAL, indirect=True)
def test_real_streets_house_numbers_and_names(imported, engine):
    path, f, stdout = imported
    with engine.connect() as c:
        names = set(c.execute(text("SELECT DISTINCT name FROM streets WHERE source = 'osm' "
                                   "AND name IS NOT NULL")).scalars())
        numbers = c.execute(text("SELECT count(*) FROM addresses WHERE source = 'osm'")).scalar()
        stored = [*names, *c.execute(text(
            "SELECT street FROM addresses WHERE source = 'osm' AND street IS NOT NULL "
            "UNION ALL SELECT name FROM places WHERE source = 'osm'")).scalars()]
    assert f["roads"] <= names, f["roads"] - names  # every named road of the file, by its name
    assert len(names) >= 10
    # House numbers on nodes and on closed ways (buildings); a numbered open way has no house.
    assert numbers >= 0.9 * len(f["houses"]) and numbers >= 20, (numbers, len(f["houses"]))
    assert f"{numbers} house numbers" in stdout
    assert all(unicodedata.is_normalized("NFC", n) for n in stored)


@pytest.mark.parametrize("imported", REAL, indirect=True)
def test_real_names_found_with_and_without_diacritics(imported, engine):
    _path, f, _ = imported
    street = f["top"]
    with engine.connect() as c:
        for typed in (street, plain(street)):
            hit = first(c, typed)
            assert (hit["kind"], hit["title"]) == ("street", street), (typed, hit)
        house = f["house"]
        number, on = house["addr:housenumber"], house["addr:street"]
        for typed in (f"{number} {on}", f"{number} {plain(on)}"):
            hit = first(c, typed)
            assert (hit["kind"], hit["title"]) == ("address", f"{number} {on}"), (typed, hit)


@pytest.mark.parametrize("imported", REAL[:1], indirect=True)
def test_real_data_quirk_eth_for_d_is_found(imported, engine):
    """Real OSM data in Vietnam has names typed with "Ð" (U+00D0, Icelandic eth) for "Đ" (U+0110):
    "Ðinh Công Tráng" here. It looks the same; typed with Đ or as "dinh", it must be found."""
    _path, f, _ = imported
    eth = next((n for n in f["roads"] if "\u00d0" in n), None)
    if eth is None:
        pytest.skip("this file has no name written with Ð")
    with engine.connect() as c:
        for typed in (eth.replace("\u00d0", "Đ"), plain(eth.replace("\u00d0", "Đ"))):
            hit = first(c, typed)
            assert hit["kind"] == "street" and plain(hit["title"].replace("\u00d0", "D")) == plain(
                eth.replace("\u00d0", "D")), (typed, hit)


def test_nfd_text_is_stored_as_nfc(demo, engine, tmp_path):
    """The same real excerpt written decomposed (NFD) is stored composed (NFC)."""
    src = _excerpt()
    if src is None:
        pytest.skip(f"no real OSM excerpt: set PLANNING_OSM_EXCERPT or put {EXCERPT} in "
                    "../shared/osm/")
    path = moved_into_hanoi(src, tmp_path / "moved-nfd.osm", form="NFD")
    r = run_cli("basemap", str(path), settings=demo)
    try:
        assert r.returncode == 0, r.stderr
        with engine.connect() as c:
            stored = list(c.execute(text(
                "SELECT name FROM streets WHERE source = 'osm' AND name IS NOT NULL UNION ALL "
                "SELECT street FROM addresses WHERE source = 'osm' AND street IS NOT NULL "
                "UNION ALL SELECT housenumber FROM addresses WHERE source = 'osm'")).scalars())
        assert stored and all(unicodedata.is_normalized("NFC", n) for n in stored)
        assert "Võ Thị Sáu" in stored
    finally:
        with engine.begin() as c:
            for table in ("streets", "addresses", "places"):
                c.execute(text(f"DELETE FROM {table} WHERE source = 'osm'"))


def test_an_extract_outside_hanoi_is_refused_and_keeps_the_previous_import(demo, engine, tmp_path):
    """The real excerpt where it is (Ho Chi Minh City): nothing inside Hanoi, so the command says
    so in one line and leaves the streets already imported as they were."""
    src = _excerpt()
    if src is None:
        pytest.skip(f"no real OSM excerpt: set PLANNING_OSM_EXCERPT or put {EXCERPT} in "
                    "../shared/osm/")
    moved = moved_into_hanoi(src, tmp_path / "moved.osm")
    try:
        assert run_cli("basemap", str(moved), settings=demo).returncode == 0
        with engine.connect() as c:
            before = c.execute(text("SELECT count(*) FROM streets WHERE source = 'osm'")).scalar()
        r = run_cli("basemap", str(src), settings=demo)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "inside Hanoi" in r.stderr
        with engine.connect() as c:
            after = c.execute(text("SELECT count(*) FROM streets WHERE source = 'osm'")).scalar()
        assert after == before > 0
    finally:
        with engine.begin() as c:
            for table in ("streets", "addresses", "places"):
                c.execute(text(f"DELETE FROM {table} WHERE source = 'osm'"))
