"""SheetReader on a real COG written by rasterio/rio-cogeo: tiles, masks, bounds, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from planning_gis.errors import InvalidInput, StoredFileUnreadable, TileOutsideBounds
from tests.serving_data import CENTRE_LONLAT, E0, N0, write_cog
from tiles.grid import get_tms
from tiles.reader import SheetReader, mosaic_tile, render

TMS = get_tms("WebMercatorQuad")


@pytest.fixture(scope="module")
def cog(tmp_path_factory):
    return write_cog(tmp_path_factory.mktemp("cog") / "sheet.tif",
                     (E0 - 250, N0 - 250, E0 + 250, N0 + 250))


def test_info_bounds_in_lonlat_and_zooms(cog, settings):
    with SheetReader(cog, TMS, settings) as r:
        info = r.info()
    w, s, e, n = info.bounds_lonlat
    assert w < CENTRE_LONLAT[0] < e and s < CENTRE_LONLAT[1] < n
    assert 0 <= info.minzoom <= info.maxzoom <= 24
    assert info.band_count == 4


def test_tile_over_the_centre_is_opaque_inside_and_png(cog, settings):
    t = TMS.tile(*CENTRE_LONLAT, 17)
    with SheetReader(cog, TMS, settings) as r:
        img = r.tile(t)
    assert img.array.shape == (3, 256, 256)  # alpha became the mask
    body, mime = render(img, "png")
    assert mime == "image/png"
    png = Image.open(io.BytesIO(body))
    assert png.mode == "RGBA"
    alpha = np.asarray(png)[..., 3]
    assert alpha.max() == 255


def test_tile_at_sheet_edge_is_transparent_outside_neatline(cog, settings):
    # A zoom-15 tile is much larger than the 500 m sheet: most of it is transparent.
    t = TMS.tile(*CENTRE_LONLAT, 15)
    with SheetReader(cog, TMS, settings) as r:
        body, _ = render(r.tile(t), "webp")
    alpha = np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))[..., 3]
    assert (alpha == 0).mean() > 0.5 and alpha.max() > 0


def test_tile_outside_sheet_raises_domain_error(cog, settings):
    t = TMS.tile(105.5, 21.2, 17)
    with SheetReader(cog, TMS, settings) as r, pytest.raises(TileOutsideBounds):
        r.tile(t)


def test_mosaic_of_nothing_raises_outside(cog, settings):
    with pytest.raises(TileOutsideBounds):
        mosaic_tile([str(cog)], TMS, settings, TMS.tile(105.5, 21.2, 17))
    img = mosaic_tile([str(cog), str(cog)], TMS, settings, TMS.tile(*CENTRE_LONLAT, 17))
    assert img.mask.max() == 255


def test_missing_cog_and_bad_format(cog, settings, tmp_path):
    with pytest.raises(StoredFileUnreadable):  # our file: a 5xx, not the client's 400
        SheetReader(tmp_path / "nope.tif", TMS, settings)
    with SheetReader(cog, TMS, settings) as r:
        img = r.tile(TMS.tile(*CENTRE_LONLAT, 17))
    with pytest.raises(InvalidInput):
        render(img, "gif")


def test_gdal_block_cache_gets_the_configured_megabytes(settings):
    """rasterio.Env takes GDAL_CACHEMAX in bytes; megabytes there made a 256-byte cache."""
    from rasterio.env import get_gdal_config

    from tiles.reader import gdal_env

    gdal_env(settings)
    assert get_gdal_config("GDAL_CACHEMAX") == settings.gdal_cachemax_mb * 1024 * 1024
    assert settings.gdal_cachemax_bytes >= 64 * 1024 * 1024
