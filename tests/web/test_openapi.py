"""The OpenAPI document lists every endpoint; the docs page is generated from it."""

from __future__ import annotations


def test_openapi_lists_everything(city_client):
    r = city_client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/vnd.oai.openapi+json"
    spec = r.get_json()
    assert spec["openapi"].startswith("3.0")
    paths = spec["paths"]
    for p in ("/ogc/collections/{collectionId}/items", "/tiles/{layer}/{z}/{x}/{y}.mvt",
              "/tiles/sheets/{sheetId}/{z}/{x}/{y}.{format}", "/api/lookup",
              "/tiles/plans/{planId}/mosaic/{z}/{x}/{y}.{format}", "/ogc/collections/zones/items"):
        assert p in paths
    assert "post" in paths["/api/lookup"]
    names = {p["name"] for p in paths["/ogc/collections/zones/items"]["get"]["parameters"]}
    assert {"bbox", "limit", "function_code"} <= names


def test_docs_page_is_offline_html(city_client):
    r = city_client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "/api/lookup" in page and "<script" not in page and "http" not in page.split("<body>")[0]
