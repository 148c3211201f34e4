"""The OpenAPI document lists every endpoint; the docs page is generated from it."""

from __future__ import annotations

import re


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


#: Route prefixes that are not public API (the workspace and its sign-in, static files).
PRIVATE = ("/quan-tri", "/dang-nhap", "/dang-xuat", "/static")


def _as_openapi_path(rule: str) -> str:
    """``/tiles/<layer>/<z>/<x>/<y>.mvt`` -> ``/tiles/{}/{}/{}/{}.mvt``: names aside, same path."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "{}", rule)


def test_every_public_route_is_in_the_document(app, client):
    """Enumerates the app's own routes: a new public endpoint not documented fails here."""
    spec = client.get("/api/openapi.json").get_json()
    documented = {(re.sub(r"\{[^}]+\}", "{}", path), method.upper())
                  for path, ops in spec["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PRIVATE):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (_as_openapi_path(rule.rule), method) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"public routes missing from /api/openapi.json: {missing}"


def test_document_agrees_with_the_server(client):
    """Tile zoom within the grid, the error shapes and statuses the server really answers."""
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    mvt = paths["/tiles/{layer}/{z}/{x}/{y}.mvt"]["get"]
    z = next(p for p in mvt["parameters"] if p["name"] == "z")["schema"]
    assert z["minimum"] == 0 and z["maximum"] == 24
    for path, ops in paths.items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"400", "413", "414", "503"} <= codes, (method, path)
            # an answer, or (posts of the exchange) a creation or a noted report
            assert codes & {"200", "201", "202"}, (method, path)
            if method == "post":
                assert op["requestBody"]["required"]
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "detail_vi"]
    offset = next(p for p in paths["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
                  if p["name"] == "offset")["schema"]
    assert offset["maximum"] < 2**63
