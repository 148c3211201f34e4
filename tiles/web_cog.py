"""A serving copy of each published sheet, aligned to the Web Mercator tile grid.

A sheet's COG stays in VN-2000 (EPSG:5897), the plan's own system, for the archive and for
anyone who downloads it. Cutting XYZ tiles from it means reprojecting every tile on the fly;
measured on a demo sheet that costs about 100 ms a tile against about 14 ms from a copy whose
blocks already are the grid's tiles (rio-cogeo's ``tms`` option). So publishing writes both,
and the reader prefers the aligned copy when it exists.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import morecantile
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

SUFFIX = ".webmercator.tif"


def web_cog_path(cog_path: str | Path) -> Path:
    """Where the aligned copy of ``cog_path`` lives: next to it, same stem."""
    p = Path(cog_path)
    return p.with_name(p.stem + SUFFIX)


def make_web_cog(cog_path: str | Path, tms_id: str = "WebMercatorQuad") -> Path:
    """Write the grid-aligned copy of a sheet's COG (temp file, then rename) and return its path."""
    src = Path(cog_path)
    dst = web_cog_path(src)
    profile = cog_profiles.get("deflate")
    profile.update(blockxsize=256, blockysize=256, predictor=2)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-", suffix=".tif")
    os.close(fd)
    try:
        cog_translate(
            str(src), tmp, profile, tms=morecantile.tms.get(tms_id), quiet=True,
            resampling="bilinear", overview_resampling="bilinear", in_memory=False,
            config={"GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_TIFF_INTERNAL_MASK": True},
        )
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


def serving_path(cog_path: str | Path) -> str:
    """The file to cut tiles from: the aligned copy when it exists, else the COG itself."""
    web = web_cog_path(cog_path)
    return str(web) if web.exists() else str(cog_path)
