"""Point and plot look-up: both axis conventions, refusals, governing order, plot shares."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import time

import pytest
from sqlalchemy import text

from layers.editions import layer_edition
from layers.lookup import (
    DOCUMENTS_SQL,
    PLOT_PLANS_SQL,
    PLOT_ZONES_SQL,
    POINT_ROWS_SQL,
    REGISTER_SQL,
)
from planning_gis.crs import vn2000_to_lonlat
from planning_gis.db import get_engine
from planning_gis.web.lookup import KeptLookupFastPath
from tests.serving_data import E0, N0, app_client, value_changed


def _point(city):
    e, n = city.point_detailed
    return e, n, *vn2000_to_lonlat(e, n)


def _check_answer(doc, city):
    plans = doc["plans"]
    assert plans[0]["id"] == city.ids["detailed"] and plans[0]["role"] == "governing"
    assert doc["governing_plan_id"] == city.ids["detailed"]
    by_id = {p["id"]: p for p in plans}
    old = by_id[city.ids["old_detailed"]]
    assert old["superseded"] and old["role"] == "superseded" and not old["in_force"]
    assert old["superseded_by"] == city.ids["detailed"]
    assert by_id[city.ids["draft"]]["role"] == "draft"
    roles = [p["role"] for p in plans]
    # governing, then the other plans in force (zoning, master), then drafts, then superseded
    assert roles.index("draft") > roles.index("in_force")
    assert roles.index("superseded") > roles.index("draft")
    assert by_id[city.ids["zoning"]]["role"] == "in_force"
    zone = plans[0]["zones"][0]
    assert zone["label"] == "CT-1" and zone["indicators"]["far"] == 2.5
    assert zone["legend"]["name_vi"] and zone["legend"]["name_en"]
    acc = zone["accuracy"]
    assert acc["basis"] == "check_points" and acc["error_m"] == 0.8 and acc["loo_rmse_m"] == 1.1
    assert plans[0]["decision"]["number"] == "4321/QĐ-UBND"
    docs = plans[0]["documents"]
    assert docs and docs[0]["type"] == "quyet_dinh" and docs[0]["href"].startswith("http")
    assert zone["source"]["href"].endswith(f"/ogc/collections/zones/items/{zone['id']}")


def test_lookup_lonlat(city, city_client):
    _, _, lon, lat = _point(city)
    r = city_client.get(f"/api/lookup?lon={lon}&lat={lat}")
    assert r.status_code == 200, r.get_json()
    _check_answer(r.get_json(), city)


def test_lookup_vn2000_in_vietnamese_order(city, city_client):
    e, n, _, _ = _point(city)
    doc = city_client.get(f"/api/lookup?x_north={n}&y_east={e}").get_json()
    _check_answer(doc, city)
    assert doc["query"]["x_north"] == pytest.approx(n, abs=0.01)
    doc = city_client.get(f"/api/lookup?x_north={n}&y_east={e}&crs=EPSG:5897").get_json()
    assert doc["governing_plan_id"] == city.ids["detailed"]


def test_lookup_on_a_past_date_finds_the_old_plan_governing(city, city_client):
    _, _, lon, lat = _point(city)
    doc = city_client.get(f"/api/lookup?lon={lon}&lat={lat}&date=2015-06-01").get_json()
    assert doc["governing_plan_id"] == city.ids["old_detailed"]


def test_lookup_without_plans(city_client):
    doc = city_client.get("/api/lookup?lon=105.30&lat=20.60").get_json()
    assert doc["plans"] == [] and doc["message_vi"]


@pytest.mark.parametrize("query,code,words", [
    ("lon=21.03&lat=105.80", "outside_hanoi", "swapped"),
    ("x_north={e}&y_east={n}", "outside_hanoi", "swapped"),
    ("lon=2.35&lat=48.85", "outside_hanoi", "outside Hanoi"),
    ("x_north=1000&y_east=2000", "outside_hanoi", "both axis readings"),
    ("lon=abc&lat=21", "invalid_input", "number"),
    ("lon=nan&lat=21", "invalid_input", "finite"),
    ("lon=105.8", "invalid_input", "number"),
    ("", "invalid_input", "either"),
    ("lon=105.8&lat=21&x_north=1&y_east=2", "invalid_input", "either"),
    ("x_north={n}&y_east={e}&crs=EPSG:99999", "unknown_crs", "CRS"),
    ("x_north={n}&y_east={e}&crs=EPSG:4326", "invalid_input", "geographic"),
    ("lon=105.8&lat=21&crs=EPSG:5897", "invalid_input", "crs"),
    ("lon=105.8&lat=21&date=yesterday", "invalid_input", "date"),
    ("lon=105.8&lat=21&zoom=3", "unknown_parameter", "unknown"),
])
def test_lookup_refusals(city_client, query, code, words):
    r = city_client.get("/api/lookup?" + query.format(e=E0, n=N0))
    assert r.status_code == 400
    body = r.get_json()
    assert body["code"] == code and words in body["detail"] and body["detail_vi"]


def _plot_geojson(city, crs4326=True):
    x0, y0, x1, y1 = city.plot_detailed
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    if crs4326:
        ring = [list(vn2000_to_lonlat(x, y)) for x, y in ring]
    return {"type": "Feature", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.mark.parametrize("crs4326", [True, False])
def test_plot_shares(city, city_client, crs4326):
    url = "/api/lookup" + ("" if crs4326 else "?crs=EPSG:5897")
    r = city_client.post(url, json=_plot_geojson(city, crs4326))
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["query"]["plot_area_m2"] == pytest.approx(100 * 200, rel=0.01)
    detailed = doc["plans"][0]
    assert detailed["id"] == city.ids["detailed"] and detailed["governing"]
    shares = {z["label"]: z for z in detailed["zones"]}
    # the plot straddles CT-1 (south-west) and CT-3 (north-west), half each
    assert set(shares) == {"CT-1", "CT-3"}
    assert shares["CT-1"]["share_pct"] == pytest.approx(50, abs=1)
    assert sum(z["share_pct"] for z in detailed["zones"]) == pytest.approx(100, abs=0.5)
    assert detailed["plot_covered_pct"] == pytest.approx(100, abs=0.5)
    assert sum(z["share_m2"] for z in detailed["zones"]) == pytest.approx(20000, rel=0.01)


@pytest.mark.parametrize("body,status,code", [
    ({"type": "Point", "coordinates": [105.8, 21.0]}, 400, "invalid_geometry"),
    ({"type": "Polygon", "coordinates": [[[105.8, 21.0], [105.81, 21.01], [105.8, 21.01],
                                          [105.81, 21.0], [105.8, 21.0]]]}, 400,
     "invalid_geometry"),
    ({"type": "Polygon", "coordinates": "x"}, 400, "invalid_geometry"),
    ({"type": "Feature", "geometry": None}, 400, "invalid_geometry"),
    ([1, 2], 400, "invalid_geometry"),
    ({"type": "Polygon", "coordinates": [[[21.0, 105.8], [21.0, 105.81], [21.01, 105.81],
                                          [21.0, 105.8]]]}, 400, "outside_hanoi"),
    ({"type": "Polygon", "coordinates": [[[105.3, 20.6], [106.0, 20.6], [106.0, 21.3],
                                          [105.3, 20.6]]]}, 413, "too_large"),
])
def test_plot_refusals(city_client, body, status, code):
    r = city_client.post("/api/lookup", json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["code"] == code


def test_plot_not_json(city_client):
    r = city_client.post("/api/lookup", data="not json", content_type="text/plain")
    assert r.status_code == 400 and r.get_json()["code"] == "invalid_geometry"


@pytest.mark.parametrize("sql,table,params", [
    (POINT_ROWS_SQL, "land_use_zones", {"e": E0, "n": N0}),
    (POINT_ROWS_SQL, "plans", {"e": E0, "n": N0}),
    (PLOT_ZONES_SQL, "land_use_zones",
     {"wkt": f"POLYGON(({E0} {N0},{E0 + 10} {N0},{E0 + 10} {N0 + 10},{E0} {N0}))"}),
    (PLOT_PLANS_SQL, "plans",
     {"wkt": f"POLYGON(({E0} {N0},{E0 + 10} {N0},{E0 + 10} {N0 + 10},{E0} {N0}))",
      "zone_plan_ids": []}),
])
def test_lookup_sql_uses_gist_index(city, conn, sql, table, params):
    # tiny test tables: without this the planner would (rightly) seq-scan them
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql.text), params))
    assert f"idx_{table}_geom" in plan, plan


def test_point_lookup_finds_the_replacing_plan_and_the_documents_by_index(city, conn):
    """Which plan replaces each plan, and each plan's first documents, come from indexes (a
    sequential scan of the plans per plan was half of a city look-up's time)."""
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN " + REGISTER_SQL.text), {"plan_ids": [city.ids["detailed"]],
                                                "sheet_ids": [1]}))
    assert "ix_plans_supersedes_id" in plan and "pk_plans" in plan, plan
    assert "pk_map_sheets" in plan, plan
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN " + DOCUMENTS_SQL.text), {"plan_ids": [city.ids["detailed"]],
                                                 "per_plan": 8}))
    assert "pk_plan_documents" in plan, plan


def test_answer_lists_a_plans_first_documents_with_their_total_and_a_link_to_all(city, conn):
    from layers.lookup import lookup_point

    e, n = city.point_detailed
    conn.execute(text("""
        WITH d AS (INSERT INTO documents (doc_type, title, file_sha256, file_size, is_fictional)
                   SELECT 'ban_ve', 'Bản vẽ thử ' || g, md5('lookup ' || g) || md5(g::text),
                          10, TRUE FROM generate_series(1, 3) g RETURNING id)
        INSERT INTO plan_documents (plan_id, document_id, sort_order)
        SELECT :p, id, 100 + id FROM d"""), {"p": city.ids["detailed"]})
    total = conn.execute(text("SELECT count(*) FROM plan_documents WHERE plan_id = :p"),
                         {"p": city.ids["detailed"]}).scalar_one()
    assert total >= 4
    full = lookup_point(conn, e, n, today=dt.date.today(), url_template="/documents/{id}",
                        base_url="http://h", documents_per_plan=100)
    one = lookup_point(conn, e, n, today=dt.date.today(), url_template="/documents/{id}",
                       base_url="http://h", documents_per_plan=1)
    gov_full, gov_one = full[0], one[0]
    assert len(gov_full["documents"]) == gov_full["documents_total"] == total
    assert gov_one["documents"] == gov_full["documents"][:1]
    assert gov_one["documents_total"] == total
    assert gov_one["documents_href"] == f"http://h/api/documents?plan={city.ids['detailed']}"
    assert gov_one["documents_page"] == f"http://h/tai-lieu?plan={city.ids['detailed']}"
    assert all(len(p["documents"]) <= 1 for p in one)


def _uncached_client(demo):
    from server import create_app

    app = create_app(demo.__class__(**{**demo.__dict__, "lookup_cache_mb": 0}))
    return app.test_client()


def test_cached_answers_equal_fresh_ones(city, demo, city_client):
    """Hits give byte for byte what a server without the cache answers, for several points."""
    fresh = _uncached_client(demo)
    e, n = city.point_detailed
    queries = [f"x_north={n + dn}&y_east={e + de}" for de, dn in ((0, 0), (3, 2), (-4, 1))]
    queries += ["lon=105.9&lat=21.2"]  # no plan there
    cache = city_client.application.extensions["lookup_cache"]
    for q in queries:
        first = city_client.get(f"/api/lookup?{q}")
        hits = cache.hits
        again = city_client.get(f"/api/lookup?{q}")
        assert again.status_code == 200
        assert again.data == first.data == fresh.get(f"/api/lookup?{q}").data
        assert cache.hits == hits + 1
    assert len(fresh.application.extensions["lookup_cache"]) == 0


def _first_title(client, path: str) -> str:
    return client.get(path).get_json()["plans"][0]["documents"][0]["title"]


def test_an_edit_shows_in_the_next_answer(city, demo):
    """With PLANNING_EDITION_CHECK_MS=0 every request reads the edition: the next answer after
    an edit shows it, and the one after the edit is undone shows the old text again."""
    client = app_client(demo, edition_check_ms=0)
    e, n = city.point_detailed
    path = f"/api/lookup?x_north={n}&y_east={e}"
    before = client.get(path).get_json()
    doc_id = before["plans"][0]["documents"][0]["id"]
    title = before["plans"][0]["documents"][0]["title"]
    with value_changed(demo, "documents", "title", doc_id, "Tiêu đề đã sửa"):
        assert _first_title(client, path) == "Tiêu đề đã sửa"
    assert _first_title(client, path) == title


def test_a_public_answer_is_at_most_the_check_interval_old_and_a_planner_sees_an_edit_at_once(
        city, demo):
    """A public request reuses the edition its server read less than PLANNING_EDITION_CHECK_MS
    ago, so for that long after an edit it may get the answer kept before it; a planner's
    request reads the edition itself and gets the edit at once; past the interval everyone
    does."""
    e, n = city.point_detailed
    path = f"/api/lookup?x_north={n}&y_east={e}"
    public = app_client(demo, edition_check_ms=60_000)
    planner = app_client(demo, planner=True, edition_check_ms=60_000)
    quick = app_client(demo, edition_check_ms=200)
    before = public.get(path).get_json()
    doc_id = before["plans"][0]["documents"][0]["id"]
    title = before["plans"][0]["documents"][0]["title"]
    assert _first_title(planner, path) == _first_title(quick, path) == title
    with value_changed(demo, "documents", "title", doc_id, "Tiêu đề đã sửa"):
        assert _first_title(public, path) == title  # within the minute: the kept answer
        assert _first_title(planner, path) == "Tiêu đề đã sửa"
        time.sleep(0.25)
        assert _first_title(quick, path) == "Tiêu đề đã sửa"
    time.sleep(0.25)
    assert _first_title(quick, path) == title


@pytest.mark.parametrize("table", ["land_use_zones", "land_use_legend", "plans", "map_sheets",
                                   "plan_documents", "documents"])
def test_every_table_the_answer_reads_bumps_its_edition(city, demo, table):
    engine = get_engine(demo)
    with engine.connect() as conn:
        before = layer_edition(conn, "lookup")
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE false"))
    with engine.connect() as conn:
        assert layer_edition(conn, "lookup") == before + 1


def test_answer_is_compact_utf8_json(city, city_client):
    e, n = city.point_detailed
    r = city_client.get(f"/api/lookup?x_north={n}&y_east={e}")
    text_ = r.data.decode("utf-8")
    assert '", "' not in text_ and '": ' not in text_  # no spaces after separators
    assert "\\u" not in text_ and any(ord(c) > 127 for c in text_)  # UTF-8, not escapes
    assert r.get_json()["plans"]


# --- issue 12: strict, bounded plot bodies (POST /api/lookup and POST /api/info-sheet.pdf) -----

PLOT_PATHS = ["/api/lookup", "/api/info-sheet.pdf"]
_RING = '[[{a},21.0],[105.81,21.0],[105.81,21.01],[{a},21.0]]'


@pytest.mark.parametrize("path", PLOT_PATHS)
@pytest.mark.parametrize("raw,words", [
    ('{"type":"Polygon","coordinates":[' + _RING.format(a="NaN") + "]}", "NaN"),
    ('{"type":"Polygon","coordinates":[' + _RING.format(a="-Infinity") + "]}", "Infinity"),
    ('{"type":"Polygon","coordinates":[' + _RING.format(a="1e400") + "]}", "too large"),
    ("[" * 5000 + "]" * 5000, "nested"),
    ('{"type":"Feature","properties":{"n":"a\\u0000b"},"geometry":{"type":"Polygon",'
     '"coordinates":[' + _RING.format(a="105.8") + "]}}", "NUL"),
])
def test_plot_body_is_parsed_strictly(city_client, path, raw, words):
    """NaN/Infinity, an overflowing number, 5 000-deep nesting and NUL are 400s, not 500s."""
    r = city_client.post(path, data=raw, content_type="application/json")
    assert r.status_code == 400, r.data[:300]
    body = r.get_json()
    assert body["code"] == "invalid_geometry" and words in body["detail"] and body["detail_vi"]


def _square(lon: float, lat: float, side: float) -> list[list[float]]:
    return [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]


@pytest.mark.parametrize("path", PLOT_PATHS)
def test_plot_with_too_many_vertices_is_413(demo, city_client, path):
    n = demo.lookup_max_plot_vertices + 1
    ring = [[105.8 + 0.001 * math.cos(2 * math.pi * i / n), 21.0 + 0.001 * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    ring.append(ring[0])
    r = city_client.post(path, json={"type": "Polygon", "coordinates": [ring]})
    assert r.status_code == 413, r.data[:300]
    body = r.get_json()
    assert body["code"] == "too_large" and "vertices" in body["detail"] and body["detail_vi"]


@pytest.mark.parametrize("path", PLOT_PATHS)
def test_plot_with_too_many_parts_is_413(demo, city_client, path):
    parts = [[_square(105.8 + 0.0002 * i, 21.0, 0.0001)]
             for i in range(demo.lookup_max_plot_rings + 1)]
    r = city_client.post(path, json={"type": "MultiPolygon", "coordinates": parts})
    assert r.status_code == 413, r.data[:300]
    body = r.get_json()
    assert body["code"] == "too_large" and "rings" in body["detail"] and body["detail_vi"]


@pytest.mark.parametrize("path", PLOT_PATHS)
def test_plot_body_over_the_json_limit_is_413(demo, city_client, path):
    """Refused from Content-Length, before the body is read."""
    raw = b" " * demo.max_json_bytes + b"{}"
    r = city_client.post(path, data=raw, content_type="application/json")
    assert r.status_code == 413
    body = r.get_json()
    assert body["code"] == "too_large" and body["detail_vi"]


@pytest.mark.parametrize("path", PLOT_PATHS)
def test_chunked_plot_body_over_the_json_limit_is_413(demo, city_client, path):
    """No Content-Length (chunked): the limit is enforced while reading."""
    raw = b" " * demo.max_json_bytes + b"{}"
    r = city_client.post(path, input_stream=io.BytesIO(raw), content_type="application/json",
                         headers={"Transfer-Encoding": "chunked"},
                         environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 413
    assert r.get_json()["code"] == "too_large"


def test_a_repeated_point_is_sent_gzipped_with_its_etag_and_a_304(city, city_client):
    """The exact point's answer is kept gzipped with its tag: a repeat costs neither the
    look-up statement nor hashing nor compression, and answers as caching.py's rules say."""
    import gzip as gz

    e, n = city.point_detailed
    path = f"/api/lookup?x_north={n}&y_east={e}"
    plain = city_client.get(path)
    zipped = city_client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gz.decompress(zipped.data) == plain.data
    tag = plain.headers["ETag"].strip('"')
    assert zipped.headers["ETag"].strip('"') == tag + "-gz"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    for held in (tag, tag + "-gz"):
        again = city_client.get(path, headers={"If-None-Match": f'"{held}"'})
        assert again.status_code == 304 and not again.data
    # the same place read as lon/lat is another question (its query part differs)
    lon, lat = vn2000_to_lonlat(e, n)
    other = city_client.get(f"/api/lookup?lon={lon}&lat={lat}").get_json()
    assert other["query"]["reading"] != plain.get_json()["query"]["reading"]
    assert other["plans"] == plain.get_json()["plans"]


def test_the_answer_cache_stays_within_its_bound_and_reports_its_hit_rate(city, demo):
    from server import create_app

    app = create_app(demo.__class__(**{**demo.__dict__, "lookup_cache_mb": 1}))
    client = app.test_client()
    cache = app.extensions["lookup_cache"]
    documents = app.extensions["lookup_documents_cache"]
    assert cache.max_bytes + documents.max_bytes == 1024 * 1024  # the two share the bound
    e, n = city.point_detailed
    for k in range(120):  # distinct points: each a new exact-point entry
        assert client.get(f"/api/lookup?x_north={n + k * 0.5}&y_east={e}").status_code == 200
    assert 0 < cache.bytes_used <= cache.max_bytes
    assert 0 < documents.bytes_used <= documents.max_bytes
    cache.max_bytes = 20_000  # a bound smaller than the entries held: the LRU gives way
    client.get(f"/api/lookup?x_north={n}&y_east={e + 1}")
    assert cache.bytes_used <= 20_000 and len(cache) >= 1
    client.get(f"/api/lookup?x_north={n}&y_east={e + 1}")
    stats = client.get("/api/health").get_json()["caches"]["lookup"]
    assert stats["max_bytes"] == 20_000 and stats["bytes"] <= 20_000
    assert stats["hits"] >= 1 and stats["misses"] >= 120
    assert stats["hit_rate"] == round(stats["hits"] / (stats["hits"] + stats["misses"]), 4)


def test_the_api_answer_is_the_library_answer_serialised(city, demo, conn):
    """The API's misses splice each plan's kept document list into the answer: byte for byte
    what serialising ``lookup_point`` gives, whether the lists were kept or just read."""
    import json

    from layers.editions import EditionCache
    from layers.lookup import lookup_point, point_answer_json, point_rows

    def dumps(obj):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    kept = EditionCache(1024 * 1024)
    e, n = city.point_detailed
    points = [(e, n), (e + 3, n + 2), (e - 4, n + 1), (E0, N0), (600000.0, 2300000.0)]
    context = {"url_template": "/documents/{id}", "base_url": "http://h"}
    for _ in range(2):  # first the lists are read, then they are kept
        for pe, pn in points:
            plans = lookup_point(conn, pe, pn, today=dt.date.today(), **context)
            got, governing = point_answer_json(conn, point_rows(conn, pe, pn),
                                               today=dt.date.today(), dumps=dumps,
                                               documents=kept, **context)
            assert got == dumps(plans)
            assert governing == next((p["id"] for p in plans if p["governing"]), None)
    assert kept.hits > 0 and len(kept) > 0


def test_a_zone_note_shaped_like_a_documents_slot_stays_text(city, demo, conn):
    """The slots a plan's documents are spliced into carry a nonce drawn per answer: a note
    typed to look like one is left as it was."""
    import json

    from layers.lookup import point_answer_json, point_rows

    e, n = city.point_detailed
    forged = '\ue0000\ue000'  # what a slot numbered by position alone would look like
    conn.execute(text("UPDATE land_use_zones SET note = :t WHERE plan_id = :p"),
                 {"t": forged, "p": city.ids["detailed"]})
    got, _ = point_answer_json(conn, point_rows(conn, e, n), today=dt.date.today(),
                               dumps=lambda o: json.dumps(o, ensure_ascii=False).encode(),
                               url_template="/d/{id}", base_url="http://h")
    zones = json.loads(got)[0]["zones"]
    assert zones and all(z["note"] == forged for z in zones)


def test_a_new_point_in_known_plans_reads_no_documents_again(city, demo):
    """Each plan's document list is kept under the edition: a second point in the same plans
    finds them all kept."""
    from server import create_app

    client = create_app(demo).test_client()
    documents = client.application.extensions["lookup_documents_cache"]
    e, n = city.point_detailed
    first = client.get(f"/api/lookup?x_north={n}&y_east={e}").get_json()
    misses = documents.misses
    hits = documents.hits
    again = client.get(f"/api/lookup?x_north={n + 1}&y_east={e + 1}").get_json()
    assert [p["id"] for p in again["plans"]] == [p["id"] for p in first["plans"]]
    assert documents.misses == misses and documents.hits == hits + len(first["plans"])
    assert again["plans"][0]["documents"] == first["plans"][0]["documents"]


@pytest.mark.parametrize("sql,params,index", [
    (POINT_ROWS_SQL, {"e": E0, "n": N0}, "idx_land_use_zones_geom"),
    (POINT_ROWS_SQL, {"e": E0, "n": N0}, "idx_plans_geom"),
    (REGISTER_SQL, {"plan_ids": [1, 2], "sheet_ids": [1]}, "ix_plans_supersedes_id"),
    (REGISTER_SQL, {"plan_ids": [1, 2], "sheet_ids": [1]}, "pk_plans"),
    (REGISTER_SQL, {"plan_ids": [1, 2], "sheet_ids": [1]}, "pk_map_sheets"),
    (DOCUMENTS_SQL, {"plan_ids": [1, 2], "per_plan": 8}, "pk_plan_documents"),
])
def test_the_generic_plans_of_the_hot_statements_use_their_indexes(city, conn, sql, params,
                                                                   index):
    """The API runs these prepared on a generic plan (``plan_cache_mode=force_generic_plan``
    on the hot connections): that plan, made without the point, must still use the index."""
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    raw = conn.connection.driver_connection
    raw.execute("SET LOCAL enable_seqscan = off")  # tiny test tables
    raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    compiled = str(sql.compile(dialect=dialect.dialect()))
    # PREPARE takes $n placeholders: number the named ones in order of first appearance
    names: list[str] = []
    for name in re.findall(r"%\((\w+)\)s", compiled):
        if name not in names:
            names.append(name)
    for k, name in enumerate(names, 1):
        compiled = compiled.replace(f"%({name})s", f"${k}")
    raw.execute(f"PREPARE hot_statement AS {compiled}")
    args = ", ".join(
        "ARRAY[" + ",".join(map(str, params[n])) + "]::integer[]" if isinstance(params[n], list)
        else repr(params[n]) for n in names)
    plan = "\n".join(r[0] for r in raw.execute(f"EXPLAIN EXECUTE hot_statement({args})"))
    raw.execute("DEALLOCATE hot_statement")
    if "e" in params:  # a generic plan: the point stays a parameter in its index condition
        assert "$1" in plan, plan
    assert index in plan, plan


def test_a_look_up_survives_its_hot_connection_being_cut(city, demo):
    """The look-up reads on this thread's own connection; when the server drops it (a restart,
    an idle timeout), the next request makes a new one instead of answering 503."""
    from planning_gis.db import hot_read_connection
    from server import create_app

    client = create_app(demo).test_client()
    e, n = city.point_detailed
    assert client.get(f"/api/lookup?x_north={n}&y_east={e}").status_code == 200
    hot = hot_read_connection(demo)
    with get_engine(demo).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": hot.info.backend_pid})
    r = client.get(f"/api/lookup?x_north={n + 1}&y_east={e}")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["plans"][0]["id"] == city.ids["detailed"]
    assert hot_read_connection(demo).info.backend_pid != hot.info.backend_pid


def _fast_path(app) -> KeptLookupFastPath:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, KeptLookupFastPath):
        wsgi = wsgi.wsgi_app
    return wsgi


@pytest.mark.parametrize("headers", [{}, {"Accept-Encoding": "gzip, deflate"},
                                     {"Accept-Encoding": "br"}])
def test_the_fast_path_answers_as_the_view_does(city, demo, headers):
    """The look-up fast path (web/lookup.py's KeptLookupFastPath) answers a new point and a
    repeated one without Flask, with the status, headers and body the view gives (304s
    included); a repeat counts as a hit. The view's answers come from an app whose fast path
    steps aside for every request (as it does for one it cannot answer)."""
    from flask import request

    from server import create_app

    e, n = city.point_detailed
    for query in (f"x_north={n}&y_east={e}", "lon=105.9&lat=21.2"):  # plans, then none
        app = create_app(demo)
        reached_flask: list[str] = []
        app.before_request(lambda seen=reached_flask: seen.append(request.path))
        client = app.test_client()
        cache = app.extensions["lookup_cache"]
        view_app = create_app(demo)
        _fast_path(view_app)._reply = lambda environ: None
        view_app.before_request(lambda seen=reached_flask: seen.append("view"))
        view = view_app.test_client()
        path = f"/api/lookup?{query}"
        miss = client.get(path, headers=headers)
        assert miss.status_code == 200 and cache.hits == 0 and cache.misses == 1
        hit = client.get(path, headers=headers)
        assert cache.hits == 1 and reached_flask == []  # both answered before Flask
        by_view = view.get(path, headers=headers)
        assert reached_flask == ["view"]
        assert (hit.status_code, _sorted_headers(hit), hit.data) == (
            miss.status_code, _sorted_headers(miss), miss.data) == (
            by_view.status_code, _sorted_headers(by_view), by_view.data)
        head = client.head(path, headers=headers)
        assert head.status_code == 200 and not head.data
        for tag in (miss.headers["ETag"], miss.headers["ETag"].replace("-gz", "")):
            by_view = view.get(path, headers={**headers, "If-None-Match": tag})
            by_fast_path = client.get(path, headers={**headers, "If-None-Match": tag})
            assert by_view.status_code == by_fast_path.status_code == 304
            assert _sorted_headers(by_view) == _sorted_headers(by_fast_path)
        assert reached_flask == ["view"] * 3


def _sorted_headers(resp) -> dict[str, str]:
    return dict(sorted(resp.headers.items()))


@pytest.mark.parametrize("query,status", [
    ("lon=105.8&lat=21.03&bogus=1", 400),     # an unknown parameter
    ("lon=abc&lat=21.03", 400),               # not a number
    ("lon=2.35&lat=48.85", 400),               # outside Hanoi
    ("lon=105.8&lat=21.03&date=2020-13-01", 400),
    ("lon=105.8%00&lat=21.03", 400),           # NUL
    ("lon=105.8&lat=21.03&pad=" + "x" * 5000, 414),
])
def test_the_look_up_fast_path_leaves_refusals_to_the_view(city, city_client, query, status):
    """Bad look-ups are answered by the view with its JSON error, also after a good look-up
    filled the cache."""
    assert city_client.get("/api/lookup?lon=105.8&lat=21.03").status_code == 200
    r = city_client.get(f"/api/lookup?{query}")
    assert r.status_code == status, r.data[:200]
    assert r.get_json()["code"] and r.get_json()["detail_vi"]


def test_each_look_up_counts_once_in_the_hit_rate(city, demo):
    """A miss looked up by the fast path and then made by the view is one miss, not two."""
    from server import create_app

    client = create_app(demo).test_client()
    cache = client.application.extensions["lookup_cache"]
    e, n = city.point_detailed
    for k in range(3):
        client.get(f"/api/lookup?x_north={n + k}&y_east={e}")
    client.get(f"/api/lookup?x_north={n}&y_east={e}")
    assert (cache.misses, cache.hits) == (3, 1)


def test_the_plan_register_reads_plans_once_per_edition_and_again_after_an_edit(city, conn):
    """A second point in the same plans reads no plan, sheet or legend row again; an edit to a
    plan changes the edition, and the next point reads the plan as edited."""
    from layers.lookup import PlanRegister, point_rows

    register = PlanRegister()
    e, n = city.point_detailed
    first = point_rows(conn, e, n, register)
    assert register.reads == 1 and first.edition is not None
    assert {p.id for p in first.plans} >= {city.ids["detailed"]}
    zone = first.zones[0]
    assert zone.name_vi and zone.color.startswith("#")  # from the register's legend
    again = point_rows(conn, e + 1, n + 1, register)
    assert register.reads == 1
    assert [vars(p) for p in again.plans] == [vars(p) for p in first.plans]
    conn.execute(text("UPDATE plans SET name = 'Đồ án đổi tên' WHERE id = :p"),
                 {"p": city.ids["detailed"]})
    edited = point_rows(conn, e, n, register)
    assert register.reads == 2 and edited.edition != first.edition
    assert {p.id: p.name for p in edited.plans}[city.ids["detailed"]] == "Đồ án đổi tên"


def test_register_rows_of_another_edition_than_the_point_mark_the_answer_unkept(city, conn):
    """Rows read for a point of an older edition (the data changed between the point's
    statement and the register's) are used for that answer but reported as of the edition the
    register read, so the caller keeps neither the answer nor the plans' documents."""
    from layers.lookup import PlanRegister

    register = PlanRegister()
    now = layer_edition(conn, "lookup")
    _legend, _sheets, plans, read = register.rows(conn, now - 1, {city.ids["detailed"]}, set())
    assert read == now and city.ids["detailed"] in plans
    # the register now holds edition `now`; a point of an older edition still gets its rows
    _legend, _sheets, plans, read = register.rows(conn, now - 5, {city.ids["detailed"]}, set())
    assert read == now and register.reads == 2


def test_a_sheet_edited_after_a_look_up_is_in_the_next_answer(city, demo):
    """The register keys the sheets' accuracy on the look-up edition: a sheet's new check
    error is in the next answer of the API, not a kept one (the edition read on every
    request here)."""
    client = app_client(demo, edition_check_ms=0)
    e, n = city.point_detailed
    url = f"/api/lookup?x_north={n}&y_east={e}"
    zones = [z for p in client.get(url).get_json()["plans"] for z in p["zones"]]
    sheet_id = next((z["accuracy"]["sheet_id"] for z in zones if z["accuracy"]["sheet_id"]),
                    None)
    if sheet_id is None:
        pytest.skip("no zone traced from a sheet at this point")
    with value_changed(demo, "map_sheets", "check_error_m", sheet_id, 123.25):
        zones = [z for p in client.get(url).get_json()["plans"] for z in p["zones"]]
        assert any(z["accuracy"].get("check_error_m") == 123.25 for z in zones)


def test_an_answer_from_rows_older_than_its_key_is_not_kept(city, demo):
    """A point's answer is kept under the edition its request read (maybe on another server
    than the rows: a replica behind the primary). Rows older than that edition would keep an
    answer from before an edit under the key of after it: not kept. Rows newer than the key
    are harmless (the key goes with its edition) and are kept, so that a storm in the second
    after an edit still makes the point once."""
    import datetime as dt

    from layers.editions import EditionCache
    from layers.lookup import PlanRegister
    from planning_gis.crs import resolve_lonlat
    from planning_gis.db import hot_read_connection
    from planning_gis.web.lookup import kept_answer

    e, n = city.point_detailed
    point = resolve_lonlat(*vn2000_to_lonlat(e, n))
    conn = hot_read_connection(demo)
    now = conn.execute("SELECT edition FROM layer_editions WHERE layer = 'lookup'").fetchone()[0]
    context = {"url_template": "/d/{id}", "base_url": "http://h", "documents_per_plan": 8}
    for key_edition, kept in ((now + 1, False), (now - 1, True), (now, True)):
        cache = EditionCache(1 << 20)
        answer, made = kept_answer(lambda work: work(conn), cache, EditionCache(1 << 20),
                                   PlanRegister(), point, dt.date.today(), context,
                                   key_edition, 5, asked=False)
        assert made and answer.gzipped
        assert (len(cache) == 1) is kept, key_edition - now


def test_threads_meeting_a_new_edition_read_the_register_once(city, demo):
    """Eight threads of a process asking at once for a new edition: one reads the register
    whole, the others wait for it (an edit, then a crowd, read 0.7 MB once per process)."""
    import threading

    from layers.lookup import PlanRegister
    from planning_gis.db import hot_read_connection

    register = PlanRegister()
    start = threading.Barrier(8)
    got: list[int | None] = []

    def ask() -> None:
        conn = hot_read_connection(demo)
        edition = conn.execute(
            "SELECT edition FROM layer_editions WHERE layer = 'lookup'").fetchone()[0]
        start.wait(30)
        got.append(register.rows(conn, edition, {city.ids["detailed"]}, set())[3])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 8 and len(set(got)) == 1 and got[0] is not None
    assert register.reads == 1


def test_a_storm_on_connections_the_server_cut_makes_the_point_once(city, demo):
    """The server cut every thread's hot connection (a replica or the primary restarted), then
    a crowd asks one new point: the thread that makes it reconnects and retries while the
    others wait for it, so the point is still made once (it was made by each thread that
    waited on a maker whose first read failed: CI, after the replica test's restart)."""
    import threading

    from planning_gis.db import hot_read_connection
    from planning_gis.web.lookup import LOOKUP_PATH
    from planning_gis.web.ops import REQUEST_SECONDS
    from server import create_app

    app = create_app(demo)
    e, n = city.point_detailed
    asking = 6
    warmed, cut = threading.Barrier(asking + 1), threading.Barrier(asking + 1)
    pids: list[int] = []
    answers: list[tuple[int, bytes]] = []

    def made() -> float:  # the look-ups answered by making them (ops.py's route label)
        return sum(s.value for m in REQUEST_SECONDS.collect() for s in m.samples
                   if s.name.endswith("_count") and s.labels["route"] == LOOKUP_PATH)

    def ask(k: int) -> None:
        client = app.test_client()
        assert client.get(f"/api/lookup?x_north={n + 10 + k}&y_east={e}").status_code == 200
        pids.append(hot_read_connection(demo).info.backend_pid)
        warmed.wait(30)
        cut.wait(30)
        r = client.get(f"/api/lookup?x_north={n + 3}&y_east={e + 3}")
        answers.append((r.status_code, r.data))

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(asking)]
    for t in threads:
        t.start()
    warmed.wait(30)
    before = made()
    with get_engine(demo).connect() as admin:  # each cut and gone (waits up to 10 s)
        assert admin.execute(text(
            "SELECT bool_and(pg_terminate_backend(p, 10000)) FROM unnest(CAST(:p AS int[])) p"),
            {"p": pids}).scalar()
    cut.wait(30)
    for t in threads:
        t.join(60)
    assert [status for status, _ in answers] == [200] * asking
    assert len({body for _, body in answers}) == 1
    assert made() - before == 1
