"""Raster tile endpoints through Flask: sheets, mosaic, TileJSON, empty tiles, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

TMS = get_tms("WebMercatorQuad")


def _centre(z: int) -> str:
    t = TMS.tile(*CENTRE_LONLAT, z)
    return f"{t.z}/{t.x}/{t.y}"


@pytest.mark.parametrize("ext,mime", [("png", "image/png"), ("webp", "image/webp")])
def test_sheet_tile(city, city_client, ext, mime):
    r = city_client.get(f"/tiles/sheets/{city.ids['sheet']}/{_centre(17)}.{ext}")
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == mime
    assert "max-age" in r.headers["Cache-Control"] and r.headers["ETag"]
    img = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))
    assert img.shape == (256, 256, 4) and img[..., 3].max() == 255


def test_tile_outside_sheet_is_204(city, city_client):
    t = TMS.tile(105.5, 21.2, 17)
    r = city_client.get(f"/tiles/sheets/{city.ids['sheet']}/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 204 and r.data == b""


def test_tilejson(city, city_client):
    r = city_client.get(f"/tiles/sheets/{city.ids['sheet']}/tilejson.json")
    doc = r.get_json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith(f"/tiles/sheets/{city.ids['sheet']}/{{z}}/{{x}}/{{y}}.png")
    w, s, e, n = doc["bounds"]
    assert w < CENTRE_LONLAT[0] < e and s < CENTRE_LONLAT[1] < n
    assert doc["minzoom"] <= doc["maxzoom"]


def test_plan_mosaic(city, city_client):
    r = city_client.get(f"/tiles/plans/{city.ids['detailed']}/mosaic/{_centre(17)}.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    t = TMS.tile(105.5, 21.2, 17)
    r = city_client.get(f"/tiles/plans/{city.ids['detailed']}/mosaic/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 204


@pytest.mark.parametrize(
    "path,status,code",
    [
        ("/tiles/sheets/{sheet}/a/1/1.png", 400, "invalid_tile"),
        ("/tiles/sheets/{sheet}/3/8/1.png", 400, "invalid_tile"),
        ("/tiles/sheets/{sheet}/30/1/1.png", 400, "invalid_tile"),
        ("/tiles/sheets/{sheet}/3/1/1.gif", 400, "invalid_input"),
        ("/tiles/sheets/999999/17/1/1.png", 404, "not_found"),
        ("/tiles/sheets/abc/17/1/1.png", 404, "not_found"),
        ("/tiles/sheets/999999/tilejson.json", 404, "not_found"),
        ("/tiles/plans/999999/mosaic/17/1/1.png", 404, "not_found"),
        ("/tiles/plans/{master}/mosaic/17/1/1.png", 404, "not_found"),
    ],
)
def test_bad_requests_are_json(city, city_client, path, status, code):
    r = city_client.get(path.format(sheet=city.ids["sheet"], master=city.ids["master"]))
    assert r.status_code == status
    body = r.get_json()
    assert body["code"] == code and body["detail"] and body["detail_vi"]


@pytest.fixture
def lost_cog(city, demo):
    """The city's sheet with its COG path pointing at a file that is not on disk (restored)."""
    from sqlalchemy import text

    from planning_gis.db import session_scope

    sid = city.ids["sheet"]
    with session_scope(demo) as s:
        old = s.execute(text("SELECT cog_path FROM map_sheets WHERE id = :id"),
                        {"id": sid}).scalar_one()
        s.execute(text("UPDATE map_sheets SET cog_path = 'lost/missing-sheet.tif' WHERE id = :id"),
                  {"id": sid})
    try:
        yield sid
    finally:
        with session_scope(demo) as s:
            s.execute(text("UPDATE map_sheets SET cog_path = :p WHERE id = :id"),
                      {"p": old, "id": sid})


def test_a_cog_missing_on_disk_is_our_500_with_a_logged_reference(lost_cog, city_client, caplog):
    """It was a 400 (the client blamed for our missing file); now a 5xx whose ``ref`` is logged."""
    import logging

    with caplog.at_level(logging.ERROR):
        r = city_client.get(f"/tiles/sheets/{lost_cog}/{_centre(17)}.png")
    assert r.status_code == 500
    doc = r.get_json()
    assert doc["code"] == "stored_file_unreadable" and doc["detail_vi"] and len(doc["ref"]) == 8
    assert f"ref {doc['ref']}" in caplog.text
    assert "missing-sheet" not in doc["detail"]  # no path of ours in the answer


def test_no_data_is_204_for_raster_and_vector_tiles_alike(city, city_client):
    """One status for "nothing there": the error map says 204 for TileOutsideBounds too."""
    from planning_gis.errors import TileOutsideBounds
    from planning_gis.web.errors import status_for

    assert status_for(TileOutsideBounds("x")) == 204
    t = TMS.tile(105.5, 21.2, 17)
    raster = city_client.get(f"/tiles/sheets/{city.ids['sheet']}/{t.z}/{t.x}/{t.y}.png")
    vector = city_client.get(f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt")
    assert raster.status_code == vector.status_code == 204
    assert raster.headers["Cache-Control"] == vector.headers["Cache-Control"]
