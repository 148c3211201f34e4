"""The comparison engine on zones made in memory: each kind of change, paired by key or overlap."""

from __future__ import annotations

from shapely.geometry import MultiPolygon, box

from planning_gis.history.compare import Change, Legend, compare_zones
from planning_gis.history.states import ZoneState
from planning_gis.history.words import sentence

LEGEND = Legend({"OM": ("Đất ở mới", "New residential land", "#f4a460"),
                 "TH": ("Đất trường học", "School land", "#f08c8c"),
                 "CX": ("Đất cây xanh", "Green space", "#5cb85c")})
EMPTY = {"coverage_pct": None, "floors_min": None, "floors_max": None, "far": None,
         "population": None}


def z(zid: int, label: str, code: str, geom, **ind) -> ZoneState:
    return ZoneState(zid, 1, label, code, {**EMPTY, **ind}, MultiPolygon([geom]))


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def test_unchanged_zones_are_counted_not_listed():
    a = [z(1, "A.1", "OM", box(0, 0, 100, 100)), z(2, "A.2", "CX", box(120, 0, 220, 100))]
    b = [z(11, "A.1", "OM", box(0, 0, 100, 100)), z(12, "A.2", "CX", box(120, 0, 220, 100))]
    changes, unchanged = compare_zones(a, b)
    assert changes == [] and unchanged == 2


def test_function_changed_from_to_with_sentence():
    c = only(compare_zones([z(1, "C.3-2", "OM", box(0, 0, 100, 100))],
                           [z(9, "C.3-2", "TH", box(0, 0, 100, 100))])[0])
    assert c.kind == "modified" and c.what == ["function"]
    c.decision = {"number": "1234/QĐ-UBND", "date": "2021-06-15", "effective_on": "2021-06-15"}
    vi, en = sentence(c, LEGEND)
    assert vi == ("Năm 2021, ô C.3-2 chuyển từ đất ở mới sang đất trường học "
                  "(QĐ 1234/QĐ-UBND ngày 15/06/2021).")
    assert en.startswith("In 2021, zone C.3-2 changed from new residential land to school land")


def test_indicators_changed_old_to_new():
    c = only(compare_zones([z(1, "A", "OM", box(0, 0, 100, 100), coverage_pct=40.0,
                              floors_max=9)],
                           [z(1, "A", "OM", box(0, 0, 100, 100), coverage_pct=35.0,
                              floors_max=12)], by_id=True)[0])
    assert c.what == ["indicators"]
    assert [(i["field"], i["old"], i["new"]) for i in c.indicators] == [
        ("coverage_pct", 40.0, 35.0), ("floors_max", 9, 12)]
    assert "mật độ xây dựng 40 → 35" in sentence(c, LEGEND)[0]


def test_geometry_changed_gained_and_lost_m2():
    c = only(compare_zones([z(1, "A", "OM", box(0, 0, 100, 100))],
                           [z(1, "A", "OM", box(10, 0, 110, 100))], by_id=True)[0])
    assert c.what == ["geometry"]
    assert round(c.gained_m2) == 1000 and round(c.lost_m2) == 1000


def test_digitising_noise_is_not_a_change():
    changes, unchanged = compare_zones([z(1, "A", "OM", box(0, 0, 100, 100))],
                                       [z(1, "A", "OM", box(0, 0, 100, 100.005))], by_id=True)
    assert changes == [] and unchanged == 1


def test_added_and_removed():
    changes, _ = compare_zones([z(1, "A", "OM", box(0, 0, 100, 100))],
                               [z(2, "B", "CX", box(500, 0, 600, 100))])
    assert sorted(c.kind for c in changes) == ["added", "removed"]


def test_zone_split_in_two():
    a = [z(1, "C.3-2", "OM", box(0, 0, 100, 100))]
    b = [z(2, "C.3-2a", "TH", box(0, 0, 60, 100)), z(3, "C.3-2b", "OM", box(60, 0, 100, 100))]
    c = only(compare_zones(a, b)[0])
    assert c.kind == "split" and [x.label for x in c.b] == ["C.3-2a", "C.3-2b"]
    assert "function" in c.what and "geometry" not in c.what
    assert "được tách thành 2 ô" in sentence(c, LEGEND)[0]


def test_split_keeping_the_label_on_one_part_is_still_a_split():
    a = [z(1, "C.3-2", "OM", box(0, 0, 100, 100))]
    b = [z(2, "C.3-2", "OM", box(0, 0, 60, 100)), z(3, "C.3-2a", "TH", box(60, 0, 100, 100))]
    assert only(compare_zones(a, b)[0]).kind == "split"


def test_two_zones_merged():
    a = [z(1, "A", "OM", box(0, 0, 50, 100)), z(2, "B", "CX", box(50, 0, 100, 100))]
    b = [z(3, "AB", "CX", box(0, 0, 100, 100))]
    c = only(compare_zones(a, b)[0])
    assert c.kind == "merged" and [x.label for x in c.a] == ["A", "B"]
    assert "được gộp thành ô AB" in sentence(c, LEGEND)[0]


def test_neighbours_touching_are_not_paired():
    """Adjacent zones share an edge (no area): each pairs with its own successor only."""
    a = [z(1, "A", "OM", box(0, 0, 100, 100)), z(2, "B", "OM", box(100, 0, 200, 100))]
    b = [z(3, "A", "TH", box(0, 0, 101, 100)), z(4, "B", "OM", box(101, 0, 200, 100))]
    changes, _ = compare_zones(a, b)
    assert sorted(c.kind for c in changes) == ["modified", "modified"]


def test_label_reused_elsewhere_is_not_a_key():
    """A label found on both sides pairs only zones that overlap."""
    changes, _ = compare_zones([z(1, "X", "OM", box(0, 0, 100, 100))],
                               [z(2, "X", "OM", box(1000, 0, 1100, 100))])
    assert sorted(c.kind for c in changes) == ["added", "removed"]
