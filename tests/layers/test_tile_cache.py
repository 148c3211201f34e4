"""The per-process vector-tile cache: hits, invalidation by the layer editions, HTTP variants."""

from __future__ import annotations

import gzip
import time

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from layers.editions import EditionCache, layer_edition
from layers.tile_cache import encode_tile
from planning_gis.db import get_engine
from tests.serving_data import CENTRE_LONLAT, app_client, value_changed
from tiles.grid import get_tms

TMS = get_tms("WebMercatorQuad")


def _ct1_far(body: bytes) -> float:
    feats = mapbox_vector_tile.decode(body)["zones"]["features"]
    return next(f["properties"]["far"] for f in feats if f["properties"]["label"] == "CT-1")


def _cache(client):
    return client.application.extensions["mvt_cache"]


@pytest.mark.parametrize("table,layers", [
    ("land_use_zones", {"zones"}),
    ("red_lines", {"redlines"}),
    ("admin_units", {"units"}),
    ("plans", {"zones", "plans", "redlines"}),
])
def test_a_write_bumps_the_editions_of_the_layers_it_feeds(city, demo, table, layers):
    engine = get_engine(demo)
    with engine.connect() as conn:
        before = {n: layer_edition(conn, n) for n in ("zones", "redlines", "plans", "units")}
    with engine.begin() as conn:  # a no-op update still is a write statement
        conn.execute(text(f"UPDATE {table} SET id = id WHERE id = -1"))
    with engine.connect() as conn:
        after = {n: layer_edition(conn, n) for n in before}
    assert {n for n in before if after[n] == before[n] + 1} == layers
    assert all(after[n] == before[n] for n in before if n not in layers)


def test_a_repeat_is_a_hit_and_an_edit_is_seen_at_once(city, demo):
    """PLANNING_EDITION_CHECK_MS=0: every request reads the edition, so the next tile after an
    edit shows it, with a new ETag."""
    client = app_client(demo, edition_check_ms=0)
    t = TMS.tile(*CENTRE_LONLAT, 16)
    path = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    cache = _cache(client)
    first = client.get(path)
    hits = cache.hits
    again = client.get(path)
    assert cache.hits == hits + 1 and again.data == first.data
    assert _ct1_far(first.data) == 2.5
    with value_changed(demo, "land_use_zones", "far", city.ids["zone:CT-1"], 3.25):
        edited = client.get(path)
        assert edited.status_code == 200 and _ct1_far(edited.data) == 3.25
        assert edited.headers["ETag"] != first.headers["ETag"]
    assert _ct1_far(client.get(path).data) == 2.5


def test_a_public_tile_is_at_most_the_check_interval_old_and_a_planner_sees_an_edit_at_once(
        city, demo):
    t = TMS.tile(*CENTRE_LONLAT, 16)
    path = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    public = app_client(demo, edition_check_ms=60_000)
    planner = app_client(demo, planner=True, edition_check_ms=60_000)
    quick = app_client(demo, edition_check_ms=200)
    assert _ct1_far(public.get(path).data) == _ct1_far(quick.get(path).data) == 2.5
    with value_changed(demo, "land_use_zones", "far", city.ids["zone:CT-1"], 3.25):
        assert _ct1_far(public.get(path).data) == 2.5  # within the minute: the kept tile
        assert _ct1_far(planner.get(path).data) == 3.25
        time.sleep(0.25)
        assert _ct1_far(quick.get(path).data) == 3.25
    time.sleep(0.25)
    assert _ct1_far(quick.get(path).data) == 2.5


def test_cached_variants_gzip_plain_and_304(city, city_client):
    t = TMS.tile(*CENTRE_LONLAT, 15)
    path = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    for _ in range(2):  # a miss, then a hit: both must answer the same way
        plain = city_client.get(path)
        gz = city_client.get(path, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in plain.headers
        assert gz.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(gz.data) == plain.data
        assert gz.headers["ETag"] == plain.headers["ETag"].rstrip('"') + '-gz"'
        assert "Accept-Encoding" in gz.headers["Vary"]
        for tag in (plain.headers["ETag"], gz.headers["ETag"]):
            nm = city_client.get(path, headers={"If-None-Match": tag, "Accept-Encoding": "gzip"})
            assert nm.status_code == 304 and not nm.data
            assert nm.headers["ETag"] == gz.headers["ETag"]


def test_empty_tiles_are_cached_as_204(city, city_client):
    t = TMS.tile(*CENTRE_LONLAT, 16)
    path = f"/tiles/zones/{t.z}/{t.x + 40}/{t.y}.mvt"  # inside Hanoi, beyond the test city
    assert city_client.get(path).status_code == 204
    hits = _cache(city_client).hits
    assert city_client.get(path).status_code == 204 and _cache(city_client).hits == hits + 1


def test_cache_off_renders_every_time(city, demo):
    from server import create_app

    app = create_app(demo.__class__(**{**demo.__dict__, "mvt_cache_mb": 0}))
    client = app.test_client()
    t = TMS.tile(*CENTRE_LONLAT, 16)
    path = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    a, b = client.get(path), client.get(path)
    assert a.data == b.data and len(_cache(client)) == 0 and _cache(client).hits == 0


def test_lru_is_bounded_by_bytes():
    cache = EditionCache(max_bytes=3000)
    tiles = [encode_tile(bytes([i]) * 600, 5, 10_000) for i in range(10)]
    for i, tile in enumerate(tiles):
        cache.put(("zones", i), tile, tile.size)
    assert cache.bytes_used <= 3000 and 0 < len(cache) < 10
    assert cache.get(("zones", 9)) is tiles[9] and cache.get(("zones", 0)) is None
    big = encode_tile(b"x" * 5000, 5, 10_000)  # larger than the whole cache
    cache.put(("big",), big, big.size)
    assert cache.get(("big",)) is None


def _headers(resp) -> dict[str, str]:
    return {k: v for k, v in sorted(resp.headers.items())}


@pytest.mark.parametrize("headers", [
    {}, {"Accept-Encoding": "gzip, deflate"}, {"Accept-Encoding": "br"},
])
def test_fast_path_answers_like_flask(city, demo, headers):
    """A hit (answered by the WSGI fast path) has the miss's status, headers and body."""
    from layers import coverage
    from server import create_app

    # The derived zone layers current first: a tile rendered from the live fallback and one
    # rendered from them carry the same zones but not the same bytes (a job worker left running
    # by an earlier test once rebuilt them between the two renders compared here).
    coverage.refresh(get_engine(demo), only_if_stale=True)
    for zoom, dx in ((16, 0), (15, 0), (16, 40)):  # two tiles with zones, one empty (204)
        client = create_app(demo).test_client()
        t = TMS.tile(*CENTRE_LONLAT, zoom)
        path = f"/tiles/zones/{t.z}/{t.x + dx}/{t.y}.mvt"
        cache = client.application.extensions["mvt_cache"]
        miss = client.get(path, headers=headers)
        assert cache.hits == 0
        hit = client.get(path, headers=headers)
        assert cache.hits == 1, "the second request must be served from the cache"
        assert (hit.status_code, _headers(hit), hit.data) == (
            miss.status_code, _headers(miss), miss.data)
        head = client.head(path, headers=headers)
        assert head.status_code == miss.status_code and not head.data
        if miss.status_code == 200:
            for tag in (miss.headers["ETag"], miss.headers["ETag"].replace("-gz", "")):
                flask_304 = create_app(demo).test_client().get(
                    path, headers={**headers, "If-None-Match": tag})
                fast_304 = client.get(path, headers={**headers, "If-None-Match": tag})
                assert fast_304.status_code == flask_304.status_code == 304
                assert _headers(fast_304) == _headers(flask_304)


def test_fast_path_leaves_errors_and_queries_to_flask(city, city_client):
    t = TMS.tile(*CENTRE_LONLAT, 16)
    path = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt"
    city_client.get(path)
    assert city_client.get("/tiles/nothing/16/1/1.mvt").status_code == 404
    assert city_client.get("/tiles/zones/99/1/1.mvt").status_code == 400
    hits = _cache(city_client).hits
    assert city_client.get(path + "?x=1").status_code == 200  # a query string goes to Flask
    assert _cache(city_client).hits == hits + 1  # ...whose view still uses the cache


def test_database_down_is_a_503_for_tiles_and_look_ups(demo):
    """With the database unreachable, the fast path steps aside and Flask answers 503 JSON."""
    from server import create_app

    broken = demo.__class__(**{**demo.__dict__,
                               "database_url": "postgresql+psycopg://nobody:x@127.0.0.1:1/none"})
    client = create_app(broken).test_client()
    for path in ("/tiles/zones/16/52029/28850.mvt", "/api/lookup?lon=105.8&lat=21.03"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.get_json()["code"] == "database_unavailable" and r.get_json()["detail_vi"]


def test_a_value_asked_by_many_at_once_is_made_once():
    """``EditionCache.get_or_make``: concurrent askers of one key wait for its maker (one link
    opened by many at once is computed once per process)."""
    import threading
    import time

    from layers.editions import EditionCache

    cache = EditionCache(1 << 20)
    made: list[int] = []
    start = threading.Barrier(8)

    def make():
        made.append(1)
        time.sleep(0.3)  # long enough for every asker to arrive while it is being made
        return b"answer", 6

    got: list[bytes] = []

    def ask():
        start.wait()
        got.append(cache.get_or_make(("at", 1, "p"), make))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [b"answer"] * 8 and len(made) == 1
    assert cache.joined == 7 and cache.stats()["joined"] == 7


def test_waiters_make_their_own_when_the_maker_keeps_nothing_or_fails():
    import threading
    import time

    from layers.editions import EditionCache

    cache = EditionCache(1 << 20)
    calls: list[str] = []
    first = threading.Event()

    def unkept():
        calls.append("unkept")
        first.set()
        time.sleep(0.2)
        return b"changed meanwhile", None  # the data changed: not to be kept

    def failing():
        calls.append("failing")
        first.set()
        time.sleep(0.2)
        raise RuntimeError("database gone")

    for maker in (unkept, failing):
        calls.clear()
        first.clear()
        results: list = []

        def leader(maker=maker, results=results):
            try:
                results.append(cache.get_or_make(("k", maker.__name__), maker))
            except RuntimeError as err:
                results.append(str(err))

        t = threading.Thread(target=leader)
        t.start()
        first.wait(5)
        waiter = cache.get_or_make(("k", maker.__name__), lambda: (b"own", 3))
        t.join()
        assert waiter == b"own" and calls == [maker.__name__]
        assert results and len(cache) == 1  # only the waiter's own value was kept
        cache.clear()
