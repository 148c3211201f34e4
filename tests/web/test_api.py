"""The first page and the small API, through the real gunicorn server."""

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.db


def _get(url, accept="application/json"):
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_health_reports_database_and_postgis_versions(live_server):
    status, _, body = _get(f"{live_server}/api/health")
    doc = json.loads(body)
    assert status == 200
    assert doc["database"]["postgresql"].startswith("15")
    assert doc["database"]["postgis"].startswith("3.")
    assert doc["counts"]["zones"] > 0


def test_index_page_is_vietnamese_and_uses_our_own_assets(live_server):
    status, headers, body = _get(f"{live_server}/", accept="text/html")
    html = body.decode("utf-8")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<html lang="vi">' in html and "Bản đồ quy hoạch Hà Nội" in html
    assert "minh họa" in html
    assert "http://" not in html.replace(live_server, "") and "https://" not in html
    status, _, _ = _get(f"{live_server}/static/vendor/leaflet/leaflet.js")
    assert status == 200


def test_zones_geojson_carries_legend_colours(live_server):
    status, _, body = _get(f"{live_server}/api/zones.geojson")
    fc = json.loads(body)
    assert status == 200 and fc["features"]
    props = fc["features"][0]["properties"]
    assert props["color"].startswith("#") and props["name_vi"]


@pytest.mark.parametrize("bbox", ["a,b,c,d", "1,2,3", "106,21,105,20"])
def test_bad_bbox_is_a_json_400(live_server, bbox):
    status, headers, body = _get(f"{live_server}/api/zones.geojson?bbox={bbox}")
    assert status == 400
    doc = json.loads(body)
    assert doc["code"] == "invalid_bbox" and doc["detail"] and doc["detail_vi"]


def test_unknown_page_is_a_vietnamese_html_404(live_server):
    status, _, body = _get(f"{live_server}/khong-co", accept="text/html")
    assert status == 404 and "Không tìm thấy" in body.decode()


def test_unknown_api_path_is_a_json_404(live_server):
    status, _, body = _get(f"{live_server}/api/khong-co", accept="text/html")
    assert status == 404 and json.loads(body)["code"] == "not_found"


def test_published_sheets_are_the_public_apis_and_their_tile_urls_are_the_routes(app, client):
    """/api/sheets is the public API blueprint's (it was the workspace's), and the tile URL it
    hands out is built from the same template as the raster tile route."""
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/api/sheets")[0] == "api.sheets"
    for row in client.get("/api/sheets").get_json():
        path = row["tiles"].format(z=17, x=1, y=2)
        endpoint, args = adapter.match(path)
        assert endpoint == "raster_tiles.sheet_tile" and args["sheet_id"] == str(row["id"])
