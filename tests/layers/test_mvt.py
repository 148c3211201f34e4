"""Vector tiles: decoded with mapbox-vector-tile, properties checked, GiST index used."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from layers import registry
from layers.mvt import render_tile, tile_params, tile_sql
from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

TMS = get_tms("WebMercatorQuad")


def _decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body)


def test_zones_tile_carries_indicators_and_colour(city, city_client):
    t = TMS.tile(*CENTRE_LONLAT, 16)
    r = city_client.get(f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt")
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    layer = _decode(r.data)["zones"]
    assert layer["extent"] == 4096
    by_label = {f["properties"]["label"]: f for f in layer["features"]}
    ct1 = by_label["CT-1"]["properties"]
    assert ct1["function_code"] == "NO" and ct1["color"].startswith("#")
    assert ct1["plan_id"] == city.ids["detailed"] and ct1["far"] == 2.5
    assert ct1["floors_max"] == 9 and ct1["coverage_pct"] == 40.0
    assert by_label["CT-1"]["id"] == city.ids["zone:CT-1"]
    assert by_label["CT-1"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


@pytest.mark.parametrize("layer,key", [("redlines", "road_name"), ("plans", "kind"),
                                       ("units", "name")])
def test_other_layers(city, city_client, layer, key):
    t = TMS.tile(*CENTRE_LONLAT, 13)
    r = city_client.get(f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.mvt")
    assert r.status_code == 200
    feats = _decode(r.data)[layer]["features"]
    assert feats and all(key in f["properties"] for f in feats)
    if layer == "units":  # only the current unit, not the one abolished in 2025
        assert "Quận Mẫu Cũ" not in {f["properties"]["name"] for f in feats}
        assert "Phường Mẫu Mới" in {f["properties"]["name"] for f in feats}


def test_simplification_shrinks_low_zoom_tiles(city, conn, settings):
    layer = registry.get("plans", registry.MVT)
    hi = render_tile(conn, layer, TMS, TMS.tile(*CENTRE_LONLAT, 16), settings)
    assert hi and _decode(hi)["plans"]["features"]
    p11 = tile_params(layer, TMS, TMS.tile(*CENTRE_LONLAT, 11), settings)
    p16 = tile_params(layer, TMS, TMS.tile(*CENTRE_LONLAT, 16), settings)
    assert p11["tolerance"] == pytest.approx(p16["tolerance"] * 32)


def test_empty_outside_hanoi_and_below_minzoom(city, city_client):
    t = TMS.tile(100.0, 15.0, 14)
    assert city_client.get(f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt").status_code == 204
    assert city_client.get("/tiles/zones/3/6/3.mvt").status_code == 204  # below minzoom 10


@pytest.mark.parametrize("name", registry.ids(registry.MVT))
def test_explain_uses_gist_index(city, conn, settings, name):
    """Every layer's one SQL uses the table's GiST index for the tile's search box."""
    layer = registry.get(name, registry.MVT)
    params = tile_params(layer, TMS, TMS.tile(*CENTRE_LONLAT, 15), settings)
    # The test tables are tiny (a few hundred rows, 15 at one point of a full run): the planner
    # would rightly read them in sequence, or in primary-key order. With both switched off, only
    # an index that matches the search box can serve it: if the expression drifted from the
    # GiST index, no plan could use it.
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    conn.execute(text("SET LOCAL enable_indexscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + tile_sql(layer).text), params))
    table = layer.indexed_table
    assert f"idx_{table}_geom" in plan, plan
    assert "Index" in plan


@pytest.mark.parametrize("zoom", [10, 12, 14, 16])
def test_each_feature_is_clipped_once(city, conn, settings, zoom):
    """The outer ``geom IS NOT NULL`` stays outside the SELECTs: pushed into them, every
    feature was clipped by ST_AsMVTGeom in a filter and again for the output."""
    layer = registry.get("zones", registry.MVT)
    params = tile_params(layer, TMS, TMS.tile(*CENTRE_LONLAT, zoom), settings)
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN " + tile_sql(layer, zoom).text), params))
    filters = [line for line in plan.splitlines() if "Filter:" in line]
    assert not any("st_asmvtgeom" in line for line in filters), plan


def test_tilejson_and_style(city, city_client):
    doc = city_client.get("/tiles/zones/tilejson.json").get_json()
    assert doc["tiles"][0].endswith("/tiles/zones/{z}/{x}/{y}.mvt")
    assert doc["vector_layers"][0]["fields"]["far"] == "Number"
    w, s, e, n = doc["bounds"]
    assert w < CENTRE_LONLAT[0] < e and s < CENTRE_LONLAT[1] < n
    style = city_client.get("/tiles/style.json").get_json()
    assert style["version"] == 8 and set(style["sources"]) == set(registry.ids(registry.MVT))
    fill = next(lyr for lyr in style["layers"] if lyr["id"] == "zones")
    match = fill["paint"]["fill-color"]
    assert match[0] == "match" and "CX" in match


@pytest.mark.parametrize("path,status", [
    ("/tiles/nope/14/1/1.mvt", 404), ("/tiles/zones/x/1/1.mvt", 400),
    ("/tiles/zones/14/99999/1.mvt", 400), ("/tiles/zones/-1/0/0.mvt", 400),
    ("/tiles/nope/tilejson.json", 404),
])
def test_bad_vector_tile_requests(city_client, path, status):
    r = city_client.get(path)
    assert r.status_code == status
    assert {"code", "detail", "detail_vi"} <= set(r.get_json())
