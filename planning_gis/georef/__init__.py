"""Georeferencing engine: control points, honest residuals, seven transformations, warp to COG.

The public API is small on purpose so that the CLI and the planner's web workspace call the same
code::

    from planning_gis.georef import read_control_points, fit, report, warp_scan

* :func:`read_control_points` reads CSV, QGIS ``.points`` or GeoTIFF GCPs;
* :func:`fit` fits one transformation and gives residuals and leave-one-out errors;
* :func:`report` fits every method, picks ``auto`` and names blunders;
* :func:`warp_scan` warps a scan to a validated Cloud-Optimized GeoTIFF.
"""

from __future__ import annotations

from planning_gis.georef.control_points import (
    ControlPoint,
    ControlPointSet,
    read_control_points,
    write_csv,
    write_points,
)
from planning_gis.georef.report import report
from planning_gis.georef.transforms import METHODS, Fit, fit
from planning_gis.georef.warp import WarpResult, warp_scan

__all__ = [
    "METHODS",
    "ControlPoint",
    "ControlPointSet",
    "Fit",
    "WarpResult",
    "fit",
    "read_control_points",
    "report",
    "warp_scan",
    "write_csv",
    "write_points",
]
