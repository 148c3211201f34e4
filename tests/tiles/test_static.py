"""Static publication of the published sheets (tiles/static.py, ``publish static``): every tile
of a sheet's archive is the API's PNG byte for byte, every tile the API draws something on is in
the archive, a sheet is written again only when it changed, a withdrawn sheet loses its archive,
and a bad OUTDIR is refused with one line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from PIL import Image
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType
from sqlalchemy import text

from planning_gis import db
from planning_gis.settings import PROJECT_ROOT
from tiles import catalogue
from tiles import static as sheets_static
from tiles.archive import STATIC_TMS, tile_ranges
from tiles.grid import get_tms
from tiles.web_cog import serving_path

pytestmark = pytest.mark.db


def _drawn(png: bytes) -> bool:
    """Whether a PNG tile has any pixel that is not transparent."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return image.getchannel("A").getextrema()[1] > 0


def test_sheet_archives_hold_the_apis_tiles_and_are_republished_when_a_sheet_changes(
        demo, client, tmp_path):
    out = tmp_path / "static"
    with db.get_engine(demo).connect() as conn:
        ids = [r.id for r in conn.execute(sheets_static.SHEETS_SQL)]
    assert ids, "the demo publishes sheets"
    done, gone = sheets_static.publish_sheets(demo, out, max_tiles=5000)
    print("\n" + "\n".join(p.line() for p in done))
    assert [p.layer for p in done] == [f"sheet {i}" for i in ids] and not gone
    tms = get_tms(STATIC_TMS)
    compared = 0
    for sid, p in zip(ids, done, strict=True):
        assert p.tiles > 0
        doc = json.loads((out / "sheets" / f"{sid}.json").read_text(encoding="utf-8"))
        assert doc["tiles"] == [f"pmtiles://sheets/{sid}.pmtiles/{{z}}/{{x}}/{{y}}"]
        with open(out / "sheets" / f"{sid}.pmtiles", "rb") as fh:
            reader = Reader(MmapSource(fh))
            header = reader.header()
            assert header["tile_type"] == TileType.PNG
            assert header["tile_compression"] == Compression.NONE and header["clustered"]
            assert reader.metadata()["planning"] == doc["planning"]
            tiles = dict(all_tiles(reader.get_bytes))
            assert len(tiles) == p.tiles
            for (z, x, y), body in tiles.items():
                api = client.get(f"/tiles/sheets/{sid}/{z}/{x}/{y}.png")
                assert api.status_code == 200 and api.data == body, (sid, z, x, y)
                compared += 1
            # Every tile of the top and bottom zooms on which the API draws is archived.
            for z in (p.minzoom, p.maxzoom):
                xs, ys = tile_ranges(tms, doc["bounds"], z)
                for x in xs:
                    for y in ys:
                        api = client.get(f"/tiles/sheets/{sid}/{z}/{x}/{y}.png")
                        drawn = api.status_code == 200 and _drawn(api.data)
                        assert drawn == ((z, x, y) in tiles), (sid, z, x, y)
    print(f"{compared} archived sheet tiles equal to the API's")
    assert compared >= 10

    # Nothing changed: kept. The first sheet's COG touched: only it is written again.
    assert all(p.skipped for p in sheets_static.publish_sheets(demo, out, max_tiles=5000)[0])
    first = out / "sheets" / f"{ids[0]}.pmtiles"
    stamps = {i: (out / "sheets" / f"{i}.pmtiles").stat().st_mtime_ns for i in ids}
    with db.get_engine(demo).connect() as conn:
        cog_path = conn.execute(text("SELECT cog_path FROM map_sheets WHERE id = :i"),
                                {"i": ids[0]}).scalar_one()
    cog = serving_path(catalogue.cog_file(cog_path, demo))  # the file tiles are cut from
    st = os.stat(cog)
    os.utime(cog, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again, _ = sheets_static.publish_sheets(demo, out, max_tiles=5000)
    assert [p.skipped for p in again] == [False] + [True] * (len(ids) - 1)
    assert first.stat().st_mtime_ns != stamps[ids[0]]
    assert all((out / "sheets" / f"{i}.pmtiles").stat().st_mtime_ns == stamps[i]
               for i in ids[1:])

    # A sheet withdrawn from publication loses its archive (and only it).
    engine = db.get_engine(demo)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE map_sheets SET state = 'georeferenced' WHERE id = :i"),
                         {"i": ids[0]})
        done, gone = sheets_static.publish_sheets(demo, out, max_tiles=5000)
        assert gone == [f"sheet {ids[0]}"] and not first.exists()
        assert not (out / "sheets" / f"{ids[0]}.json").exists()
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE map_sheets SET state = 'published' WHERE id = :i"),
                         {"i": ids[0]})
    assert not list(out.rglob(".*partial"))


def test_publish_command_refuses_bad_input_with_one_line(demo, tmp_path):
    env = {**os.environ, "PLANNING_DATABASE_URL": demo.database_url,
           "PLANNING_DATA_DIR": demo.data_dir, "PYTHONPATH": str(PROJECT_ROOT)}
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [[str(a_file)], [str(a_file / "under")], [""],
             [str(tmp_path / "ok"), "--sheet", "999999"],
             [str(tmp_path / "ok"), "--sheet", "x"],
             [str(tmp_path / "ok"), "--sheet", "1", "--max-tiles", "0"],
             [str(tmp_path / "ok"), "--sheet", "1", "--no-sheets"]]
    if os.geteuid() != 0:  # root writes anywhere: the mode check only means something for others
        cases.append([str(locked / "out")])
    for args in cases:
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "publish",
                               "static", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 or done.stderr.startswith("usage:"), (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "ok" / "sheets").exists() or not any((tmp_path / "ok" / "sheets").iterdir())
    # The sheets only, named: written; the vector layers untouched.
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "publish",
                           "static", str(tmp_path / "one"), "--sheet",
                           str(_first_sheet(demo)), "--max-tiles", "2000"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sheet {_first_sheet(demo)}: ")
    assert list((tmp_path / "one").glob("*.pmtiles")) == []
    assert (tmp_path / "one" / "sheets" / f"{_first_sheet(demo)}.pmtiles").is_file()


def _first_sheet(demo) -> int:
    with db.get_engine(demo).connect() as conn:
        return conn.execute(sheets_static.SHEETS_SQL).first().id
