"""The residual report: every method's honest error, the ``auto`` choice with its reasons, and
the blunders named with their likely cause.

Blunders are found with a stiff reference fit (order-2 polynomial when there are enough points,
affine otherwise), removing the worst leave-one-out point while it stands far above the others.
They are always reported; they are left out of the fit only when the planner asks for it
(``drop_blunders``), because silently discarding a point hides a problem on the sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from planning_gis.errors import GeoreferenceError, NotEnoughControlPoints
from planning_gis.georef.control_points import ControlPoint
from planning_gis.georef.transforms import (
    DESCRIPTIONS,
    METHODS,
    PARAMETERS,
    EdgeObservations,
    Fit,
    PixelCorrection,
    as_arrays,
    build_transform,
    check_geometry,
    fit,
)

#: Points ``auto`` wants before it will consider a method: at least two redundant points, and
#: more for the flexible ones, whose leave-one-out figure is noisy with few points.
AUTO_MIN_POINTS = {"helmert": 3, "affine": 4, "projective": 6, "poly2": 8, "poly3": 14, "tps": 8,
                   "tps-smooth": 8}
#: Share of the sheet the points' convex hull must cover before ``auto`` trusts a method that
#: bends: polynomials and splines extrapolate wildly outside the points.
#: Measured against the neatline when it is known, else against the whole image (whose margins,
#: title block and legend hold no control points, hence the lower shares).
AUTO_MIN_COVER = {"poly2": 0.35, "poly3": 0.5, "tps": 0.35, "tps-smooth": 0.35}
IMAGE_COVER_FACTOR = 0.6
#: Methods from stiffest to most flexible, and the leave-one-out margin within which ``auto``
#: prefers the stiffer one. The smoothing spline is never more flexible than the exact one (it
#: is the exact one when its leave-one-out choice is no smoothing).
COMPLEXITY = ("helmert", "affine", "projective", "poly2", "poly3", "tps-smooth", "tps")
AUTO_TIE = 0.05
#: Standard errors of the paired leave-one-out differences within which ``auto`` also prefers
#: the simpler method (see :func:`analyse`).
AUTO_SE = 1.0
#: The methods whose lowest leave-one-out figure must clear that standard error: the splines,
#: which spend up to one parameter per point, so that their figure from 20 points is the
#: noisiest (on the Kastoria cadastre a chance 6 % lead of the exact spline cost 50 % at the
#: points left out); a polynomial's lead over a stiffer fit is taken as it stands, which the
#: scanner-drift sheets need (bench/georef_accuracy.py).
AUTO_SE_METHODS = ("tps", "tps-smooth")


@dataclass
class Blunder:
    index: int
    label: str
    error_m: float
    error_vector_m: tuple[float, float]
    cause: str
    detail: str

    def as_dict(self, dropped: bool) -> dict[str, object]:
        return {
            "label": self.label,
            "error_m": round(self.error_m, 3),
            "dx_m": round(self.error_vector_m[0], 3),
            "dy_m": round(self.error_vector_m[1], 3),
            "likely_cause": self.cause,
            "detail": self.detail,
            "dropped": dropped,
        }


def _hull_cover(pixels: np.ndarray, region_area: float | None) -> float | None:
    if not region_area or len(pixels) < 3:
        return None
    try:
        area = ConvexHull(pixels).volume
    except QhullError:
        return 0.0
    return float(min(1.0, area / region_area))


def _grid_step(values: np.ndarray) -> float | None:
    """The spacing of printed grid crosses, if the coordinates sit on a regular grid."""
    u = np.unique(np.round(values, 0))
    if len(u) < 2:
        return None
    diffs = np.diff(u)
    step = float(diffs.min())
    if step < 1.0:
        return None
    on_grid = np.abs((values - u[0]) / step - np.round((values - u[0]) / step)) * step < 1.0
    return step if on_grid.mean() >= 0.8 else None


def _digits_note(given: float, expected: float) -> str:
    g = f"{given:.0f}"
    e = f"{expected:.0f}"
    if len(g) != len(e):
        return "a digit missing or added"
    diff = [i for i in range(len(g)) if g[i] != e[i]]
    if len(diff) == 1:
        return f"one digit differs ({g[diff[0]]} typed where {e[diff[0]]} is expected)"
    if len(diff) == 2 and diff[1] == diff[0] + 1 and g[diff[0]] == e[diff[1]]:
        return "two neighbouring digits transposed"
    return f"{len(diff)} digits differ"


def _likely_cause(
    p: ControlPoint, pred: np.ndarray, tol: float, steps: tuple[float | None, float | None]
) -> tuple[str, str]:
    given = np.array([p.easting, p.northing])
    d = given - pred
    swapped = np.array([p.northing, p.easting])
    if np.hypot(*(swapped - pred)) < max(tol, 5.0):
        return (
            "swapped X/Y",
            f"easting and northing are swapped: X (northing) {p.northing:.2f} and Y (easting) "
            f"{p.easting:.2f} fit the other points the other way round",
        )
    se, sn = steps
    if se and sn:
        k = np.round(d / np.array([se, sn]))
        rest = d - k * np.array([se, sn])
        if np.any(k != 0) and np.all(np.abs(k) <= 2) and np.hypot(*rest) < tol:
            parts = []
            if k[0]:
                parts.append(f"{abs(k[0]) * se:.0f} m {'east' if k[0] > 0 else 'west'}")
            if k[1]:
                parts.append(f"{abs(k[1]) * sn:.0f} m {'north' if k[1] > 0 else 'south'}")
            return (
                "wrong grid cross",
                f"the typed coordinates are {' and '.join(parts)} of the cross under the pixel "
                f"(grid step {se:.0f} m): the pixel is on a neighbouring grid cross, near "
                f"E {pred[0]:.1f}, N {pred[1]:.1f}",
            )
    if abs(d[1]) < tol <= abs(d[0]):
        return (
            "typo in easting",
            f"easting {p.easting:.2f} is {d[0]:+.1f} m from where the other points put it "
            f"({pred[0]:.1f}): {_digits_note(p.easting, pred[0])}",
        )
    if abs(d[0]) < tol <= abs(d[1]):
        return (
            "typo in northing",
            f"northing {p.northing:.2f} is {d[1]:+.1f} m from where the other points put it "
            f"({pred[1]:.1f}): {_digits_note(p.northing, pred[1])}",
        )
    return (
        "misplaced point",
        f"the point is {np.hypot(*d):.1f} m from where the other points put it "
        f"(E {pred[0]:.1f}, N {pred[1]:.1f}): pixel clicked on the wrong feature or both "
        "coordinates wrong",
    )


def _reference_method(n: int) -> str | None:
    """The stiff fit blunders are judged against, for ``n`` points.

    Few points get the stiffest model (Helmert: 4 parameters), so that the fit without one
    point still has redundant observations to measure the others' spread with.
    """
    if n >= 10:
        return "poly2"
    if n >= 7:
        return "affine"
    if n >= MIN_BLUNDER_POINTS:
        return "helmert"
    return None


#: Points needed before blunders can be looked for: with one left out, a Helmert fit to the
#: other four still has four redundant coordinates to measure their spread.
MIN_BLUNDER_POINTS = 5


def _deletion_scores(
    method: str, pixels: np.ndarray, coords: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out error of each point in ``idx`` and the spread of the others without it.

    The spread is the others' residual standard error in the fit without the point (residual
    sum of squares over the redundant coordinates): once a blunder is left out the others fit
    tightly, while leaving out a good point keeps the blunder in and the spread large. The
    ratio therefore singles out a blunder even among five or six points, where a median of
    leave-one-out errors is itself dragged by the blunder.
    """
    errs = np.zeros(len(idx))
    spread = np.full(len(idx), np.inf)
    params = 4 if method == "helmert" else 2 * PARAMETERS[method]
    for j, i in enumerate(idx):
        sub = idx[idx != i]
        try:
            t = build_transform(method, pixels[sub], coords[sub])
        except GeoreferenceError:
            continue
        e, n = t.forward(pixels[i : i + 1, 0], pixels[i : i + 1, 1])
        errs[j] = np.hypot(e[0] - coords[i, 0], n[0] - coords[i, 1])
        fe, fn = t.forward(pixels[sub, 0], pixels[sub, 1])
        rss = float(((fe - coords[sub, 0]) ** 2 + (fn - coords[sub, 1]) ** 2).sum())
        dof = 2 * len(sub) - params
        if dof > 0:
            spread[j] = np.sqrt(rss / dof)
    return errs, spread


def find_blunders(
    points: Sequence[ControlPoint], *, factor: float = 5.0, floor_px: float = 8.0
) -> tuple[list[Blunder], str | None]:
    """Name points that do not fit the others, with their error and the likely cause.

    A point is a blunder when its leave-one-out error from the reference fit exceeds both
    ``floor_px`` scan pixels and ``factor`` times the others' spread in the fit without it (see
    :func:`_deletion_scores`: unlike a median of leave-one-out errors, which the blunder itself
    inflates, this finds one among as few as 5 points). The worst is removed and the test
    repeated, so that one blunder does not mask or frame another.
    """
    pts = [p for p in points if p.enabled]
    method = _reference_method(len(pts))
    if method is None:
        return [], (
            f"too few points to look for blunders ({MIN_BLUNDER_POINTS} needed)"
        )
    pixels, coords = as_arrays(pts)
    keep = np.ones(len(pts), bool)
    found: list[int] = []
    pixel_size = None
    limit = max(1, len(pts) // 3)
    while keep.sum() >= MIN_BLUNDER_POINTS and len(found) < limit:
        m = _reference_method(int(keep.sum()))
        assert m is not None
        idx = np.flatnonzero(keep)
        t_all = build_transform(m, pixels[idx], coords[idx])
        if pixel_size is None:
            pixel_size = t_all.pixel_size(*pixels.mean(axis=0))
        floor = floor_px * pixel_size
        errs, spread = _deletion_scores(m, pixels, coords, idx)
        ratio = errs / np.maximum(spread, 1e-12)
        worst = int(np.argmax(ratio))
        if errs[worst] <= floor or ratio[worst] <= factor:
            break
        keep[idx[worst]] = False
        found.append(int(idx[worst]))
    if not found:
        return [], None
    idx = np.flatnonzero(keep)
    m = _reference_method(len(idx)) or "affine"
    t = build_transform(m, pixels[idx], coords[idx])
    fe, fn = t.forward(pixels[idx, 0], pixels[idx, 1])
    clean = np.hypot(fe - coords[idx, 0], fn - coords[idx, 1])
    tol = max(4.0 * float(np.sqrt(np.mean(clean**2))), 3.0 * (pixel_size or 0.0), 1.0)
    steps = (_grid_step(coords[idx, 0]), _grid_step(coords[idx, 1]))
    out = []
    for i in found:
        e, n = t.forward(pixels[i : i + 1, 0], pixels[i : i + 1, 1])
        pred = np.array([e[0], n[0]])
        d = coords[i] - pred
        cause, detail = _likely_cause(pts[i], pred, tol, steps)
        out.append(
            Blunder(i, pts[i].label or str(i + 1), float(np.hypot(*d)), (float(d[0]),
                    float(d[1])), cause, detail)
        )
    return out, None


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _residual_rows(f: Fit, blunder_labels: set[str]) -> list[dict[str, object]]:
    rows = []
    loo_px_scale = 1.0 / f.pixel_size_m if f.pixel_size_m else float("nan")
    for i, p in enumerate(f.points):
        dx, dy = f.residuals_m[i]
        px, py = f.residuals_px[i]
        lx, ly = f.loo_m[i]
        loo = float(np.hypot(lx, ly))
        rows.append(
            {
                "label": p.label,
                "pixel_x": round(p.pixel_x, 2),
                "pixel_y": round(p.pixel_y, 2),
                "easting": round(p.easting, 3),
                "northing": round(p.northing, 3),
                "dx_m": _r(dx),
                "dy_m": _r(dy),
                "total_m": _r(np.hypot(dx, dy)),
                "dx_px": _r(px, 2),
                "dy_px": _r(py, 2),
                "total_px": _r(np.hypot(px, py), 2),
                "loo_m": _r(loo),
                "loo_px": _r(loo * loo_px_scale, 2),
                "blunder": p.label in blunder_labels,
            }
        )
    return rows


def _smoothing_summary(f: Fit) -> dict[str, float] | None:
    sm = f.transform.smoothing
    if sm is None:
        return None
    return {"relative": float(f"{sm['relative']:.3g}"),
            "effective_parameters": round(sm["effective_parameters"], 1)}


def _smoothing_phrase(f: Fit) -> str:
    sm = _smoothing_summary(f)
    if sm is None:
        return ""
    return (
        f" (smoothing {sm['relative']:g} x the mean bending eigenvalue, chosen by leave-one-out: "
        f"{sm['effective_parameters']:g} effective parameters per axis for {len(f.points)} points)"
    )


def _method_summary(f: Fit) -> dict[str, object]:
    out: dict[str, object] = {
        "description": DESCRIPTIONS[f.method],
        "rmse_m": _r(f.rmse_m),
        "rmse_px": _r(f.rmse_px, 2),
        "loo_rmse_m": _r(f.loo_rmse_m),
        "loo_rmse_px": _r(f.loo_rmse_m / f.pixel_size_m if f.loo_rmse_m else None, 2),
        "loo_max_m": _r(float(np.nanmax(f.loo_errors_m)) if f.loo_rmse_m else None),
        "pixel_size_m": _r(f.pixel_size_m, 4),
    }
    sm = _smoothing_summary(f)
    if sm is not None:
        out["smoothing"] = sm
    return out


def _check_rows(f: Fit, points: Sequence[ControlPoint]) -> list[dict[str, object]]:
    """Each disabled point's error against the chosen fit: an independent check (QGIS's meaning
    of a disabled point), since the fit never saw it."""
    rows = []
    for i, p in points:
        e, n = f.forward(np.array([p.pixel_x]), np.array([p.pixel_y]))
        dx, dy = float(e[0]) - p.easting, float(n[0]) - p.northing
        total = float(np.hypot(dx, dy))
        rows.append({
            "index": i,
            "label": p.label or f"K{i + 1}",
            "pixel_x": round(p.pixel_x, 2),
            "pixel_y": round(p.pixel_y, 2),
            "easting": round(p.easting, 3),
            "northing": round(p.northing, 3),
            "dx_m": _r(dx),
            "dy_m": _r(dy),
            "total_m": _r(total),
            "total_px": _r(total / f.pixel_size_m if f.pixel_size_m else None, 2),
        })
    return rows


def check_rmse(rows: Sequence[dict[str, object]]) -> float | None:
    """The root mean square of the check points' errors (None without check points)."""
    values = [float(r["total_m"]) for r in rows if r.get("total_m") is not None]  # type: ignore[arg-type]
    if not values:
        return None
    return float(np.sqrt(np.mean(np.square(values))))


@dataclass
class Report:
    """The outcome of :func:`analyse`: the chosen fit plus the JSON-ready report."""

    fit: Fit
    data: dict[str, object]
    fits: dict[str, Fit]


def analyse(
    points: Sequence[ControlPoint],
    method: str = "auto",
    *,
    methods: Sequence[str] = METHODS,
    drop_blunders: bool = False,
    image_size: tuple[int, int] | None = None,
    crs_epsg: int | None = None,
    include_all_residuals: bool = False,
    region_area_px: float | None = None,
    correction: PixelCorrection | None = None,
    edges: EdgeObservations | None = None,
) -> Report:
    """Fit the methods, choose one (``auto`` or the one asked), and build the report.

    ``correction`` (row and column shifts traced from the neatline, see
    :mod:`planning_gis.georef.neatline`) is undone before every method; blunders are still
    judged on the raw points, so that a correction never hides one. ``edges`` (neatline
    samples as one-coordinate observations) join the least-squares methods' fits.
    """
    enabled = [p for p in points if p.enabled]
    checks = [(i, p) for i, p in enumerate(points) if not p.enabled]
    labelled = [p if p.label else replace(p, label=str(i + 1)) for i, p in enumerate(enabled)]
    seen: set[str] = set()
    for i, p in enumerate(labelled):
        if p.label in seen:
            labelled[i] = p = replace(p, label=f"{p.label}#{i + 1}")
        seen.add(p.label)
    if len(labelled) < 2:
        raise NotEnoughControlPoints(
            f"at least 2 enabled control points are needed, {len(labelled)} given"
        )
    check_geometry(labelled)
    if image_size is not None:
        w, h = image_size
        tol = 0.01 * max(w, h)
        outside = [
            p.label for p in labelled
            if not (-tol <= p.pixel_x <= w + tol and -tol <= p.pixel_y <= h + tol)
        ]
        if outside:
            raise GeoreferenceError(
                f"control point(s) {', '.join(outside)} lie outside the {w} x {h} px image "
                "(pixel rows grow downwards; QGIS .points store them negated)"
            )
    if method != "auto" and method not in METHODS:
        raise GeoreferenceError(f"unknown method {method!r}: choose auto or {', '.join(METHODS)}")
    notes: list[str] = []
    blunders, why_none = find_blunders(labelled)
    if why_none:
        notes.append(why_none)
    blunder_labels = {b.label for b in blunders}
    used = [p for p in labelled if not (drop_blunders and p.label in blunder_labels)]
    if blunders:
        notes.append(
            f"{len(blunders)} blunder(s) "
            + ("left out of the fit (--drop-blunders)" if drop_blunders else
               "kept in the fit: use --drop-blunders to leave them out")
        )
    pixels, _ = as_arrays(used)
    factor = 1.0
    if region_area_px is None and image_size is not None:
        region_area_px = float(image_size[0] * image_size[1])
        factor = IMAGE_COVER_FACTOR
    cover = _hull_cover(pixels, region_area_px)
    fits: dict[str, Fit] = {}
    status: dict[str, dict[str, object]] = {}
    wanted = list(dict.fromkeys(list(methods) + ([method] if method != "auto" else [])))
    for m in wanted:
        entry: dict[str, object] = {"description": DESCRIPTIONS[m]}
        try:
            f = fit(used, m, correction=correction, edges=edges)
        except GeoreferenceError as exc:
            entry.update(supported=False, why_not=str(exc))
            status[m] = entry
            continue
        fits[m] = f
        entry.update(_method_summary(f))
        why_not = None
        if len(used) < AUTO_MIN_POINTS[m]:
            why_not = f"auto wants at least {AUTO_MIN_POINTS[m]} points, {len(used)} given"
        elif f.loo_rmse_m is None:
            why_not = "leave-one-out error cannot be computed"
        elif m in AUTO_MIN_COVER and cover is not None and cover < AUTO_MIN_COVER[m] * factor:
            why_not = (
                f"points cover {cover:.0%} of the "
                + ("map area" if factor == 1.0 else "image")
                + f", {AUTO_MIN_COVER[m] * factor:.0%} needed "
                "(this method bends wildly away from its points)"
            )
        entry["supported"] = why_not is None
        if why_not:
            entry["why_not"] = why_not
        if include_all_residuals:
            entry["residuals"] = _residual_rows(f, blunder_labels)
        status[m] = entry
    if method == "auto":
        candidates = [m for m, s in status.items() if s.get("supported")]
        if not candidates:
            raise NotEnoughControlPoints(
                f"no transformation can be chosen from {len(used)} control points: "
                + "; ".join(f"{m}: {s.get('why_not')}" for m, s in status.items())
            )
        ranking = sorted(candidates, key=lambda m: fits[m].loo_rmse_m or np.inf)
        best = ranking[0]
        best_loo = fits[best].loo_rmse_m or np.inf
        # A simpler method is preferred when it is within AUTO_TIE of the lowest or when its
        # leave-one-out mean square error exceeds the lowest by less than one standard error
        # of the paired per-point differences (Breiman's one-standard-error rule): on the 1925
        # Kastoria cadastre, an irregular real map, 20 points gave the exact spline a
        # leave-one-out figure 6 % below Helmert's by chance, and it then erred 50 % more at
        # the points left out (bench/georef_real.py). The 5 % margin alone ignores how noisy a
        # figure from 20 points is; stiffer surfaces behave better between and beyond them.
        def close_enough(m: str) -> tuple[bool, str]:
            loo = fits[m].loo_rmse_m or np.inf
            if loo <= best_loo * (1 + AUTO_TIE):
                return True, "tie"
            if best not in AUTO_SE_METHODS:
                return False, ""
            diff = (fits[m].loo_m ** 2).sum(axis=1) - (fits[best].loo_m ** 2).sum(axis=1)
            if len(diff) != len(used) or not np.all(np.isfinite(diff)):
                return False, ""
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
            return float(diff.mean()) <= AUTO_SE * se, "se"

        closeness = {m: close_enough(m) for m in candidates}
        chosen = min((m for m in candidates if closeness[m][0]), key=COMPLEXITY.index)
        reason = (
            f"{chosen} has the lowest leave-one-out error ({fits[chosen].loo_rmse_m:.3f} m)"
            if chosen == best
            else f"{chosen} ({fits[chosen].loo_rmse_m:.3f} m) is within {AUTO_TIE:.0%} of the "
            f"lowest leave-one-out error ({best} {best_loo:.3f} m) and simpler"
            if closeness[chosen][1] == "tie"
            else f"{chosen} ({fits[chosen].loo_rmse_m:.3f} m) is within one standard error of "
            f"the lowest leave-one-out error ({best} {best_loo:.3f} m) and simpler"
        )
        reason += _smoothing_phrase(fits[chosen])
        reason += " among " + ", ".join(f"{m} {fits[m].loo_rmse_m:.3f} m" for m in ranking)
        skipped = [f"{m} ({s['why_not']})" for m, s in status.items() if not s.get("supported")]
        if skipped:
            reason += "; not considered: " + "; ".join(skipped)
    else:
        if method not in fits:
            raise NotEnoughControlPoints(f"{method}: {status[method].get('why_not')}")
        chosen = method
        reason = f"{method} was asked for" + _smoothing_phrase(fits[method])
    f = fits[chosen]
    check_rows = _check_rows(f, checks)
    check_err = check_rmse(check_rows)
    if check_rows:
        notes.append(
            f"{len(check_rows)} check point(s) left out of the fit: independent error "
            f"{check_err:.3f} m RMSE"
        )
    data: dict[str, object] = {
        "method": chosen,
        "requested": method,
        "reason": reason,
        "crs": f"EPSG:{crs_epsg}" if crs_epsg else None,
        "points": len(labelled),
        "points_used": len(used),
        "rmse_m": _r(f.rmse_m),
        "rmse_px": _r(f.rmse_px, 2),
        "loo_rmse_m": _r(f.loo_rmse_m),
        "loo_rmse_px": _r(f.loo_rmse_m / f.pixel_size_m if f.loo_rmse_m else None, 2),
        "pixel_size_m": _r(f.pixel_size_m, 4),
        "check_rmse_m": _r(check_err),
        "check_count": len(check_rows),
        "check_points": check_rows,
        "smoothing": _smoothing_summary(f),
        "residuals": _residual_rows(f, blunder_labels),
        "blunders": [b.as_dict(drop_blunders) for b in blunders],
        "methods": status,
        "notes": notes,
    }
    return Report(f, data, fits)


def report(
    points: Sequence[ControlPoint],
    methods: Sequence[str] = METHODS,
    *,
    method: str = "auto",
    drop_blunders: bool = False,
    image_size: tuple[int, int] | None = None,
    crs_epsg: int | None = None,
) -> dict[str, object]:
    """The JSON-ready residual report of every method in ``methods`` (no warping)."""
    return analyse(
        points,
        method,
        methods=methods,
        drop_blunders=drop_blunders,
        image_size=image_size,
        crs_epsg=crs_epsg,
        include_all_residuals=True,
    ).data
