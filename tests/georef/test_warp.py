from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import Point, Polygon

from planning_gis.errors import CorruptImage, GeoreferenceError, InvalidGeometry, UnknownCRS
from planning_gis.georef.warp import parse_mask, warp_scan


@pytest.fixture(scope="module")
def warped(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("warp") / "sheet.tif"
    result = warp_scan(sim.path, sim.control_points, "EPSG:5897", "auto", out,
                       mask=sim.neatline_wkt)
    return result


def test_cog_is_valid_in_the_requested_crs_with_alpha(warped):
    valid, errors, _ = cog_validate(str(warped.path), quiet=True)
    assert valid, errors
    with rasterio.open(warped.path) as ds:
        assert ds.crs.to_epsg() == 5897
        assert ds.count == 4
        assert ds.colorinterp[3] == rasterio.enums.ColorInterp.alpha
        assert ds.overviews(1)  # internal overviews
        assert ds.res[0] == pytest.approx(warped.resolution)
    # resolution from the scan's own pixel size (1:2000 at 75 dpi = 0.677 m)
    assert warped.resolution == pytest.approx(2000 * 0.0254 / 75, rel=0.02)
    assert not list(warped.path.parent.glob(".*.tif"))  # no temporary files left


def test_alpha_is_zero_outside_the_neatline_and_full_inside(warped, sim):
    neat = Polygon(sim.neatline_pixels)
    xs, ys = sim.pixel_to_map(*np.array(neat.exterior.coords).T)
    neat_map = Polygon(np.column_stack([xs, ys]))
    with rasterio.open(warped.path) as ds:
        alpha = ds.read(4)
        rows, cols = np.mgrid[0 : ds.height : 7, 0 : ds.width : 7]
        x, y = rasterio.transform.xy(ds.transform, rows.ravel(), cols.ravel())
    inside = np.array([neat_map.contains(Point(a, b)) for a, b in zip(x, y, strict=True)])
    a = alpha[rows.ravel(), cols.ravel()]
    shrunk = neat_map.buffer(-3.0)
    deep = np.array([shrunk.contains(Point(a_, b_)) for a_, b_ in zip(x, y, strict=True)])
    grown = neat_map.buffer(3.0)
    far = ~np.array([grown.contains(Point(a_, b_)) for a_, b_ in zip(x, y, strict=True)])
    assert (a[deep] == 255).all()
    assert (a[far] == 0).all()
    assert inside.any() and (~inside).any()


@pytest.fixture(scope="module")
def warped_smooth(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("warp") / "smooth.tif"
    return warp_scan(sim.path, sim.control_points, "EPSG:5897", "tps-smooth", out,
                     mask=sim.neatline_wkt)


@pytest.mark.parametrize("which", ["warped", "warped_smooth"])
def test_hidden_check_markers_land_where_they_belong(which, sim, request):
    """Find each red marker in the COG and compare with its true coordinates."""
    warped = request.getfixturevalue(which)
    errors = []
    with rasterio.open(warped.path) as ds:
        rgba = ds.read()
        for c in sim.check_points:
            row, col = ds.index(c.easting, c.northing)
            r0, c0 = max(0, row - 15), max(0, col - 15)
            win = rgba[:, r0 : row + 16, c0 : col + 16].astype(int)
            red = (win[0] > 120) & (win[1] < 110) & (win[2] < 110) & (win[3] == 255)
            if red.sum() < 4:
                continue
            rr, cc = np.nonzero(red)
            x, y = rasterio.transform.xy(ds.transform, rr.mean() + r0, cc.mean() + c0)
            errors.append(np.hypot(x - c.easting, y - c.northing))
    assert len(errors) >= 0.7 * len(sim.check_points)
    # the ring's centroid, 0.68 m pixels: well within two pixels
    assert np.median(errors) < 1.4
    assert warped.report["loo_rmse_m"] < 2.0


def test_any_epsg_and_a_given_resolution(sim, tmp_path):
    out = tmp_path / "utm.tif"
    res = warp_scan(sim.path, sim.control_points, "EPSG:3405", "affine", out, resolution=2.0,
                    resampling="nearest")
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 3405
        assert ds.res == pytest.approx((2.0, 2.0))
    assert res.method == "affine"
    assert cog_validate(str(out), quiet=True)[0]


def test_mask_in_map_coordinates(sim, tmp_path):
    c = sim.control_points
    e = [p.easting for p in c]
    n = [p.northing for p in c]
    wkt = Polygon([(min(e), min(n)), (max(e), min(n)), (max(e), max(n)), (min(e), max(n))]).wkt
    res = warp_scan(sim.path, c, 5897, "affine", tmp_path / "m.tif", mask=wkt)
    assert res.bounds[0] <= min(e) + 1 and res.bounds[2] >= max(e) - 1
    assert res.bounds[2] - res.bounds[0] < (max(e) - min(e)) + 5


def test_mask_parsing(tmp_path):
    f = tmp_path / "neat.geojson"
    f.write_text('{"type": "Polygon", "coordinates": [[[0,0],[10,0],[10,10],[0,0]]]}')
    assert parse_mask(str(f)).area == 50
    with pytest.raises(InvalidGeometry):
        parse_mask("POINT (1 2)")
    with pytest.raises(InvalidGeometry):
        parse_mask("not a polygon at all")


def test_failure_leaves_nothing_behind(sim, tmp_path):
    bad = tmp_path / "cut.png"
    data = sim.path.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.tif"
    with pytest.raises(CorruptImage):
        warp_scan(bad, sim.control_points, 5897, "auto", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.png"]


def test_bad_points_fail_before_decoding(sim, tmp_path):
    with pytest.raises(GeoreferenceError):
        warp_scan(sim.path, sim.control_points[:2], 5897, "affine", tmp_path / "o.tif")
    with pytest.raises(UnknownCRS):
        warp_scan(sim.path, sim.control_points, "EPSG:999999", "affine", tmp_path / "o.tif")
    assert list(tmp_path.iterdir()) == []


def _tiled_copy(src, dst, **opts):
    with rasterio.open(src) as s:
        data = s.read()
        profile = {"driver": "GTiff", "width": s.width, "height": s.height, "count": s.count,
                   "dtype": "uint8", **opts}
    with rasterio.open(dst, "w", **profile) as d:
        d.write(data)


def test_tiff_read_by_window_warps_like_the_png(sim, warped, tmp_path):
    """A tiled TIFF is read window by window where it lies; a PNG goes through a tiled copy;
    both give the same pixels."""
    tif = tmp_path / "sheet.tif"
    _tiled_copy(sim.path, tif, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    out = tmp_path / "from_tif.tif"
    warp_scan(tif, sim.control_points, "EPSG:5897", "auto", out, mask=sim.neatline_wkt)
    with rasterio.open(out) as a, rasterio.open(warped.path) as b:
        assert np.array_equal(a.read(), b.read())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["from_tif.tif", "sheet.tif"]


def test_which_scans_are_read_in_place(sim, tmp_path):
    from planning_gis.georef.scan_io import _readable_by_window, probe_scan

    tiled = tmp_path / "tiled.tif"
    _tiled_copy(sim.path, tiled, tiled=True, blockxsize=256, blockysize=256)
    striped = tmp_path / "striped.tif"
    _tiled_copy(sim.path, striped, compress="deflate")  # GDAL's default: a few rows per strip
    assert _readable_by_window(probe_scan(tiled))
    assert _readable_by_window(probe_scan(striped))
    assert not _readable_by_window(probe_scan(sim.path))  # a PNG is decoded to a tiled copy


def test_failure_mid_warp_leaves_nothing_behind(sim, tmp_path):
    """A tile in the middle of the scan is damaged: the warp fails while writing blocks (the
    temporary output exists by then) and removes every temporary file."""
    tif = tmp_path / "damaged.tif"
    _tiled_copy(sim.path, tif, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(tif) as ds:
        row, col = ds.height // 512, ds.width // 512
        offset = int(ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
    with open(tif, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff" * size)
    with pytest.raises(CorruptImage, match="damaged.tif"):
        warp_scan(tif, sim.control_points, 5897, "auto", tmp_path / "out.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.tif"]


def test_failure_while_decoding_a_png_leaves_nothing_behind(sim, tmp_path):
    """Damaged compressed data inside the PNG (chunks intact): the tiled copy is being written
    when decoding fails; it is removed."""
    data = bytearray(sim.path.read_bytes())
    pos, idats = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == b"IDAT":
            idats.append((pos + 8, length))
        pos += 12 + length
    start, length = idats[len(idats) // 2]
    data[start : start + length] = b"\x00" * length
    bad = tmp_path / "damaged.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptImage, match="damaged.png"):
        warp_scan(bad, sim.control_points, 5897, "auto", tmp_path / "out.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.png"]


def test_warp_gdal_env_gets_the_configured_megabytes(settings):
    """The warp's GDAL block cache is the configured size in bytes, not 256 bytes."""
    from rasterio.env import get_gdal_config

    from planning_gis.georef.warp import _gdal_env

    with _gdal_env(settings):
        assert get_gdal_config("GDAL_CACHEMAX") == settings.gdal_cachemax_mb * 1024 * 1024
