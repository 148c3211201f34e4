"""Request parameters: one parser (planning_gis/web/params.py) and one wording for every endpoint."""

from __future__ import annotations

import pytest

from planning_gis.errors import InvalidInput, InvalidTile, NotFound
from planning_gis.web import params
from planning_gis.web.params import int_arg
from tiles.grid import get_tms

TMS = get_tms("WebMercatorQuad")


def test_absent_or_empty_is_the_default():
    assert int_arg({}, "limit", 10, 1) == 10
    assert int_arg({"limit": "  "}, "limit", None, 1) is None


def test_in_bounds():
    assert int_arg({"page": " 3 "}, "page", 1, 1, 100) == 3
    assert int_arg({"offset": "0"}, "offset", 0, 0) == 0


@pytest.mark.parametrize("args,high,words_vi", [
    ({"n": "ba"}, None, "phải là số nguyên"),
    ({"n": "2.5"}, 10, "phải là số nguyên"),
    ({"n": "-1"}, None, "lớn hơn hoặc bằng 0"),
    ({"n": "11"}, 10, "phải từ 0 đến 10"),
])
def test_refusals_name_the_argument(args, high, words_vi):
    with pytest.raises(InvalidInput) as err:
        int_arg(args, "n", 1, 0, high)
    assert err.value.message.startswith("n must be") and words_vi in err.value.message_vi


@pytest.mark.parametrize("path", ["/ogc/collections/zones/items?limit=abc",
                                  "/api/search?q=cau&limit=0", "/tai-lieu?year=1800"])
def test_endpoints_answer_400(client, path):
    r = client.get(path)
    assert r.status_code == 400


# --- numbers: the Vietnamese comma, thousands only where allowed -------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("21,0278", 21.0278), ("21.0278", 21.0278), (" 105,8 ", 105.8), ("-3", -3.0), ("+2,5", 2.5),
])
def test_numbers_take_the_vietnamese_comma_or_the_dot(raw, value):
    assert params.parse_number(raw, "lat") == value


@pytest.mark.parametrize("raw", ["2 326 000", "2.326.000", "2.326.000,5", "1,5e3", "1.000,5",
                                 "abc", "", "1,2,3", "1_000", "0x10", ".5"])
def test_numbers_refuse_grouping_and_other_spellings(raw):
    with pytest.raises(InvalidInput) as err:
        params.parse_number(raw, "lat")
    assert "lat must be a number" in err.value.message and err.value.message_vi


@pytest.mark.parametrize("raw", ["nan", "inf", "-Infinity"])
def test_numbers_must_be_finite(raw):
    with pytest.raises(InvalidInput, match="finite"):
        params.parse_number(raw, "lon")


@pytest.mark.parametrize(("raw", "value"), [
    ("2 326 256,8", 2326256.8), ("2.326.256,8", 2326256.8), ("2.326.256", 2326256.0),
    ("2326256.8", 2326256.8), ("2326256,8", 2326256.8), ("586.513", 586.513),
])
def test_thousands_where_the_form_allows_them(raw, value):
    assert params.parse_number(raw, "x_north", thousands=True) == value


@pytest.mark.parametrize("raw", ["2 32 256", "2.326.25,8", "2 326 256.8.1"])
def test_badly_grouped_thousands_are_refused(raw):
    with pytest.raises(InvalidInput):
        params.parse_number(raw, "x_north", thousands=True)


# --- ids, tiles, boxes -----------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["abc", "", "-1", "0", "1.5", "٣", "99999999999"])
def test_an_id_that_is_not_a_positive_whole_number_names_nothing(raw):
    with pytest.raises(NotFound):
        params.id_arg(raw, "sheet")


def test_an_id():
    assert params.id_arg(" 42 ", "sheet") == 42


@pytest.mark.parametrize(
    "zxy", [("a", "1", "1"), ("3", "8", "0"), ("3", "-1", "0"), ("99", "0", "0"), ("1.0", "0", "0")]
)
def test_tile_rejects(zxy):
    with pytest.raises(InvalidTile):
        params.tile(TMS, *zxy)


def test_tile():
    t = params.tile(TMS, "3", "7", "2")
    assert (t.z, t.x, t.y) == (3, 7, 2)


@pytest.mark.parametrize(("raw", "flipped", "box"), [
    ("105.8,21.0,105.9,21.1", False, (105.8, 21.0, 105.9, 21.1)),
    ("21.0,105.8,21.1,105.9", True, (105.8, 21.0, 105.9, 21.1)),
    ("105.8,21.0,0,105.9,21.1,10", False, (105.8, 21.0, 105.9, 21.1)),
])
def test_bbox(raw, flipped, box):
    assert params.bbox(raw, flipped) == box


@pytest.mark.parametrize("raw", ["a,b,c,d", "1,2,3", "106,21,105,20", "1,2,nan,4", "1,2,inf,4"])
def test_bad_bbox(raw):
    with pytest.raises(InvalidInput) as err:
        params.bbox(raw)
    assert err.value.code == "invalid_bbox"


# --- points ----------------------------------------------------------------------------------

def test_point_takes_the_comma_and_vn2000_thousands():
    a = params.point({"lon": "105,8342", "lat": "21,0278"})
    b = params.point({"x_north": "2 326 256,8", "y_east": "586513.4"})
    assert abs(a.lon - 105.8342) < 1e-9 and abs(b.lat - 21.0278) < 1e-4


@pytest.mark.parametrize("args", [{}, {"lon": "105.8", "lat": "21", "x_north": "1"},
                                  {"lon": "105.8", "lat": "21", "crs": "5897"}])
def test_point_refusals(args):
    with pytest.raises(InvalidInput):
        params.point(args)


# --- the same unknown-parameter check on every endpoint family --------------------------------

@pytest.mark.parametrize("path", [
    "/api/lookup?lon=105.8342&lat=21.0278&lng=1",
    "/api/citizen/place?lon=105.8342&lat=21.0278&zoom=3",
    "/api/info-sheet.pdf?lon=105.8342&lat=21.0278&zoom=3",
    "/api/citizen/find?q=cau&sort=1",
    "/api/search?q=cau&sort=1",
    "/api/documents?colour=red",
    "/api/zones.geojson?box=1,2,3,4",
    "/ogc/collections/zones/items?colour=red",
    "/tiles/sheets/1/tilejson.json?fmt=png",
])
def test_unknown_parameters_are_a_400_everywhere(client, path):
    """Every endpoint family but the tile images themselves, whose query string map clients use
    as a cache buster (``?v=2``): a tile answers the same whatever follows the ``?``."""
    r = client.get(path)
    assert r.status_code == 400, path
    doc = r.get_json()
    assert doc["code"] == "unknown_parameter" and doc["detail_vi"], doc


def test_unknown_parameter_on_a_posted_plot(client):
    ring = [[105.83, 21.02], [105.831, 21.02], [105.831, 21.021], [105.83, 21.02]]
    r = client.post("/api/lookup?srs=4326", json={"type": "Polygon", "coordinates": [ring]})
    assert r.status_code == 400 and r.get_json()["code"] == "unknown_parameter"


def test_the_vietnamese_comma_on_the_lookup_and_the_panel(client):
    for path in ("/api/lookup", "/api/citizen/place"):
        dot = client.get(f"{path}?lon=105.8342&lat=21.0278")
        comma = client.get(f"{path}?lon=105,8342&lat=21,0278")
        assert dot.status_code == comma.status_code == 200, path
        assert dot.get_json()["query" if path.endswith("lookup") else "point"] == \
            comma.get_json()["query" if path.endswith("lookup") else "point"]
