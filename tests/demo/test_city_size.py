"""The Hanoi-size city, at a tiny size: its generator's geometry and the loader's resumability.

The full size (``demo load --size city``) takes minutes and is measured by ``bench/city.py``;
here the same code runs on a couple of plans per kind, each test in seconds.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text

from planning_gis import db, legend, migrate
from planning_gis.demo import city_size
from planning_gis.demo.city_load import BATCH_TABLE, TABLES, load_city
from planning_gis.legend import read_legend_csv
from planning_gis.models import PLAN_KINDS, PLAN_STATUSES
from planning_gis.settings import Settings
from tests.conftest import create_database, drop_database

SMALL = city_size.small(plans=2)


@pytest.fixture(scope="module")
def specs() -> list[city_size.PlanSpec]:
    return city_size.plan_specs(SMALL)


@pytest.fixture(scope="module")
def built(specs) -> list[city_size.CityPlan]:
    return [city_size.build_plan(s, SMALL) for s in specs]


def test_the_full_city_is_laid_out_at_the_issues_size():
    specs = city_size.plan_specs(city_size.CITY)
    assert len(specs) >= 1500
    assert {s.kind for s in specs} == set(PLAN_KINDS)
    assert {s.status for s in specs} == set(PLAN_STATUSES)
    assert {s.scale_denominator for s in specs if s.kind == "phan_khu"} == {2000, 5000}
    assert sum(1 for s in specs if s.kind == "chung" and s.status == "approved") == 1
    assert sum(s.documents for s in specs) == 100_000
    assert sum(s.sheet for s in specs) == 300
    roads = sum(1 for s in specs if s.layout == "road")
    assert roads * city_size.CITY.road_sections == 5000
    chains = [s for s in specs if s.supersedes]
    assert len(chains) > 100
    # a batch never splits a chain: every superseded plan is loaded with (before) its successor
    where = {s.key: name for name, group in city_size.batches(specs) for s in group}
    assert all(where[s.key] == where[s.supersedes] for s in chains)


def test_every_plan_of_the_full_city_lies_inside_hanoi():
    """The 1/5000 ring once reached past 106.05° E, where a look-up is refused as outside Hanoi."""
    ex0, ey0, ex1, ey1 = city_size.extent_m()
    for s in city_size.plan_specs(city_size.CITY):
        if s.layout == "road":
            continue
        x, y, w, h = s.rect
        assert ex0 <= x and x + w <= ex1 and ey0 <= y and y + h <= ey1, s.key


def test_small_city_has_every_kind_and_chains_point_at_earlier_plans(specs):
    keys = [s.key for s in specs]
    assert {s.kind for s in specs} == set(PLAN_KINDS)
    assert all(s.name.endswith("(minh họa)") for s in specs)
    for s in specs:
        if s.supersedes:
            assert s.supersedes in keys[:keys.index(s.key)]
            old = specs[keys.index(s.supersedes)]
            assert old.status == "superseded" and old.valid_to is not None
            assert s.valid_from is None or old.valid_to < s.valid_from
    assert any(s.supersedes for s in specs if s.kind == "chi_tiet")


def test_zones_are_valid_inside_hanoi_and_never_overlap_within_a_plan(built):
    codes = {row["code"] for row in read_legend_csv()}
    to_ll = Transformer.from_crs(5897, 4326, always_xy=True)
    w, s, e, n = city_size.HANOI_LONLAT
    for plan in built:
        assert plan.zone_count > 0, plan.spec.key
        assert shapely.is_valid(plan.geoms).all(), plan.spec.key
        assert (shapely.get_type_id(plan.geoms) == 6).all()  # MultiPolygon, the column's type
        assert set(plan.codes.tolist()) <= codes
        assert all(plan.labels)
        x0, y0, x1, y1 = shapely.total_bounds(plan.geoms)
        lons, lats = to_ll.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
        assert all(w <= lon <= e for lon in lons), plan.spec.key
        assert all(s <= lat <= n for lat in lats), plan.spec.key
        # pairs whose boxes meet: their shared area is nil (they may touch along a street edge)
        tree = shapely.STRtree(plan.geoms)
        a, b = tree.query(plan.geoms, predicate="intersects")
        pairs = a < b
        if pairs.any():
            shared = shapely.area(shapely.intersection(plan.geoms[a[pairs]], plan.geoms[b[pairs]]))
            assert shared.max() < 0.01, plan.spec.key
        # the zones fill the plan (blocks + streets), like a drawn plan
        assert abs(shapely.area(plan.geoms).sum() - plan.outline.area) < 0.01 * plan.outline.area
        residential = np.isin(plan.codes, ["OM", "NO", "HH"])
        assert (plan.population[residential] >= 0).all()
    roads = [p for p in built if p.spec.layout == "road"]
    assert roads and all(len(p.red_lines) == SMALL.road_sections for p in roads)
    assert all(name and width > 0 for p in roads for name, width, _ in p.red_lines)


def test_generation_is_deterministic(specs, built):
    again = city_size.build_plan(specs[-1], SMALL)
    assert again.labels == built[-1].labels
    assert shapely.equals_exact(again.geoms, built[-1].geoms, 0).all()


def test_documents_carry_text_to_search(specs, built):
    docs = [d for p in built for d in city_size.documents_for_plan(p.spec, p, SMALL)]
    assert len(docs) == SMALL.documents
    assert len({d.sha256 for d in docs}) == len(docs)
    assert all(d.title and len(d.text) > 200 and "minh họa" in d.text for d in docs)
    assert {d.doc_type for d in docs} >= {"quyet_dinh", "thuyet_minh", "quy_dinh", "ban_ve"}


# --- loading (a database of its own per test: the session's demo database stays as it is) ------

@pytest.fixture
def fresh_db(tmp_path: Path):
    made = []

    def make(tag: str) -> Settings:
        name = f"planning_test_city_{os.getpid()}_{tag}"
        url = create_database(name)
        s = Settings.from_env(database_url=url, data_dir=str(tmp_path / tag),
                              secret_key=secrets.token_urlsafe(48))
        migrate.upgrade("head", s)
        with db.session_scope(s) as session:
            legend.load_legend(session)
        made.append(name)
        return s

    yield make
    for name in made:
        drop_database(name)


def _snapshot(settings: Settings) -> dict[str, object]:
    """Counts of every table the city fills, and a digest of the zones and plans as loaded."""
    with db.get_engine(settings).connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        digest = conn.execute(text(
            "SELECT md5(string_agg(p.name || '|' || z.label || '|' || ST_AsText(z.geom), ',' "
            "ORDER BY p.name, z.label, ST_AsText(z.geom))) FROM land_use_zones z "
            "JOIN plans p ON p.id = z.plan_id")).scalar_one()
        chains = conn.execute(text(
            "SELECT count(*) FROM plans p JOIN plans o ON o.id = p.supersedes_id "
            "WHERE o.status = 'superseded'")).scalar_one()
        unique_docs = conn.execute(text(
            "SELECT count(DISTINCT file_sha256) = count(*) FROM documents")).scalar_one()
    return {"counts": counts, "digest": digest, "chains": chains, "unique_docs": unique_docs}


class Killed(Exception):
    pass


@pytest.mark.db
def test_a_killed_load_resumes_and_ends_as_one_clean_run(fresh_db):
    clean = fresh_db("clean")
    load_city(clean, size=SMALL, out=lambda _: None)
    expected = _snapshot(clean)
    assert expected["counts"]["land_use_zones"] > 500
    assert expected["counts"]["documents"] == SMALL.documents + SMALL.pdfs
    assert expected["counts"]["map_sheets"] == SMALL.sheets
    assert expected["chains"] >= 2 and expected["unique_docs"]

    resumed = fresh_db("resumed")
    seen: list[str] = []

    def kill_after_third(name: str) -> None:
        seen.append(name)
        if len(seen) == 3:
            raise Killed(name)

    with pytest.raises(Killed):
        load_city(resumed, size=SMALL, after_batch=kill_after_third, out=lambda _: None)
    with db.get_engine(resumed).connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {BATCH_TABLE}")).scalar_one() == 3
    lines: list[str] = []
    summary = load_city(resumed, size=SMALL, out=lines.append)
    assert summary.batches_skipped == 3 and "3 already loaded" in lines[0]
    assert _snapshot(resumed) == expected
    # a third run has nothing left to do, and adds nothing
    assert load_city(resumed, size=SMALL, out=lambda _: None).loaded is False
    assert _snapshot(resumed) == expected


@pytest.mark.db
def test_loaded_city_is_fictional_valid_and_its_sheets_have_cogs(fresh_db):
    s = fresh_db("valid")
    load_city(s, size=SMALL, out=lambda _: None)
    with db.get_engine(s).connect() as conn:
        assert conn.execute(text(
            "SELECT bool_and(is_fictional) FROM plans")).scalar_one()
        assert conn.execute(text(
            "SELECT count(*) FROM land_use_zones a JOIN land_use_zones b ON a.plan_id = b.plan_id "
            "AND a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')"
        )).scalar_one() == 0
        units = conn.execute(text(
            "SELECT count(*) FILTER (WHERE valid_to = '2025-06-30'), "
            "count(*) FILTER (WHERE valid_from = '2025-07-01'), "
            "count(*) FILTER (WHERE valid_to = '2025-06-30' AND successor_id IS NOT NULL) "
            "FROM admin_units")).one()
        assert units == (30, 126, 30)
        cogs = conn.execute(text("SELECT cog_path FROM published_sheets")).scalars().all()
        editions = conn.execute(text(
            "SELECT min(edition) FROM layer_editions WHERE layer IN ('zones', 'lookup')"
        )).scalar_one()
    assert len(cogs) == SMALL.sheets
    for name in cogs:
        assert (s.cogs_dir / name).exists()
        assert (s.cogs_dir / name.replace(".tif", ".webmercator.tif")).exists()
    assert editions > 0  # the COPY statements bumped the layers' editions (migration 0006)


def test_demo_size_city_is_a_setting():
    assert Settings.from_env({"PLANNING_DEMO_SIZE": "city"}, secret_key="k" * 48).demo_size == "city"


@pytest.mark.db
def test_demo_load_size_city_reaches_the_city_loader(fresh_db):
    """``demo load --size city`` (and PLANNING_DEMO_SIZE=city) go to the city loader: with every
    batch of the full city recorded as done, the command says so instead of loading the demo."""
    import subprocess
    import sys

    from planning_gis.demo import load_demo
    from planning_gis.demo.city_load import done_batches
    from planning_gis.settings import PROJECT_ROOT

    s = fresh_db("cli")
    done_batches(s)  # makes the table
    names = [n for n, _ in city_size.batches(city_size.plan_specs())] + ["pdfs", "accounts"]
    with db.get_engine(s).begin() as conn:
        conn.execute(text(f"INSERT INTO {BATCH_TABLE} (name, plans, zones, documents, seconds) "
                          "SELECT unnest(CAST(:n AS text[])), 0, 0, 0, 0"), {"n": names})
    assert load_demo(s, size="city").loaded is False
    env = dict(os.environ, PLANNING_DATABASE_URL=s.database_url, PLANNING_DATA_DIR=s.data_dir,
               PYTHONPATH=str(PROJECT_ROOT))
    out = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "demo", "load",
                          "--size", "city"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "city already loaded" in out.stdout
    with db.get_engine(s).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plans")).scalar_one() == 0
