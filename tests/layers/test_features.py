"""OGC API – Features: shapes, paging, filters, CRS, errors, GiST use, and GDAL's OAPIF driver."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import text

from layers import registry
from layers.features import ItemsQuery, items_sql
from tests.serving_data import CENTRE_LONLAT, E0, N0

SPAT = "105.795 21.025 105.805 21.035"


def test_landing_conformance_collections(city_client):
    links = {ln["rel"]: ln for ln in city_client.get("/ogc").get_json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    conf = city_client.get("/ogc/conformance").get_json()["conformsTo"]
    assert any(c.endswith("conf/geojson") for c in conf)
    cols = city_client.get("/ogc/collections").get_json()["collections"]
    assert {c["id"] for c in cols} == set(registry.ids(registry.OGC))


def test_collection_extent_and_crs(city, city_client):
    doc = city_client.get("/ogc/collections/zones").get_json()
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    assert w < CENTRE_LONLAT[0] < e and s < CENTRE_LONLAT[1] < n
    assert "http://www.opengis.net/def/crs/EPSG/0/5897" in doc["crs"]
    assert doc["storageCrs"].endswith("/5897")


def test_items_paging_with_next_links(city, city_client):
    url = f"/ogc/collections/zones/items?limit=5&plan_id={city.ids['detailed']}"
    seen = []
    pages = 0
    while url:
        r = city_client.get(url)
        assert r.mimetype == "application/geo+json"
        doc = r.get_json()
        assert doc["numberMatched"] == 4 or pages > 0
        assert doc["numberReturned"] == len(doc["features"])
        seen += [f["properties"]["label"] for f in doc["features"]]
        nxt = [ln["href"] for ln in doc["links"] if ln["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
        pages += 1
    assert sorted(seen) == ["CT-1", "CT-2", "CT-3", "CT-4"]
    doc = city_client.get("/ogc/collections/zones/items?limit=2&offset=0").get_json()
    assert doc["numberReturned"] == 2 and doc["numberMatched"] > 2
    assert any(ln["rel"] == "next" for ln in doc["links"])


def test_bbox_and_property_filter(city, city_client):
    bbox = "105.795,21.025,105.805,21.035"
    doc = city_client.get(f"/ogc/collections/zones/items?bbox={bbox}&function_code=TH"
                          "&limit=100").get_json()
    labels = {f["properties"]["label"] for f in doc["features"]}
    assert "CT-3" in labels and all(f["properties"]["function_code"] == "TH"
                                    for f in doc["features"])
    # the same box given in EPSG:5897 (x = easting) finds the same zones
    b5897 = f"{E0 - 500},{N0 - 500},{E0 + 500},{N0 + 500}"
    doc2 = city_client.get(f"/ogc/collections/zones/items?bbox={b5897}&bbox-crs=EPSG:5897"
                           f"&label=CT-3").get_json()
    assert [f["properties"]["label"] for f in doc2["features"]] == ["CT-3"]
    # EPSG:4326 bbox is lat,lon
    doc3 = city_client.get("/ogc/collections/zones/items?bbox=21.025,105.795,21.035,105.805"
                           "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326&label=CT-3"
                           ).get_json()
    assert doc3["numberMatched"] == 1


@pytest.mark.parametrize("crs,check", [
    (None, lambda x, y: 105 < x < 106 and 20 < y < 22),
    ("EPSG:4326", lambda x, y: 20 < x < 22 and 105 < y < 106),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", lambda x, y: 1.1e7 < x < 1.2e7),
    ("EPSG:5897", lambda x, y: abs(x - E0) < 1000 and abs(y - N0) < 1000),
])
def test_output_crs(city, city_client, crs, check):
    q = f"?crs={crs}" if crs else ""
    r = city_client.get(f"/ogc/collections/zones/items/{city.ids['zone:CT-1']}{q}")
    assert r.status_code == 200
    x, y = r.get_json()["geometry"]["coordinates"][0][0][0]
    assert check(x, y), (x, y)
    assert r.headers["Content-Crs"].startswith("<http")


@pytest.mark.parametrize("path,status,code", [
    ("/ogc/collections/nope", 404, "not_found"),
    ("/ogc/collections/nope/items", 404, "not_found"),
    ("/ogc/collections/zones/items/999999999", 404, "not_found"),
    ("/ogc/collections/zones/items/abc", 404, "not_found"),
    ("/ogc/collections/zones/items?bbox=1,2,3", 400, "invalid_bbox"),
    ("/ogc/collections/zones/items?bbox=a,b,c,d", 400, "invalid_bbox"),
    ("/ogc/collections/zones/items?bbox=106,21,105,22", 400, "invalid_bbox"),
    ("/ogc/collections/zones/items?limit=x", 400, "invalid_input"),
    ("/ogc/collections/zones/items?limit=0", 400, "invalid_input"),
    ("/ogc/collections/zones/items?offset=-1", 400, "invalid_input"),
    # issue 12: a bigint offset and a NUL byte in a filter were 500s
    ("/ogc/collections/zones/items?offset=9223372036854775808", 400, "invalid_input"),
    ("/ogc/collections/zones/items?offset=10000001", 400, "invalid_input"),
    ("/ogc/collections/zones/items?label=a%00b", 400, "invalid_input"),
    ("/ogc/collections/plans/items?name=%00", 400, "invalid_input"),
    ("/ogc/collections/zones/items?crs=EPSG:9999999", 400, "unknown_crs"),
    ("/ogc/collections/zones/items?bbox-crs=EPSG:5897", 400, "invalid_input"),
    ("/ogc/collections/zones/items?colour=red", 400, "unknown_parameter"),
    ("/ogc/collections/zones/items?plan_id=abc", 400, "invalid_input"),
    ("/ogc/collections/zones/items?f=html", 400, "invalid_input"),
])
def test_bad_ogc_requests(city_client, path, status, code):
    r = city_client.get(path)
    assert r.status_code == status, r.data
    body = r.get_json()
    assert body["code"] == code and body["detail"] and body["detail_vi"]


@pytest.mark.parametrize("cid,prop,stored", [
    ("units", "name", "Phường Mẫu Mới"),
    ("redlines", "road_name", "Đường Mẫu"),
])
def test_property_filter_finds_nfc_text_typed_in_nfd(city, city_client, cid, prop, stored):
    """A keyboard that sends decomposed Vietnamese (NFD) still finds the NFC-stored value."""
    typed = unicodedata.normalize("NFD", stored)
    assert typed != stored
    doc = city_client.get(f"/ogc/collections/{cid}/items", query_string={prop: typed}).get_json()
    assert doc["numberMatched"] >= 1
    assert {f["properties"][prop] for f in doc["features"]} == {stored}


def test_bbox_outside_hanoi_is_empty(city_client):
    doc = city_client.get("/ogc/collections/zones/items?bbox=0,0,1,1").get_json()
    assert doc["numberMatched"] == 0 and doc["features"] == []


@pytest.mark.parametrize("cid", registry.ids(registry.OGC))
def test_items_bbox_uses_gist_index(city, conn, cid):
    c = registry.get(cid, registry.OGC)
    names = tuple(list(c.queryables)[:1])
    sql = items_sql(c, names, True, False, False)
    q = ItemsQuery(limit=10)
    params = {"limit": 10, "offset": 0, "out_srid": 4326, "digits": q.digits, "count_cap": 10001,
              "bxmin": 105.79, "bymin": 21.02, "bxmax": 105.81, "bymax": 21.04,
              "bbox_srid": 4326, "f0": "x" if c.fields[names[0]].type == "string" else 1}
    # tiny test tables: without this the planner would (rightly) seq-scan them
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql.text), params))
    table = c.indexed_table
    column = c.geom_sql.split(".")[1]
    assert f"idx_{table}_{column}" in plan, plan


def _ogrinfo(*args: str) -> str:
    out = subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_ogrinfo_reads_the_service(city, live_server):
    summary = _ogrinfo("-ro", "-so", f"OAPIF:{live_server}/ogc")
    for cid in registry.ids(registry.OGC):
        assert cid in summary
    zones = _ogrinfo("-ro", "-so", f"OAPIF:{live_server}/ogc", "zones")
    assert "Feature Count" in zones and "function_code" in zones


def test_gdal_ogrinfo_where_and_spat(city, live_server):
    out = _ogrinfo("-ro", "-q", f"OAPIF:{live_server}/ogc", "zones",
                   "-where", "label = 'CT-3'")
    assert "CT-3" in out and "CT-1" not in out
    out = _ogrinfo("-ro", "-q", f"OAPIF:{live_server}/ogc", "zones",
                   "-spat", *SPAT.split(), "-where", "function_code = 'TH'")
    assert "CT-3" in out and "function_code (String) = TH" in out


def test_qgis_reads_the_service(city, live_server, conn):
    """QGIS's own OAPIF provider (Debian's python3-qgis, headless) loads the collections."""
    probe = Path(__file__).with_name("qgis_oapif_probe.py")
    box = ",".join(SPAT.split())
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=tempfile.gettempdir())
    out = subprocess.run(["/usr/bin/python3", str(probe), live_server, box, "zones", "plans",
                          "redlines"], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(layer["valid"] for layer in got.values()), got
    zones = got["zones"]
    assert zones["crs"] == "EPSG:4326"
    total = conn.execute(text("SELECT count(*) FROM land_use_zones")).scalar_one()
    assert zones["count"] == zones["all_features"] == total
    assert {"label", "function_code", "name_vi", "floors_max", "far"} <= set(zones["fields"])
    by_label = {f["label"]: f for f in zones["in_box"]}
    assert {"CT-1", "CT-3"} <= set(by_label)
    assert by_label["CT-3"]["function_code"] == "TH"
    name = conn.execute(text("SELECT name_vi FROM land_use_legend WHERE code = 'TH'")).scalar_one()
    assert by_label["CT-3"]["name_vi"] == unicodedata.normalize("NFC", name)
    assert got["plans"]["count"] == conn.execute(
        text("SELECT count(*) FROM plans WHERE geom IS NOT NULL")).scalar_one()


def test_next_links_page_by_keyset_through_every_feature(city, city_client, conn):
    """Following ``next`` from the first page visits every zone once, in id order, and each next
    link names the last id shown (``after``), not an offset that grows with depth."""
    ids = [r[0] for r in conn.execute(text("SELECT id FROM land_use_zones ORDER BY id"))]
    url, seen, pages = "/ogc/collections/zones/items?limit=50", [], 0
    while url:
        doc = city_client.get(url).get_json()
        got = [f["id"] for f in doc["features"]]
        assert got == sorted(got) and doc["numberReturned"] == len(got)
        seen += got
        nxt = [ln["href"] for ln in doc["links"] if ln["rel"] == "next"]
        if nxt:
            assert f"after={got[-1]}" in nxt[0] and "offset=" not in nxt[0]
        url = nxt[0].replace("http://localhost", "") if nxt else None
        pages += 1
    assert seen == ids and pages == -(-len(ids) // 50)


def test_after_keeps_the_filters_and_is_validated(city, city_client):
    plan = city.ids["detailed"]
    first = city_client.get(f"/ogc/collections/zones/items?limit=2&plan_id={plan}").get_json()
    nxt = next(ln["href"] for ln in first["links"] if ln["rel"] == "next")
    assert f"plan_id={plan}" in nxt
    second = city_client.get(nxt.replace("http://localhost", "")).get_json()
    assert second["numberMatched"] == first["numberMatched"] == 4
    assert {f["properties"]["plan_id"] for f in second["features"]} == {plan}
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}
    for bad in ("-1", "x", "9223372036854775808"):
        r = city_client.get(f"/ogc/collections/zones/items?after={bad}")
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_input"


def test_number_matched_is_left_out_past_the_count_cap(city, demo):
    import dataclasses

    from server import create_app

    client = create_app(dataclasses.replace(demo, ogc_count_cap=3)).test_client()
    doc = client.get("/ogc/collections/zones/items?limit=2").get_json()
    assert "numberMatched" not in doc and doc["numberReturned"] == 2
    assert any(ln["rel"] == "next" for ln in doc["links"])
    small = client.get(f"/ogc/collections/zones/items?limit=2&plan_id={city.ids['detailed']}")
    assert "numberMatched" not in small.get_json()  # 4 > 3: not counted either
    exact = client.get("/ogc/collections/zones/items?limit=2&label=CT-1").get_json()
    assert exact["numberMatched"] == 1


def test_keyset_page_reads_the_id_index(city, conn):
    c = registry.get("zones", registry.OGC)
    sql = items_sql(c, (), False, False, False, keyset=True)
    params = {"limit": 50, "offset": 0, "out_srid": 4326, "digits": 7, "count_cap": 10001,
              "after": 100}
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql.text), params))
    # the page starts at the key in the id index: no scan of the rows before it
    assert "Index Scan using pk_land_use_zones" in plan and "Index Cond: (id > " in plan, plan
