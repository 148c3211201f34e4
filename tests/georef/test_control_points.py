from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS

from planning_gis.crs import parse_crs
from planning_gis.errors import GeoreferenceError, InvalidInput, MissingFile, OutsideHanoi
from planning_gis.georef.control_points import read_control_points, write_csv, write_points


def test_csv_with_easting_northing_round_trips(tmp_path, make_grid):
    pts = make_grid()
    path = tmp_path / "gcps.csv"
    write_csv(pts, path)
    back = read_control_points(path, crs="EPSG:5897")
    assert back.epsg() == 5897
    for a, b in zip(back.points, pts, strict=True):
        assert (a.pixel_x, a.pixel_y) == pytest.approx((b.pixel_x, b.pixel_y), abs=1e-3)
        assert (a.easting, a.northing) == pytest.approx((b.easting, b.northing), abs=1e-3)
        assert a.label == b.label and a.enabled

def test_vietnamese_x_y_header_means_x_is_northing(tmp_path):
    path = tmp_path / "vn.csv"
    path.write_text(
        "pixel_x,pixel_y,X,Y\n10,20,2326000.5,586000.25\n500,20,2326000,586250\n10,400,2325800,586000\n",
        encoding="utf-8",
    )
    cps = read_control_points(path, crs=5897)
    p = cps.points[0]
    assert p.northing == 2326000.5 and p.easting == 586000.25
    assert "Vietnamese" in cps.notes[0]


def test_x_y_header_in_gis_order_is_detected_by_the_hanoi_check(tmp_path):
    path = tmp_path / "gis.csv"
    path.write_text("pixel_x;pixel_y;x;y\n10;20;586000;2326000\n500;20;586250;2326000\n"
                    "10;400;586000;2325800\n", encoding="utf-8")
    cps = read_control_points(path, crs=5897)
    assert cps.points[0].easting == 586000 and cps.points[0].northing == 2326000
    assert "GIS order" in cps.notes[0]


def test_file_outside_hanoi_in_both_readings_is_refused(tmp_path):
    path = tmp_path / "far.csv"
    path.write_text("pixel_x,pixel_y,easting,northing\n1,1,400000,1200000\n5,9,400100,1200000\n")
    with pytest.raises(OutsideHanoi, match="both axis readings"):
        read_control_points(path, crs=5897)


def test_swapped_columns_are_named_not_guessed(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text("pixel_x,pixel_y,easting,northing\n1,1,2326000,586000\n5,9,2326100,586000\n")
    with pytest.raises(OutsideHanoi, match="swapped"):
        read_control_points(path, crs=5897)


def test_missing_map_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("pixel_x,pixel_y,a,b\n1,2,3,4\n")
    with pytest.raises(InvalidInput, match="map columns"):
        read_control_points(path)


def test_not_a_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("pixel_x,pixel_y,easting,northing\n1,2,abc,2326000\n")
    with pytest.raises(InvalidInput, match="line 2"):
        read_control_points(path)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFile):
        read_control_points(tmp_path / "nope.csv")


def test_qgis_points_round_trip_with_negative_source_y(tmp_path, make_grid):
    pts = make_grid()
    pts[2] = type(pts[2])(**{**pts[2].__dict__, "enabled": False})
    path = tmp_path / "sheet.points"
    write_points(pts, path, parse_crs(5897))
    text = path.read_text()
    assert text.startswith("#CRS: ") and "mapX,mapY,sourceX,sourceY,enable" in text
    first = text.splitlines()[2].split(",")
    assert float(first[3]) == pytest.approx(-pts[0].pixel_y, abs=1e-3)
    back = read_control_points(path)
    assert back.epsg() == 5897
    assert back.points[0].pixel_y == pytest.approx(pts[0].pixel_y, abs=1e-3)
    assert not back.points[2].enabled
    assert len(back.enabled) == len(pts) - 1


def test_points_file_crs_wins_and_disagreement_is_noted(tmp_path, make_grid):
    path = tmp_path / "sheet.points"
    write_points(make_grid(), path, parse_crs(5897))
    cps = read_control_points(path, crs="EPSG:3405")
    assert cps.epsg() == 5897
    assert any("EPSG:3405" in n for n in cps.notes)


def test_geotiff_gcps(tmp_path, make_grid):
    pts = make_grid()
    path = tmp_path / "with_gcps.tif"
    gcps = [GroundControlPoint(p.pixel_y, p.pixel_x, p.easting, p.northing, id=p.label)
            for p in pts]
    with rasterio.open(path, "w", driver="GTiff", width=400, height=300, count=1,
                       dtype="uint8", gcps=gcps, crs=CRS.from_epsg(5897)) as dst:
        dst.write(np.zeros((1, 300, 400), np.uint8))
    cps = read_control_points(path)
    assert cps.epsg() == 5897
    assert len(cps.points) == len(pts)
    assert cps.points[5].easting == pytest.approx(pts[5].easting)
    assert cps.points[5].pixel_x == pytest.approx(pts[5].pixel_x)


def test_geotiff_without_gcps(tmp_path):
    path = tmp_path / "plain.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="uint8") as dst:
        dst.write(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(GeoreferenceError, match="no embedded control points"):
        read_control_points(path)
