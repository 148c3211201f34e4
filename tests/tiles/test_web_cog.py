"""The grid-aligned serving copy: same picture as the VN-2000 COG, blocks on the tile grid."""

import morecantile
import numpy as np
import pytest
import rasterio
from morecantile import Tile
from rasterio.errors import RasterioIOError

from planning_gis.crs import lonlat_to_vn2000
from planning_gis.settings import Settings
from tests.serving_data import write_cog
from tiles.reader import SheetReader
from tiles.web_cog import make_web_cog, serving_path, web_cog_path

TMS = morecantile.tms.get("WebMercatorQuad")
E0, N0 = lonlat_to_vn2000(105.80, 21.03)


@pytest.fixture
def cog(tmp_path):
    return write_cog(tmp_path / "sheet.tif", (E0 - 300, N0 - 300, E0 + 300, N0 + 300), res=0.5)


def test_aligned_copy_is_web_mercator_on_the_tile_grid(cog):
    web = make_web_cog(cog)
    assert web == web_cog_path(cog) and serving_path(cog) == str(web)
    with rasterio.open(web) as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.block_shapes[0] == (256, 256)
        assert ds.overviews(1)
        # the origin sits on a tile corner of the grid at the dataset's native zoom
        z = TMS.zoom_for_res(ds.res[0])
        tile = TMS.tile(*TMS.lnglat(ds.bounds.left + 1, ds.bounds.top - 1), z)
        ul = TMS.xy_bounds(tile)
        assert ds.bounds.left == pytest.approx(ul.left, abs=1e-3)
        assert ds.bounds.top == pytest.approx(ul.top, abs=1e-3)
    assert not [p for p in cog.parent.iterdir() if p.name.startswith(".tmp-")]


def test_tiles_from_both_files_show_the_same_picture(cog):
    settings = Settings.from_env({})
    tile = TMS.tile(105.80, 21.03, 17)
    with SheetReader(cog, TMS, settings) as r:
        before = r.tile(Tile(tile.x, tile.y, tile.z))
    make_web_cog(cog)
    with SheetReader(cog, TMS, settings) as r:
        assert r.path.endswith(".webmercator.tif")
        after = r.tile(Tile(tile.x, tile.y, tile.z))
    both = (before.mask > 0) & (after.mask > 0)
    assert both.mean() > 0.9
    diff = np.abs(before.data[:3].astype(int) - after.data[:3].astype(int))[:, both]
    assert np.median(diff) <= 2


def test_transparent_margin_survives(cog):
    web = make_web_cog(cog)
    with rasterio.open(web) as ds:
        alpha = ds.read(4) if ds.count == 4 else ds.read_masks(1)
    assert alpha.min() == 0 and alpha.max() == 255


def test_a_broken_source_leaves_no_file(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(RasterioIOError):
        make_web_cog(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tif"]
