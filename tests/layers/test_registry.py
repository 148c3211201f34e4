"""One registry feeds every output: a dataset declared once appears in MVT, OGC and OpenAPI."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from layers import registry
from layers.registry import Dataset, Field
from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

pytestmark = pytest.mark.db

TMS = get_tms("WebMercatorQuad")

#: A throw-away dataset: the green zones (cây xanh) as a layer of their own.
PARKS = Dataset(
    "parks_test", "Parks (test)", "Cây xanh (thử)", "Green zones, declared by a test",
    "land_use_zones t",
    {"label": Field("t.label", title_vi="Ký hiệu", title="Label", queryable=True),
     "floors_max": Field("t.floors_max", "integer", title_vi="Tầng cao", title="Floors")},
    "MultiPolygon", indexed_table="land_use_zones", where="t.function_code = 'CX'",
    minzoom=10, edition="zones",
)


@pytest.fixture
def parks(city) -> Iterator[Dataset]:
    registry.register(PARKS)
    try:
        yield PARKS
    finally:
        registry.unregister(PARKS.id)


@pytest.fixture
def parks_server(demo, parks) -> Iterator[str]:
    """A real HTTP server (werkzeug's, in a thread) of an app that has the dataset."""
    from server import create_app

    app = create_app(demo)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_registered_dataset_is_served_as_tiles_features_and_documented(parks, city_client,
                                                                          conn):
    expected = {r.label for r in conn.execute(
        text("SELECT label FROM land_use_zones WHERE function_code = 'CX'"))}
    assert expected, "the sample city has green zones"
    t = TMS.tile(*CENTRE_LONLAT, 13)
    tile = city_client.get(f"/tiles/parks_test/{t.z}/{t.x}/{t.y}.mvt")
    assert tile.status_code == 200, tile.get_data(as_text=True)
    layer = mapbox_vector_tile.decode(tile.data)["parks_test"]
    assert {f["properties"]["label"] for f in layer["features"]} <= expected
    assert layer["features"]
    tilejson = city_client.get("/tiles/parks_test/tilejson.json").get_json()
    assert tilejson["vector_layers"][0]["fields"] == {"label": "String", "floors_max": "Number"}

    items = city_client.get("/ogc/collections/parks_test/items?limit=1000").get_json()
    assert {f["properties"]["label"] for f in items["features"]} == expected
    q = city_client.get("/ogc/collections/parks_test/queryables").get_json()
    assert set(q["properties"]) == {"label"}

    spec = city_client.get("/api/openapi.json").get_json()
    assert "/ogc/collections/parks_test/items" in spec["paths"]
    mvt_params = spec["paths"]["/tiles/{layer}/{z}/{x}/{y}.mvt"]["get"]["parameters"]
    assert "parks_test" in next(p for p in mvt_params if p["name"] == "layer")["schema"]["enum"]

    registry.unregister(PARKS.id)
    assert city_client.get("/ogc/collections/parks_test").status_code == 404
    assert city_client.get(f"/tiles/parks_test/{t.z}/{t.x}/{t.y}.mvt").status_code == 404


def test_gdal_reads_a_registered_dataset(parks_server, conn):
    count = conn.execute(
        text("SELECT count(*) FROM land_use_zones WHERE function_code = 'CX'")).scalar_one()
    out = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{parks_server}/ogc", "parks_test"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"Feature Count: {count}" in out.stdout, out.stdout
    assert "label" in out.stdout


def test_a_dataset_id_must_be_a_plain_name():
    with pytest.raises(ValueError):
        registry.register(Dataset("../x", "x", "x", "x", "plans t", {}, "Polygon"))
    with pytest.raises(ValueError):
        registry.register(Dataset("x", "x", "x", "x", "plans t", {}, "Polygon",
                                  outputs=frozenset({"wms"})))
