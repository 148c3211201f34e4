"""The datum shift and the X/Y order are where plans end up 220 m off: pin both down."""

import pytest

from planning_gis import crs
from planning_gis.errors import InvalidInput, OutsideHanoi, UnknownCRS


def test_lonlat_to_vn2000_applies_the_seven_parameter_shift():
    # domain.md: lon 105.8342, lat 21.0278 -> E 586 513.4, N 2 326 256.8 in EPSG:5897
    e, n = crs.lonlat_to_vn2000(105.8342, 21.0278)
    assert e == pytest.approx(586513.4, abs=0.5)
    assert n == pytest.approx(2326256.8, abs=0.5)


def test_round_trip_is_centimetre_exact():
    e, n = crs.lonlat_to_vn2000(105.79, 21.03)
    lon, lat = crs.vn2000_to_lonlat(e, n)
    assert (lon, lat) == pytest.approx((105.79, 21.03), abs=1e-8)


def test_vietnamese_order_x_is_northing():
    p = crs.resolve_projected(x_north=2326256.8, y_east=586513.4)
    assert p.lon == pytest.approx(105.8342, abs=1e-5)
    assert p.lat == pytest.approx(21.0278, abs=1e-5)
    assert p.easting == pytest.approx(586513.4)


def test_swapped_vn2000_pair_is_refused_with_the_reason():
    with pytest.raises(OutsideHanoi, match="swapped"):
        crs.resolve_projected(x_north=586513.4, y_east=2326256.8)


def test_pair_outside_hanoi_in_both_readings():
    with pytest.raises(OutsideHanoi, match="both axis readings"):
        crs.resolve_projected(x_north=1200000, y_east=400000)


def test_swapped_lonlat_is_named():
    with pytest.raises(OutsideHanoi, match="swapped"):
        crs.resolve_lonlat(21.03, 105.8)


def test_non_finite_coordinates_are_refused():
    with pytest.raises(InvalidInput):
        crs.resolve_lonlat(float("nan"), 21.0)


@pytest.mark.parametrize("value", ["EPSG:999999", "not-a-crs", ""])
def test_unknown_crs(value):
    with pytest.raises(UnknownCRS):
        crs.parse_crs(value)


@pytest.mark.parametrize(
    "value,code",
    [("EPSG:5897", 5897), ("5897", 5897), (3405, 3405),
     ("http://www.opengis.net/def/crs/EPSG/0/3857", 3857),
     ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326)],
)
def test_crs_spellings(value, code):
    assert crs.epsg_of(value) == code


def test_geographic_crs_refused_for_projected_pair():
    with pytest.raises(InvalidInput):
        crs.resolve_projected(2326256.8, 586513.4, crs="EPSG:4326")


@pytest.mark.parametrize("typed, value", [
    ("2.325.260", 2325260.0), ("2 325 260", 2325260.0), ("2\u00a0325\u202f260", 2325260.0),
    ("2 325 260,50", 2325260.5), ("586400,25", 586400.25), ("2,325,260.5", 2325260.5),
    ("2.325.260,5", 2325260.5), ("2325260.5", 2325260.5), ("105.8342", 105.8342),
    ("21,0278", 21.0278), (" 586 400 ", 586400.0), (586400, 586400.0), ("-12,5", -12.5),
])
def test_coordinates_typed_as_printed(typed, value):
    from planning_gis.crs import parse_printed_number

    assert parse_printed_number(typed) == pytest.approx(value)


@pytest.mark.parametrize("typed", ["", "abc", "2.325,260,5", "1-2", "2 325 260 m", "--1"])
def test_coordinates_that_are_not_numbers(typed):
    from planning_gis.crs import parse_printed_number

    with pytest.raises(ValueError):
        parse_printed_number(typed)


def test_the_editors_vn2000_grid_is_pyproj_to_the_millimetre():
    """The quadratics the editor's reference map uses (grid lines, cursor read-out) agree with
    pyproj's transformation, datum shift included, over a district."""
    import numpy as np

    from planning_gis.crs import local_vn2000_grid

    g = local_vn2000_grid((105.78, 21.0, 105.86, 21.06))
    assert g["max_error_m"] < 0.01
    lo = g["lonlat_origin"]
    u, v = 105.8342 - lo[0], 21.0278 - lo[1]
    t = np.array([1, u, v, u * u, u * v, v * v])
    assert float(t @ g["east"]) == pytest.approx(586513.4, abs=0.1)
    assert float(t @ g["north"]) == pytest.approx(2326256.8, abs=0.1)
    en = g["en_origin"]
    b = np.array([1, (586513.4 - en[0]) / 1000, (2326256.8 - en[1]) / 1000, 0, 0, 0])
    b[3:] = [b[1] ** 2, b[1] * b[2], b[2] ** 2]
    assert float(b @ g["lon"]) == pytest.approx(105.8342, abs=2e-6)
    assert float(b @ g["lat"]) == pytest.approx(21.0278, abs=2e-6)
