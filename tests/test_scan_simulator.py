from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Polygon, box

from planning_gis.scan_simulator import demo_zones, simulate_scan

BOUNDS = (586000.0, 2325600.0, 586500.0, 2326000.0)


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "sheet.tif"
    zones = demo_zones(BOUNDS, seed=1)
    zones.append((box(586100, 2325700, 586200, 2325800), "#a0c8f0", "MN Hồ Đống Đa"))
    return simulate_scan(zones, BOUNDS, out, title="QUY HOẠCH CHI TIẾT – Phường Láng Hạ",
                         dpi=75, seed=1, shrink_px=5.0, drift_px=1.5)


def test_writes_the_image_it_describes(sheet):
    with Image.open(sheet.path) as img:
        assert img.size == (sheet.width, sheet.height)
        assert img.mode == "RGB"


def test_control_points_are_grid_crosses_with_small_reading_noise(sheet):
    assert len(sheet.control_points) >= 16
    for p in sheet.control_points:
        assert p.easting % sheet.grid_step_m == pytest.approx(0.0, abs=1e-6)
        e, n = sheet.pixel_to_map(np.array([p.pixel_x]), np.array([p.pixel_y]))
        err_px = np.hypot(e[0] - p.easting, n[0] - p.northing) / sheet.metres_per_pixel
        assert err_px < 2.0  # 0.35 px noise per axis


def test_check_points_and_mapping_are_consistent(sheet):
    for c in sheet.check_points:
        e, n = sheet.pixel_to_map(np.array([c.pixel_x]), np.array([c.pixel_y]))
        assert (e[0], n[0]) == pytest.approx((c.easting, c.northing), abs=1e-4)
        x, y = sheet.map_to_pixel(np.array([c.easting]), np.array([c.northing]))
        assert (x[0], y[0]) == pytest.approx((c.pixel_x, c.pixel_y), abs=1e-4)


def test_neatline_encloses_the_map_and_leaves_the_title_block_out(sheet):
    neat = Polygon(sheet.neatline_pixels)
    assert neat.is_valid
    assert all(neat.buffer(2).contains(Polygon([(c.pixel_x, c.pixel_y)] * 3).centroid)
               for c in sheet.check_points)
    assert neat.area < 0.85 * sheet.width * sheet.height  # the legend panel is outside


def test_the_check_marker_is_drawn_where_it_is(sheet):
    arr = np.asarray(Image.open(sheet.path)).astype(int)
    hits = 0
    for c in sheet.check_points:
        x, y = int(c.pixel_x), int(c.pixel_y)
        win = arr[max(0, y - 8) : y + 9, max(0, x - 8) : x + 9]
        red = (win[..., 0] > 120) & (win[..., 1] < 110) & (win[..., 2] < 110)
        hits += red.sum() >= 3
    assert hits >= 0.8 * len(sheet.check_points)
