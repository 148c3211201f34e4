"""The neatline as a control feature: tracing the map frame in the scan, and what it tells the fit.

Why: a sheet's grid crosses are 10 cm of paper apart, so no surface through them can follow a
scanner carriage that wobbles over a shorter distance, and each cross carries its own reading
noise. The neatline (khung bản đồ) is a straight rectangle in map coordinates drawn the whole way
round the map: traced every few pixels it gives hundreds of one-coordinate observations (every
point of the left edge has easting E_left, ...). They observe the sideways shift of each scan
row along the whole height (left and right edges) and the shift of each column along the width
(top and bottom edges): a :class:`~planning_gis.georef.transforms.PixelCorrection` undone before
the main model, which is then refitted on the corrected control points.

How:

* The frame's map rectangle comes from ``--neatline-bounds`` or from the control points that lie
  on it (the frame's corners and ticks carry coordinates: several points sharing the extreme
  easting or northing). An edge that cannot be inferred is not traced.
* Each edge is predicted in the scan by the points-only fit and traced in windows around the
  prediction (never the whole scan): at every sample row (left/right) or column (top/bottom) the
  profile across the edge, within a search window of a few times the fit's error, must show one
  dark run of the line's width; its centre is the darkness-weighted centroid (sub-pixel). Text,
  crossing lines and grid-cross arms give no single run of that width and are rejected, as are
  robust outliers from a smooth curve along the edge.
* An edge is traced reliably when most of its samples are kept and they scatter little about
  that curve. The shifts are then estimated by iterating: fit a stiff model (order-2
  polynomial, or affine with few points) on the corrected points, take each edge sample's
  misfit across the edge, smooth it along the edge (a penalised piecewise-linear curve, with one
  free offset per edge for the printed line's width), add it to the shifts.
* The kept samples also join the least-squares fits (affine, polynomials) as one-coordinate
  observations with a free offset per edge: they pin the shape of a shrunk sheet along its
  border, so the reading noise of 30 crosses weighs less.
* Nothing here can make a warp fail: no scan, no inferable frame, a frame outside the scan or
  an untraceable edge all end in a report that says why, and the points-only fit is used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from planning_gis.errors import GeoreferenceError, InvalidInput
from planning_gis.georef.control_points import ControlPoint
from planning_gis.georef.report import AUTO_TIE, Report, analyse
from planning_gis.georef.scan_io import ScanWindows
from planning_gis.georef.transforms import (
    EDGE_METHODS,
    EdgeObservations,
    PixelCorrection,
    Transform,
    as_arrays,
    build_transform,
)

SIDES = ("left", "right", "top", "bottom")
#: Sides whose line runs down the scan (traced along rows, observing eastings).
VERTICAL = ("left", "right")
#: Minimum control points sharing an extreme coordinate before it is taken for the frame.
MIN_POINTS_ON_EDGE = 2
#: An edge is reliable when at least this share of its samples is kept ...
MIN_KEPT_SHARE = 0.5
MIN_KEPT = 12
#: ... and the kept samples scatter less than this (pixels) about a smooth curve along it.
MAX_EDGE_RMS_PX = 0.5
#: Darkness (0..255) the line must stand above the paper to be seen at all.
MIN_CONTRAST = 50.0
#: Rows (or columns) averaged into one profile: less noise, same centre for a near-straight line.
PROFILE_SPAN = 3
#: Refitting rounds of the correction.
ITERATIONS = 4


def parse_bounds(text: str) -> tuple[float, float, float, float]:
    """``minE,minN,maxE,maxN`` from the command line, or an :class:`InvalidInput` saying why."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            f"--neatline-bounds must be four numbers minE,minN,maxE,maxN, got {text!r}"
        )
    min_e, min_n, max_e, max_n = values
    if not (max_e > min_e and max_n > min_n):
        raise InvalidInput(
            f"--neatline-bounds {text!r}: maxE must exceed minE and maxN must exceed minN"
        )
    return min_e, min_n, max_e, max_n


@dataclass
class Frame:
    """The neatline's map rectangle: the sides known, and the span along each."""

    sides: dict[str, float]  # side -> easting (left/right) or northing (top/bottom)
    extent: tuple[float, float, float, float]  # minE, minN, maxE, maxN spanned along the edges
    source: str  # "given" or "control points"


def infer_frame(points: Sequence[ControlPoint]) -> tuple[Frame | None, str | None]:
    """The frame from the control points lying on it, or None and the reason.

    A side is taken when at least :data:`MIN_POINTS_ON_EDGE` points share the extreme easting
    (northing) within a small tolerance: corners and ticks of a printed frame do; interior grid
    crosses alone would too, and then the trace finds no line there and says so.
    """
    _, coords = as_arrays([p for p in points if p.enabled])
    if len(coords) < 4:
        return None, "too few control points to infer the neatline"
    span = coords.max(axis=0) - coords.min(axis=0)
    sides: dict[str, float] = {}
    for side, axis, pick in (("left", 0, np.min), ("right", 0, np.max), ("bottom", 1, np.min),
                             ("top", 1, np.max)):
        value = float(pick(coords[:, axis]))
        tol = max(1e-3 * float(span[axis]), 0.01)
        if int((np.abs(coords[:, axis] - value) <= tol).sum()) >= MIN_POINTS_ON_EDGE:
            sides[side] = value
    if not sides:
        return None, (
            "no neatline inferred: no two control points share an extreme easting or northing "
            "(give --neatline-bounds)"
        )
    mins = coords.min(axis=0)
    maxs = coords.max(axis=0)
    return Frame(sides, (float(mins[0]), float(mins[1]), float(maxs[0]), float(maxs[1])),
                 "control points"), None


def given_frame(bounds: tuple[float, float, float, float]) -> Frame:
    min_e, min_n, max_e, max_n = bounds
    return Frame({"left": min_e, "right": max_e, "bottom": min_n, "top": max_n}, bounds, "given")


@dataclass
class EdgeTrace:
    """The samples of one side: where the line was found across the edge, and which count."""

    side: str
    value: float  # the side's easting or northing
    along: np.ndarray  # sample row (vertical sides) or column (horizontal), pixels
    across: np.ndarray  # the line's centre across the edge (column or row), pixels; NaN if none
    kept: np.ndarray  # bool
    attempted: int
    reasons: dict[str, int] = field(default_factory=dict)
    rms_px: float | None = None  # kept samples about a smooth curve along the edge
    reliable: bool = False
    why_not: str | None = None

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw scan pixels (column, row) of the kept samples."""
        a, c = self.along[self.kept], self.across[self.kept]
        return (c, a) if self.side in VERTICAL else (a, c)

    def summary(self) -> dict[str, object]:
        return {
            "value": round(self.value, 3),
            "samples": self.attempted,
            "kept": int(self.kept.sum()),
            "rejected": self.attempted - int(self.kept.sum()),
            "rejected_why": dict(self.reasons),
            "rms_px": None if self.rms_px is None else round(self.rms_px, 3),
            "traced": self.reliable,
            **({"why_not": self.why_not} if self.why_not else {}),
        }


def _hat_basis(t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Linear-interpolation weights of ``t`` on ``knots`` (n x K): np.interp as a matrix."""
    k = len(knots)
    b = np.zeros((len(t), k))
    tc = np.clip(t, knots[0], knots[-1])
    j = np.clip(np.searchsorted(knots, tc, side="right") - 1, 0, k - 2)
    w = (tc - knots[j]) / (knots[j + 1] - knots[j])
    b[np.arange(len(t)), j] = 1.0 - w
    b[np.arange(len(t)), j + 1] += w
    return b


def _knots(lo: float, hi: float, step: float) -> np.ndarray:
    n = max(2, int(math.ceil((hi - lo) / step)) + 1)
    return np.linspace(lo, hi if hi > lo else lo + 1.0, n)


def smooth_along(
    t: np.ndarray, values: np.ndarray, groups: np.ndarray, knots: np.ndarray, stiffness: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth curve through ``values`` along ``t``, plus one free offset per group.

    Penalised least squares on a piecewise-linear curve (second differences penalised, the
    weight scaled by the samples per knot so that the result does not depend on the sampling
    step). The offsets absorb what differs between edges by a constant (the printed line's
    width drawn inside the frame, for one). Returns the curve at the knots and the offsets.
    """
    b = _hat_basis(t, knots)
    ng = int(groups.max()) + 1 if len(groups) else 1
    g = np.zeros((len(t), ng))
    g[np.arange(len(t)), groups] = 1.0
    a = np.hstack([b, g])
    k = len(knots)
    per_knot = max(1.0, len(t) / k)
    d = np.diff(np.eye(k), 2, axis=0) if k >= 3 else np.zeros((0, k))
    pen = np.zeros((k + ng, k + ng))
    pen[:k, :k] = stiffness * per_knot * (d.T @ d) + 1e-6 * per_knot * np.eye(k)
    lhs = a.T @ a + pen
    sol = np.linalg.lstsq(lhs, a.T @ values, rcond=None)[0]
    return sol[:k], sol[k:]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _line_centre(profile: np.ndarray, width_max: float) -> tuple[float | None, str, float]:
    """Sub-pixel centre (index units, pixel centres at k) of the one dark run, or why not.

    Also returns the run's width (for estimating the line width)."""
    bg = float(np.percentile(profile, 90))
    low = float(profile.min())
    contrast = bg - low
    if contrast < MIN_CONTRAST:
        return None, "no dark line", 0.0
    thr = bg - contrast / 2.0
    runs = _runs(profile < thr)
    runs = [r for r in runs if 0 < r[0] and r[1] < len(profile)]  # cut by the window: unknown
    if not runs:
        return None, "line at the window's end", 0.0
    if len(runs) > 1:
        return None, "several dark runs (text, crossing lines)", 0.0
    a, b = runs[0]
    width = float(b - a)
    if width > width_max:
        return None, "dark run too wide (a crossing line or a filled area)", width
    lo, hi = max(0, a - 1), min(len(profile), b + 1)
    w = np.clip(bg - profile[lo:hi], 0.0, None)
    if w.sum() <= 0:
        return None, "no dark line", 0.0
    k = np.arange(lo, hi, dtype=float)
    return float((w * k).sum() / w.sum()), "", width


def _edge_prediction(
    side: str, frame: Frame, transform: Transform, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The edge in scan pixels as (along, across) arrays sorted by ``along``."""
    min_e, min_n, max_e, max_n = frame.extent
    value = frame.sides[side]
    s = np.linspace(0.0, 1.0, 256)
    if side in VERTICAL:
        lo, hi = frame.sides.get("bottom", min_n), frame.sides.get("top", max_n)
        px, py = transform.inverse(np.full_like(s, value), lo + (hi - lo) * s)
        along, across = py, px
    else:
        lo, hi = frame.sides.get("left", min_e), frame.sides.get("right", max_e)
        px, py = transform.inverse(lo + (hi - lo) * s, np.full_like(s, value))
        along, across = px, py
    if not (np.isfinite(along).all() and np.isfinite(across).all()):
        return None
    order = np.argsort(along)
    return along[order], across[order]


def trace_edges(
    src: ScanWindows,
    frame: Frame,
    transform: Transform,
    search_px: float,
    step_px: float | None = None,
) -> list[EdgeTrace]:
    """Find each known side of ``frame`` in the scan near where ``transform`` puts it.

    Reads only windows ``search_px`` either side of the predicted edge, a few hundred rows at a
    time, whatever the scan's size.
    """
    w, h = src.width, src.height
    traces = []
    for side in SIDES:
        if side not in frame.sides:
            continue
        pred = _edge_prediction(side, frame, transform, (w, h))
        if pred is None:
            traces.append(EdgeTrace(side, frame.sides[side], np.zeros(0), np.zeros(0),
                                    np.zeros(0, bool), 0, why_not="the fit cannot place it"))
            continue
        along_p, across_p = pred
        length = float(along_p[-1] - along_p[0])
        step = step_px or float(np.clip(length / 200.0, 10.0, 20.0))
        end = search_px + 4.0  # the perpendicular sides cross near the corners
        along = np.arange(along_p[0] + end, along_p[-1] - end, step)
        limit = h if side in VERTICAL else w
        other = w if side in VERTICAL else h
        along = along[(along >= 2) & (along <= limit - 2)]
        trace = _trace_one(src, side, frame.sides[side], along, along_p, across_p, search_px,
                           other)
        traces.append(trace)
    return traces


def _trace_one(
    src: ScanWindows,
    side: str,
    value: float,
    along: np.ndarray,
    along_p: np.ndarray,
    across_p: np.ndarray,
    search: float,
    other: int,
) -> EdgeTrace:
    vertical = side in VERTICAL
    n = len(along)
    across = np.full(n, np.nan)
    widths = np.full(n, np.nan)
    reasons: dict[str, int] = {}
    pred = np.interp(along, along_p, across_p)
    width_max = max(6.0, 0.25 * search)  # refined below from the widths seen
    chunk = 512
    half = PROFILE_SPAN // 2
    i = 0
    while i < n:
        j = i
        while j < n and along[j] - along[i] < chunk:
            j += 1
        a0 = max(0, int(math.floor(along[i])) - half)
        a1 = int(math.floor(along[j - 1])) + half + 1
        c0 = max(0, int(math.floor(pred[i:j].min() - search)) - 1)
        c1 = min(other, int(math.ceil(pred[i:j].max() + search)) + 2)
        if c1 - c0 < 4:
            reasons["outside the scan"] = reasons.get("outside the scan", 0) + (j - i)
            i = j
            continue
        if vertical:
            win = src.read(c0, a0, c1, min(a1, src.height))
        else:
            win = src.read(a0, c0, min(a1, src.width), c1).transpose(1, 0, 2)
        bright = win.max(axis=2).astype(np.float32)  # colour fills and red markers are light
        for k in range(i, j):
            r = int(math.floor(along[k])) - a0
            prof = bright[max(0, r - half): r + half + 1].mean(axis=0)
            lo = int(math.floor(pred[k] - search)) - c0
            hi = int(math.ceil(pred[k] + search)) - c0 + 1
            lo, hi = max(0, lo), min(len(prof), hi)
            if hi - lo < 4:
                reasons["outside the scan"] = reasons.get("outside the scan", 0) + 1
                continue
            centre, why, width = _line_centre(prof[lo:hi], width_max)
            if centre is None:
                reasons[why] = reasons.get(why, 0) + 1
                continue
            across[k] = c0 + lo + centre + 0.5  # corner-based
            widths[k] = width
        i = j
    # along coordinates are row (column) centres of the profile
    along_c = np.floor(along) + 0.5
    found = np.isfinite(across)
    kept = found.copy()
    if found.sum() >= 3:
        # The line's width is what most samples agree on: a run much wider is something else.
        wmed = float(np.median(widths[found]))
        wide = found & (widths > max(wmed * 1.8, wmed + 2.0))
        if wide.any():
            reasons["dark run too wide (a crossing line or a filled area)"] = reasons.get(
                "dark run too wide (a crossing line or a filled area)", 0) + int(wide.sum())
            kept &= ~wide
    trace = EdgeTrace(side, value, along_c, across, kept, n, reasons)
    _reject_outliers(trace, pred)
    return trace


def _reject_outliers(trace: EdgeTrace, pred: np.ndarray) -> None:
    """Drop samples far from a smooth curve along the edge; judge the edge's reliability."""
    kept = trace.kept
    n = trace.attempted
    if kept.sum() < MIN_KEPT:
        trace.why_not = f"only {int(kept.sum())} of {n} samples show a clear line"
        return
    t = trace.along
    d = trace.across - pred
    knots = _knots(float(t.min()), float(t.max()), max(40.0, (t.max() - t.min()) / 40.0))
    rms = None
    for _ in range(4):
        idx = np.flatnonzero(kept)
        s, off = smooth_along(t[idx], d[idx], np.zeros(len(idx), int), knots)
        res = d - (np.interp(t, knots, s) + off[0])
        mad = float(np.median(np.abs(res[idx] - np.median(res[idx])))) * 1.4826
        limit = max(4.0 * mad, 0.3)
        bad = kept & (np.abs(res) > limit)
        rms = float(np.sqrt(np.mean(res[kept & ~bad] ** 2))) if (kept & ~bad).any() else None
        if not bad.any():
            break
        kept &= ~bad
        trace.reasons["off the smooth edge (outlier)"] = trace.reasons.get(
            "off the smooth edge (outlier)", 0) + int(bad.sum())
    trace.kept = kept
    trace.rms_px = rms
    k = int(kept.sum())
    if k < max(MIN_KEPT, MIN_KEPT_SHARE * n):
        trace.why_not = f"only {k} of {n} samples kept"
    elif rms is None or rms > MAX_EDGE_RMS_PX:
        trace.why_not = f"samples scatter {rms:.2f} px about the edge (over {MAX_EDGE_RMS_PX} px)"
    else:
        trace.reliable = True


def _misfit(
    t: Transform, trace: EdgeTrace
) -> tuple[np.ndarray, np.ndarray]:
    """Shift (pixels) across the edge that would put each kept sample on the side's
    coordinate under ``t``, and the sample's position along the edge."""
    px, py = trace.pixels()
    e, n = t.forward(px, py)
    if trace.side in VERTICAL:
        e1, _ = t.forward(px + 1.0, py)
        return -(e - trace.value) / (e1 - e), py
    _, n1 = t.forward(px, py + 1.0)
    return -(n - trace.value) / (n1 - n), px


def reference_method(n_points: int) -> str:
    """The stiff model the correction is estimated against (it must not follow the wobble)."""
    return "poly2" if n_points >= 8 else "affine"


def estimate_correction(
    points: Sequence[ControlPoint], traces: Sequence[EdgeTrace], size: tuple[int, int]
) -> PixelCorrection | None:
    """Row and column shifts from the reliable edges (None when no edge is reliable)."""
    good = [t for t in traces if t.reliable]
    vert = [t for t in good if t.side in VERTICAL]
    horz = [t for t in good if t.side not in VERTICAL]
    if not vert and not horz:
        return None
    pts = [p for p in points if p.enabled]
    pixels, coords = as_arrays(pts)
    method = reference_method(len(pts))
    w, h = size

    def knots_of(ts: list[EdgeTrace], extent: int) -> np.ndarray:
        if not ts:
            return np.zeros(0)
        a = np.concatenate([t.along[t.kept] for t in ts])
        lo, hi = float(a.min()), float(a.max())
        return _knots(lo, hi, max(20.0, extent / 60.0))

    rk, ck = knots_of(vert, h), knots_of(horz, w)
    rs, cs = np.zeros(len(rk)), np.zeros(len(ck))
    corr = PixelCorrection(rk, rs, ck, cs)
    for _ in range(ITERATIONS):
        cx, cy = corr.apply(pixels[:, 0], pixels[:, 1])
        t = build_transform(method, np.column_stack([cx, cy]), coords)
        t.correction = corr
        for ts, knots, is_row in ((vert, rk, True), (horz, ck, False)):
            if not ts:
                continue
            parts = [_misfit(t, tr) for tr in ts]
            vals = np.concatenate([p[0] for p in parts])
            pos = np.concatenate([p[1] for p in parts])
            groups = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(parts)])
            s, _off = smooth_along(pos, vals, groups, knots)
            # What the reference model can take itself (a shift, a shear, a bend of order 2)
            # is left to it: the shifts carry only what no model through the points can
            # follow, and the refit cannot hand the same part back and forth between them.
            deg = 2 if method == "poly2" else 1
            z = (knots - knots.mean()) / max(float(np.ptp(knots)), 1.0)
            s = s - np.polyval(np.polyfit(z, s, min(deg, len(knots) - 1)), z)
            if is_row:
                rs = rs + s
            else:
                cs = cs + s
        corr = PixelCorrection(rk, rs, ck, cs)
    return corr


@dataclass
class NeatlineResult:
    """What the neatline gave: traces, the correction, and the report section."""

    frame: Frame | None
    traces: list[EdgeTrace]
    correction: PixelCorrection | None
    reason: str | None
    seconds: float = 0.0

    @property
    def traced(self) -> bool:
        return self.correction is not None


def trace_neatline(
    src: ScanWindows | None,
    points: Sequence[ControlPoint],
    transform: Transform,
    loo_rmse_px: float | None,
    bounds: tuple[float, float, float, float] | None = None,
) -> NeatlineResult:
    """Infer (or take) the frame, trace it near where ``transform`` puts it, estimate shifts.

    Never raises for a scan that has no usable neatline: the result says why instead.
    """
    t0 = time.perf_counter()
    if src is None:
        return NeatlineResult(None, [], None, "no scan given: the neatline cannot be traced")
    if bounds is not None:
        frame: Frame | None = given_frame(bounds)
        why = None
    else:
        frame, why = infer_frame(points)
    if frame is None:
        return NeatlineResult(None, [], None, why, time.perf_counter() - t0)
    err = loo_rmse_px if loo_rmse_px and math.isfinite(loo_rmse_px) else 5.0
    search = float(np.clip(4.0 * err + 8.0, 10.0, 80.0))
    try:
        traces = trace_edges(src, frame, transform, search)
        corr = estimate_correction(points, traces, (src.width, src.height))
    except (GeoreferenceError, np.linalg.LinAlgError) as exc:
        return NeatlineResult(frame, [], None, f"tracing failed: {exc}",
                              time.perf_counter() - t0)
    reason = None
    if corr is None:
        reason = "no side of the neatline was traced reliably: " + "; ".join(
            f"{t.side}: {t.why_not}" for t in traces)
    return NeatlineResult(frame, traces, corr, reason, time.perf_counter() - t0)


def edge_rms(result: NeatlineResult, t: Transform) -> dict[str, float] | None:
    """RMS of the reliable edges' samples about ``t`` (one free offset per edge: the line's
    printed width), in pixels and metres: how well the chosen mapping follows the frame."""
    good = [tr for tr in result.traces if tr.reliable]
    if not good:
        return None
    res = []
    for tr in good:
        m, _ = _misfit(t, tr)
        res.append(m - np.median(m))
    r = np.concatenate(res)
    px = float(np.sqrt(np.mean(r**2)))
    c = np.concatenate([np.column_stack(tr.pixels()) for tr in good])
    size = t.pixel_size(*c.mean(axis=0))
    return {"rms_px": round(px, 3), "rms_m": round(px * size, 3)}


def observations(result: NeatlineResult) -> EdgeObservations | None:
    """The reliable edges' kept samples as one-coordinate observations for the fits."""
    good = [t for t in result.traces if t.reliable]
    if not good:
        return None
    return EdgeObservations(tuple(np.column_stack(t.pixels()) for t in good),
                            tuple(0 if t.side in VERTICAL else 1 for t in good),
                            tuple(t.value for t in good))


def _try(func, *args, **kwargs) -> Report | None:
    try:
        return func(*args, **kwargs)
    except GeoreferenceError:
        return None


def _m(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f} m"


def _loo_summary(rep: Report) -> dict[str, object]:
    f = rep.fit
    return {"method": f.method, "loo_rmse_m": None if f.loo_rmse_m is None
            else round(f.loo_rmse_m, 3)}


def apply_neatline(
    base: Report,
    points: Sequence[ControlPoint],
    method: str,
    src: ScanWindows | None,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    enabled: bool = True,
    **analyse_kwargs,
) -> Report:
    """The points-only report ``base``, or the analysis the traced neatline improves; either way
    with a ``neatline`` section saying what was traced and why it was (not) used.

    Two uses, judged apart by the control points' leave-one-out error: the row/column
    correction (a model of the carriage's wobble: kept when it lowers the error by more than
    the tie margin ``auto`` uses between methods), then the edge samples as one-coordinate
    observations in the least-squares methods (no new parameter but one offset per edge: kept
    unless the points fit worse). ``analyse_kwargs`` are those ``base`` was made with
    (:func:`report.analyse`). The leave-one-out errors with the correction hold the correction
    fixed: it is estimated against a stiff order-2 fit to all points, and carries none of what
    such a fit can take, so one point's pull on it is absorbed again by the refitted model.
    """
    t0 = time.perf_counter()
    section: dict[str, object] = {"traced": False, "used": False}
    if not enabled:
        section["reason"] = "not asked for (--no-neatline)"
        base.data["neatline"] = section
        return base
    used_points = base.fit.points
    ref = base.fits.get(reference_method(len(used_points))) or base.fit
    loo_px = (ref.loo_rmse_m / ref.pixel_size_m) if ref.loo_rmse_m and ref.pixel_size_m else None
    result = trace_neatline(src, used_points, ref.transform, loo_px, bounds)
    section["trace_seconds"] = round(result.seconds, 3)
    if result.frame is not None:
        f = result.frame
        section["frame"] = {"source": f.source,
                            "sides": {k: round(v, 3) for k, v in f.sides.items()}}
    if result.traces:
        section["edges"] = {t.side: t.summary() for t in result.traces}
    section["loo_points_only"] = _loo_summary(base)
    chosen = base
    if result.correction is None:
        section["reason"] = result.reason
        section["seconds"] = round(time.perf_counter() - t0, 3)
        chosen.data["neatline"] = section
        return chosen
    section["traced"] = True
    rows, cols = result.correction.max_shift()
    section["correction_px"] = {"row_shift_max": round(rows, 3),
                                "column_shift_max": round(cols, 3)}
    reasons = []
    # 1. The row/column correction adds a model of its own (the wobble): it must earn its place
    #    by more than the tie margin, like any more flexible method.
    corrected = _try(analyse, points, method, correction=result.correction, **analyse_kwargs)
    correction = None
    if corrected is not None:
        section["loo_row_correction"] = _loo_summary(corrected)
        before, after = base.fit.loo_rmse_m, corrected.fit.loo_rmse_m
        if after is not None and (before is None or after < before * (1 - AUTO_TIE)):
            chosen, correction = corrected, result.correction
            reasons.append(f"the row/column correction lowers the leave-one-out error from "
                           f"{_m(before)} to {_m(after)}")
        else:
            reasons.append(f"the row/column correction does not lower the leave-one-out error "
                           f"by more than {AUTO_TIE:.0%} ({_m(before)} without, {_m(after)} with)")
    # 2. The edge samples as observations add no parameter beyond one offset per edge, only
    #    data for the same model: they are kept unless the points then fit worse.
    edges = observations(result)
    with_edges = _try(analyse, points, method, correction=correction, edges=edges,
                      **analyse_kwargs) if edges is not None else None
    if with_edges is not None:
        section["loo_edge_observations"] = _loo_summary(with_edges)
        before, after = chosen.fit.loo_rmse_m, with_edges.fit.loo_rmse_m
        if after is not None and (before is None or after <= before) and (
                with_edges.fit.method in EDGE_METHODS):
            chosen = with_edges
            reasons.append(f"the edge samples join the {with_edges.fit.method} fit "
                           f"(leave-one-out {_m(before)} without, {_m(after)} with)")
        elif with_edges.fit.method not in EDGE_METHODS:
            reasons.append(f"the edge samples are not used: the chosen {chosen.fit.method} "
                           "does not take them")
        else:
            reasons.append(f"the edge samples are not used: the points fit worse with them "
                           f"({_m(before)} without, {_m(after)} with)")
    section["row_correction_used"] = correction is not None
    section["edge_observations_used"] = chosen is with_edges
    section["used"] = chosen is not base
    section["reason"] = "; ".join(reasons)
    if chosen is not base:
        chosen.data["reason"] = str(chosen.data["reason"]) + "; neatline: " + section["reason"]
    section["edge_rms_points_only"] = edge_rms(result, base.fit.transform)
    section["edge_rms_chosen"] = edge_rms(result, chosen.fit.transform)
    section["seconds"] = round(time.perf_counter() - t0, 3)  # trace and the extra analyses
    chosen.data["neatline"] = section
    return chosen
