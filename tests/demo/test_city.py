"""The generated city is what the issue promises: every kind, overlaps, a superseded plan."""

from shapely.ops import unary_union

from planning_gis.crs import vn2000_to_lonlat
from planning_gis.demo.city import FICTIONAL, build_city
from planning_gis.models import PLAN_KINDS


def test_full_city_has_every_kind_and_enough_zones():
    city = build_city("full")
    kinds = {p.kind for p in city.plans}
    assert kinds == set(PLAN_KINDS)
    assert sum(len(p.zones) for p in city.plans) >= 500
    assert any(p.status == "superseded" for p in city.plans)
    assert all(FICTIONAL in p.name for p in city.plans)


def test_zones_are_valid_and_do_not_overlap_within_a_plan():
    city = build_city("tiny")
    for plan in city.plans:
        geoms = [z.geom for z in plan.zones]
        assert all(g.is_valid and not g.is_empty for g in geoms), plan.key
        overlap = sum(g.area for g in geoms) - unary_union(geoms).area
        assert overlap < 1.0, (plan.key, overlap)


def test_plans_overlap_and_lie_in_hanoi():
    city = build_city("tiny")
    by_key = {p.key: p for p in city.plans}
    assert by_key["detailed"].outline.within(by_key["zoning"].outline)
    assert by_key["zoning"].outline.within(by_key["master_2011"].outline)
    assert by_key["road"].outline.intersects(by_key["zoning"].outline)
    for plan in city.plans:
        c = plan.outline.centroid
        lon, lat = vn2000_to_lonlat(c.x, c.y)
        assert 105.28 < lon < 106.02 and 20.56 < lat < 21.39


def test_generation_is_deterministic():
    a, b = build_city("tiny"), build_city("tiny")
    assert [z.label for p in a.plans for z in p.zones] == [z.label for p in b.plans for z in p.zones]
