"""Generalised zone tiles: what each zoom band carries, the coverage and its freshness.

The sample city (tests/serving_data.py) has a master plan, a zoning plan, a detailed plan that
superseded an older one and a draft over the same block: the overlaps the coverage resolves.
"""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from layers import coverage, registry
from layers.mvt import render_tile, tile_params, tile_sql
from planning_gis.db import get_engine
from tests.serving_data import CENTRE_LONLAT
from tiles.grid import get_tms

pytestmark = pytest.mark.db

TMS = get_tms("WebMercatorQuad")
ZONES = registry.get("zones", registry.MVT)

ZONES_BY_PLAN = text("""
SELECT z.id, p.description AS plan, z.label FROM land_use_zones z JOIN plans p ON p.id = z.plan_id
WHERE p.description IN ('master', 'zoning', 'detailed', 'old_detailed', 'draft')
""")


@pytest.fixture
def fresh(city, settings):
    """The coverage rebuilt for the current data (the job worker does it when idle)."""
    done = coverage.refresh(get_engine(settings))
    assert done.features > 0
    return done


def _features(conn, z: int) -> list[dict]:
    from planning_gis.settings import get_settings  # the session's test settings

    body = render_tile(conn, ZONES, TMS, TMS.tile(*CENTRE_LONLAT, z), get_settings())
    return mapbox_vector_tile.decode(body)["zones"]["features"] if body else []


def _plans_of(conn, feats: list[dict]) -> set[str]:
    rows = {r.id: r.plan for r in conn.execute(ZONES_BY_PLAN)}
    return {rows[f["id"]] for f in feats if f["id"] in rows}


def test_each_zoom_band_draws_what_its_scale_needs(fresh, conn):
    assert _plans_of(conn, _features(conn, 10)) == {"master"}
    assert _plans_of(conn, _features(conn, 12)) == {"master", "zoning"}
    # z14: the governing plan at each place; superseded and draft zones are not drawn
    assert _plans_of(conn, _features(conn, 14)) >= {"detailed"}
    assert not _plans_of(conn, _features(conn, 14)) & {"old_detailed", "draft"}
    # z16: every zone of every plan, as before
    assert _plans_of(conn, _features(conn, 16)) >= {"detailed", "old_detailed", "draft"}


def test_low_zoom_tiles_carry_only_the_drawing_properties(fresh, conn):
    low = _features(conn, 14)[0]["properties"]
    assert set(low) == {"label", "function_code", "color", "plan_id", "plan_kind", "plan_status"}
    high = next(f for f in _features(conn, 16) if f["properties"]["label"] == "CT-1")
    assert "far" in high["properties"] and "population" in high["properties"]


def test_the_coverage_has_no_overlaps_and_only_governing_zones(fresh, conn):
    # (shared edges may "overlap" by a rounding error of 0 m², in the source zones too)
    overlap_m2 = conn.execute(text("""
        SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) FROM zone_coverage a
          JOIN zone_coverage b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)
    """)).scalar_one()
    assert overlap_m2 < 0.01
    stacked = conn.execute(text("""
        SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) FROM land_use_zones a
          JOIN land_use_zones b ON a.plan_id <> b.plan_id AND ST_Intersects(a.geom, b.geom)
    """)).scalar_one()
    assert stacked > 10_000  # the source zones do overlap: the test could fail
    statuses = {r[0] for r in conn.execute(text(
        "SELECT DISTINCT p.status FROM zone_coverage c JOIN plans p ON p.id = c.plan_id"))}
    assert statuses <= {"approved", "amended"}
    # inside the detailed plan's block only its zones remain: the master and zoning plans' zones
    # were cut away there
    inside = conn.execute(text("""
        SELECT DISTINCT p.description FROM zone_coverage c JOIN plans p ON p.id = c.plan_id
         WHERE ST_Intersects(c.geom, ST_Buffer(ST_PointOnSurface(
               (SELECT geom FROM plans WHERE description = 'detailed')), 1))
    """)).scalars().all()
    assert inside == ["detailed"]


def test_an_edit_is_drawn_at_once_and_the_worker_rebuilds(fresh, settings):
    """After a write the coverage is stale: tiles read the live zones (the edit shows), and
    refresh_if_stale rebuilds it once the write has settled."""
    engine = get_engine(settings)
    with engine.begin() as c:
        assert coverage.is_current(c)
        zone = c.execute(text("SELECT z.id, z.label FROM land_use_zones z JOIN plans p"
                              " ON p.id = z.plan_id WHERE p.description = 'detailed'"
                              " ORDER BY z.id LIMIT 1")).one()
        c.execute(text("UPDATE land_use_zones SET label = 'CT-sửa' WHERE id = :i"),
                  {"i": zone.id})
    try:
        with engine.connect() as c:
            assert not coverage.is_current(c)
            labels = {f["properties"]["label"] for f in _features(c, 14)}
            assert "CT-sửa" in labels
        assert coverage.refresh_if_stale(engine, settle_seconds=3600) is None  # not settled
        done = coverage.refresh_if_stale(engine, settle_seconds=0)
        assert done is not None
        with engine.connect() as c:
            assert coverage.is_current(c)
            assert "CT-sửa" in {f["properties"]["label"] for f in _features(c, 14)}
        assert coverage.refresh_if_stale(engine, settle_seconds=0) is None  # nothing to do
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE land_use_zones SET label = :l WHERE id = :i"),
                      {"l": zone.label, "i": zone.id})
        coverage.refresh(engine)


def test_mid_zoom_reads_the_coverage_index_and_skips_the_live_zones(fresh, conn, settings):
    params = tile_params(ZONES, TMS, TMS.tile(*CENTRE_LONLAT, 14), settings)
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + tile_sql(ZONES, 14).text), params))
    assert "idx_zone_coverage_geom" in plan, plan
    live = plan[plan.index("NOT derived_layer_current"):]
    assert "never executed" in live, plan
    low = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN " + tile_sql(ZONES, 10).text),
        tile_params(ZONES, TMS, TMS.tile(*CENTRE_LONLAT, 10), settings)))
    assert "idx_zone_overview_geom" in low, low


def test_the_governing_layer_draws_only_the_governing_plan_at_z16(fresh, conn):
    """The citizen's default map: at z16, where ``zones`` has every level, ``governing`` has the
    governing plan's zones only (no blended levels whose colours leave the legend)."""
    from planning_gis.settings import get_settings

    governing = registry.get("governing", registry.MVT)
    body = render_tile(conn, governing, TMS, TMS.tile(*CENTRE_LONLAT, 16), get_settings())
    feats = mapbox_vector_tile.decode(body)["governing"]["features"]
    plans = _plans_of(conn, feats)
    assert "detailed" in plans and not plans & {"old_detailed", "draft", "master"}


def test_derived_tables_hold_what_a_tile_draws_in_the_web_grid(fresh, conn, settings):
    """A tile reads the derived tables alone (no join to 528,091 zones) and, on the web grid,
    no per-feature transform: their copies of the drawing fields, area and EPSG:3857 geometry
    agree with the zones they come from."""
    for table in ("zone_coverage", "zone_overview"):
        wrong = conn.execute(text(f"""
            SELECT count(*) FROM {table} t JOIN zones_with_legend z ON z.id = t.id
             WHERE (t.label, t.function_code, t.color, t.plan_kind, t.plan_status)
                   IS DISTINCT FROM (z.label, z.function_code, z.color, z.plan_kind, z.plan_status)
                OR abs(t.area_m2 - ST_Area(t.geom)) > 0.01
                OR NOT ST_Equals(ST_SnapToGrid(t.geom_web, 0.001),
                                 ST_SnapToGrid(ST_Transform(t.geom, 3857), 0.001))
        """)).scalar_one()
        assert wrong == 0, table
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
    params = tile_params(ZONES, TMS, TMS.tile(*CENTRE_LONLAT, 14), settings)
    plan = "\n".join(r[0] for r in conn.execute(
        text("EXPLAIN VERBOSE " + tile_sql(ZONES, 14).text), params))
    pre = plan[:plan.index("NOT derived_layer_current")]
    assert "land_use_zones" not in pre and "geom_web" in pre, plan
