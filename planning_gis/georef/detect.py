"""Control points found from the printed grid, with no click: crosses, ticks and margin labels.

Every Vietnamese planning sheet prints its VN-2000 grid (crosses every 10 cm of paper) and
labels it in the margin. The machine can do the clicking:

1. **Crosses** are found on a reduced copy of the scan (long side about
   :data:`OVERVIEW_SIDE` px, read strip by strip: memory stays bounded whatever the sheet's
   size) by a four-arm line filter, at a few arm lengths; the arm length whose crosses form
   the best lattice wins.
2. **The lattice**: the two grid vectors are read from the crosses' nearest neighbours, and
   every cross gets a column ``i`` and a row ``j`` by walking from neighbour to neighbour (so a
   sheet bent by paper shrink and scanner drift is followed), then checked against an order-2
   fit of all of them: a cross off the lattice is refused. Each cross is then re-centred at
   full resolution on its two strokes, and **the lattice is completed**: every crossing it
   lacks (a cross on a zone's edge or fill, which the whole-sheet filter misses) is predicted
   from its neighbours and kept only when a cross is confirmed there at full resolution; a
   crossing whose centre disagrees with its row's neighbours (a zone's edge taken for a
   stroke) is left out.
3. **Labels**: text boxes near the end of each lattice line (the margin first, inside the map
   only when the margin does not settle an axis) are read by Tesseract (digits, ``X``, ``Y``,
   ``=`` and separators only; turned 90 degrees when the box stands upright) through the
   ``tesserocr`` binding.
4. **Coordinates come from the lattice, not from each label**: an axis is settled when at least
   two readings on different lines agree on one start value and one regular step
   (``value = v0 + k * step``, the step a round number of metres); every reading that disagrees
   is refused and said (a misread digit), so a misread digit never yields a wrong point. When
   an axis cannot be settled, no point is given and the report says why.

Each point carries a confidence (how many readings back its column and row, and whether its own
lines' labels were read), and :class:`Detection` carries the JSON report: how many crosses,
ticks and labels were found, used and refused, and why.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import rasterio
from scipy.spatial import cKDTree

from planning_gis.errors import ConfigurationError, GeoreferenceError
from planning_gis.georef.control_points import ControlPoint
from planning_gis.georef.scan_io import ScanWindows, open_windows, probe_scan
from planning_gis.settings import Settings, get_settings

#: Long side of the reduced copy that crosses are looked for on.
OVERVIEW_SIDE = 3000
#: Arm lengths (reduced-copy pixels) tried for the cross filter.
ARM_LENGTHS = (3, 5, 8, 12)
#: Steps a printed grid uses, in metres (10 cm of paper at 1:100 ... 1:100 000).
NICE_STEPS = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)
#: Where Debian's tesseract-ocr packages put the language data.
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata")
#: GDAL's block cache while detecting, in MB (each window is read about once).
GDAL_CACHE_MB = 64
#: Most label boxes read by OCR on one sheet (the margin's come first): a bound on the time.
MAX_OCR_BOXES = 400


@dataclass
class DetectedPoint:
    """A grid crossing with its map coordinates, where they came from, and a confidence."""

    column: int
    row: int
    pixel_x: float
    pixel_y: float
    easting: float
    northing: float
    confidence: float
    source: str  # "cross" or "frame" (a grid crossing on the neatline)

    @property
    def label(self) -> str:
        return f"G{self.column}.{self.row}"

    def control_point(self) -> ControlPoint:
        return ControlPoint(self.pixel_x, self.pixel_y, self.easting, self.northing, True,
                            self.label)

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "column": self.column, "row": self.row,
                "pixel_x": round(self.pixel_x, 2), "pixel_y": round(self.pixel_y, 2),
                "easting": round(self.easting, 3), "northing": round(self.northing, 3),
                "confidence": round(self.confidence, 3), "source": self.source}


@dataclass
class Reading:
    """One label read by OCR and what became of it."""

    axis: str  # "easting" (a column's label) or "northing" (a row's)
    line: int  # the column or row index it belongs to
    text: str
    value: float | None
    box: tuple[int, int, int, int]  # full-resolution pixels x0, y0, x1, y1
    ocr_confidence: float
    status: str = "unread"  # used / refused
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"axis": self.axis, "line": self.line, "text": self.text, "value": self.value,
                "box": list(self.box), "ocr_confidence": round(self.ocr_confidence, 1),
                "status": self.status, "why": self.why}


@dataclass
class Axis:
    """A settled axis: ``value = start + line * step``."""

    start: float
    step: float
    support: int
    lines_read: set[int]

    def value(self, line: int) -> float:
        return self.start + line * self.step


@dataclass
class Detection:
    """What :func:`detect_grid` found, and its report."""

    points: list[DetectedPoint]
    report: dict[str, object]
    crs_epsg: int | None = None
    notes: list[str] = field(default_factory=list)

    def control_points(self) -> list[ControlPoint]:
        return [p.control_point() for p in self.points]


# --- reading the scan in bounded memory ------------------------------------------------------

def _grey(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        return block
    if block.shape[2] == 1:
        return block[..., 0]
    return cv2.cvtColor(np.ascontiguousarray(block[..., :3]), cv2.COLOR_RGB2GRAY)


def _read_grey(scan: ScanWindows, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    return _grey(scan.read(x0, y0, x1, y1))  # (rows, columns, bands)


def _overview(scan: ScanWindows, width: int, height: int, factor: int) -> np.ndarray:
    """The scan in grey, reduced by ``factor`` (area average), read in strips."""
    rows = max(factor, (16_000_000 // max(1, width * 3)) // factor * factor)
    out = np.empty((math.ceil(height / factor), math.ceil(width / factor)), np.uint8)
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        g = _read_grey(scan, 0, y0, width, y1)
        small = cv2.resize(g, (math.ceil(width / factor), math.ceil((y1 - y0) / factor)),
                           interpolation=cv2.INTER_AREA) if factor > 1 else g
        out[y0 // factor: y0 // factor + small.shape[0]] = small
    return out


def _darkness(grey: np.ndarray) -> np.ndarray:
    """0 for paper, 1 for ink, robust to tinted paper."""
    paper = float(np.percentile(grey[:: 7, :: 7], 90)) or 255.0
    return np.clip((paper - grey.astype(np.float32)) / max(paper, 1.0), 0.0, 1.0)


# --- crosses ---------------------------------------------------------------------------------

def _line_filter(dark: np.ndarray, dx: int, dy: int, lo: int, hi: int, shift: int = 0
                 ) -> np.ndarray:
    """Mean ink over the arm from ``lo`` to ``hi`` pixels in direction (dx, dy) from each pixel,
    moved ``shift`` pixels sideways: a separable filter (two 1-D kernels), fast at any length."""
    size = 2 * max(hi, abs(shift)) + 1
    c = size // 2
    along = np.zeros(size, np.float32)
    sign = dx + dy  # +1 or -1 along the arm's axis
    for t in range(lo, hi + 1):
        along[c + sign * t] = 1.0
    along /= along.sum()
    across = np.zeros(size, np.float32)
    across[c + shift] = 1.0
    kx, ky = (along, across) if dx else (across, along)
    # filter2D correlates: kernel index c + t reads the pixel t further on
    return cv2.sepFilter2D(dark, -1, kx, ky, borderType=cv2.BORDER_REPLICATE)


def _box_line(dark: np.ndarray, dx: int, dy: int, lo: int, hi: int, shift: int = 0
              ) -> np.ndarray:
    """:func:`_line_filter` by cumulative sums: the same means, at a cost that does not grow
    with the arm's length (a full-resolution arm of a 300 dpi sheet is 25-50 px)."""
    h, w = dark.shape
    pad = max(hi, abs(shift)) + 1
    p = cv2.copyMakeBorder(dark, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    a, b = (lo, hi) if dx + dy > 0 else (-hi, -lo)
    n = float(hi - lo + 1)
    if dx:  # along the row, moved ``shift`` rows
        c = np.zeros((p.shape[0], p.shape[1] + 1), np.float64)
        np.cumsum(p, axis=1, out=c[:, 1:])
        rows = c[pad + shift: pad + shift + h]
        xs = np.arange(w) + pad
        return ((rows[:, xs + b + 1] - rows[:, xs + a]) / n).astype(np.float32)
    c = np.zeros((p.shape[0] + 1, p.shape[1]), np.float64)
    np.cumsum(p, axis=0, out=c[1:])
    cols = c[:, pad + shift: pad + shift + w]
    ys = np.arange(h) + pad
    return ((cols[ys + b + 1] - cols[ys + a]) / n).astype(np.float32)


def _arm_response(dark: np.ndarray, r: int, arms: Sequence[tuple[int, int]]) -> np.ndarray:
    """The weakest arm's line contrast (ink on the arm minus ink beside it)."""
    side = max(2, int(round(r / 3)) + 1)
    lo = max(1, int(round(r / 3)))
    out = None
    for dx, dy in arms:  # in place: a few copies of the reduced sheet at most, not a dozen
        contrast = _line_filter(dark, dx, dy, lo, r)
        beside = _line_filter(dark, dx, dy, lo, r, side)
        np.maximum(beside, _line_filter(dark, dx, dy, lo, r, -side), out=beside)
        np.subtract(contrast, beside, out=contrast)
        del beside
        if out is None:
            out = contrast
        else:
            np.minimum(out, contrast, out=out)
            del contrast
    assert out is not None
    return out


def _quadrant_spread(dark: np.ndarray, r: int) -> np.ndarray:
    """How unevenly inked the four squares between a cross's arms are (0 for a true cross,
    whose quadrants are all paper or all one zone's fill; high for a "4" or a letter)."""
    lo = max(1, int(round(r / 3)))
    size = 2 * r + 1
    total = hi = low = None
    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        kx = np.zeros(size, np.float32)
        ky = np.zeros(size, np.float32)
        for t in range(lo, r + 1):
            kx[r + sx * t] = 1.0
            ky[r + sy * t] = 1.0
        kx /= kx.sum()
        ky /= ky.sum()
        q = cv2.sepFilter2D(dark, -1, kx, ky, borderType=cv2.BORDER_REPLICATE)
        if total is None:  # running sum, largest and smallest: four copies live, not eight
            total, hi, low = q.copy(), q.copy(), q
        else:
            np.add(total, q, out=total)
            np.maximum(hi, q, out=hi)
            np.minimum(low, q, out=low)
            del q
    assert total is not None and hi is not None and low is not None
    # the median of four is (sum - largest - smallest) / 2; the spread is largest - median
    np.subtract(total, hi, out=total)
    np.subtract(total, low, out=total)
    del low
    total *= 0.5
    np.subtract(hi, total, out=hi)
    return hi


_CROSS_ARMS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _cross_candidates(dark: np.ndarray, r: int, threshold: float = 0.12) -> np.ndarray:
    score = _arm_response(dark, r, _CROSS_ARMS) - 1.5 * _quadrant_spread(dark, r)
    peak = cv2.dilate(score, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    ys, xs = np.nonzero((score >= peak) & (score > threshold))
    if len(xs) == 0:
        return np.zeros((0, 3))
    return np.column_stack([xs, ys, score[ys, xs]]).astype(float)


@dataclass
class Lattice:
    """Crosses with integer (column, row) indices and the mapping index -> pixel."""

    pixels: np.ndarray  # (n, 2) reduced-copy pixels
    index: np.ndarray  # (n, 2) int column, row
    coef: np.ndarray  # order-2 fit of pixels from indices, (6, 2)
    spacing: float
    refused: int

    def predict(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return _poly2(np.asarray(i, float), np.asarray(j, float)) @ self.coef

    def locate(self, x: np.ndarray, y: np.ndarray, iterations: int = 6) -> np.ndarray:
        """Fractional (column, row) of reduced-copy pixels (Newton on the order-2 fit)."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        lin = np.linalg.lstsq(np.column_stack([np.ones(len(self.pixels)), self.index]),
                              self.pixels, rcond=None)[0]
        a = lin[1:].T  # pixel = lin0 + a @ (i, j)
        ij = np.linalg.solve(a, np.vstack([x - lin[0, 0], y - lin[0, 1]])).T
        for _ in range(iterations):
            p = self.predict(ij[:, 0], ij[:, 1])
            h = 1e-3
            pi = self.predict(ij[:, 0] + h, ij[:, 1])
            pj = self.predict(ij[:, 0], ij[:, 1] + h)
            j11, j21 = (pi[:, 0] - p[:, 0]) / h, (pi[:, 1] - p[:, 1]) / h
            j12, j22 = (pj[:, 0] - p[:, 0]) / h, (pj[:, 1] - p[:, 1]) / h
            rx, ry = x - p[:, 0], y - p[:, 1]
            det = j11 * j22 - j12 * j21
            ij[:, 0] += (j22 * rx - j12 * ry) / det
            ij[:, 1] += (-j21 * rx + j11 * ry) / det
        return ij


def _poly2(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(i), i, j, i * i, i * j, j * j])


def _grid_vectors(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The lattice's column and row vectors from nearest-neighbour offsets."""
    if len(pts) < 6:
        return None
    tree = cKDTree(pts)
    dist, idx = tree.query(pts, k=min(5, len(pts)))
    vecs = (pts[idx[:, 1:]] - pts[:, None, :]).reshape(-1, 2)
    lens = dist[:, 1:].ravel()
    ok = lens > 0
    vecs, lens = vecs[ok], lens[ok]
    if len(lens) < 6:
        return None
    # the spacing: the most common neighbour distance (log bins of 4 %)
    logs = np.log(lens)
    hist, edges = np.histogram(logs, bins=np.arange(logs.min(), logs.max() + 0.08, 0.04))
    if len(hist) == 0:
        return None
    smooth = np.convolve(hist, [1, 2, 1], mode="same")
    k = int(np.argmax(smooth))
    spacing = float(np.exp((edges[k] + edges[k + 1]) / 2))
    near = np.abs(lens / spacing - 1.0) < 0.15
    v = vecs[near]
    horiz = np.abs(v[:, 0]) >= np.abs(v[:, 1])
    h = v[horiz] * np.sign(v[horiz][:, :1] + 1e-9)
    w = v[~horiz] * np.sign(v[~horiz][:, 1:] + 1e-9)
    if len(h) < 2 or len(w) < 2:
        return None
    return np.median(h, axis=0), np.median(w, axis=0)


def _walk(pts: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[int, tuple[int, int]]:
    """Index crosses by walking from neighbour to neighbour, following the local grid."""
    spacing = float(min(np.hypot(*a), np.hypot(*b)))
    tree = cKDTree(pts)
    tol = 0.22 * spacing
    # start from the cross with the most neighbours where the vectors say
    counts = np.zeros(len(pts), int)
    for step in (a, -a, b, -b):
        d, _ = tree.query(pts + step, distance_upper_bound=tol)
        counts += np.isfinite(d)
    start = int(np.argmax(counts))
    found: dict[int, tuple[int, int]] = {start: (0, 0)}
    taken: dict[tuple[int, int], int] = {(0, 0): start}
    vec: dict[int, tuple[np.ndarray, np.ndarray]] = {start: (a, b)}
    queue = deque([start])
    while queue:
        k = queue.popleft()
        i, j = found[k]
        la, lb = vec[k]
        for di, dj, step in ((1, 0, la), (-1, 0, -la), (0, 1, lb), (0, -1, -lb),
                             (2, 0, 2 * la), (-2, 0, -2 * la), (0, 2, 2 * lb), (0, -2, -2 * lb)):
            key = (i + di, j + dj)
            if key in taken:
                continue
            d, m = tree.query(pts[k] + step, distance_upper_bound=tol * (1.5 if abs(di + dj) == 2
                                                                           else 1.0))
            if not np.isfinite(d) or m in found:
                continue
            found[int(m)] = key
            taken[key] = int(m)
            off = (pts[m] - pts[k]) / (abs(di) + abs(dj))
            if di:
                vec[int(m)] = (off * np.sign(di), lb)
            else:
                vec[int(m)] = (la, off * np.sign(dj))
            queue.append(int(m))
    return found


def _outer_lines_filled(idx: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Drop outermost columns and rows holding few crosses: a digit or letter in the margin
    that looks like a cross and happens to sit near a lattice node is not a grid line."""
    keep = keep.copy()
    for _ in range(4):
        changed = False
        for axis in (0, 1):
            lines = idx[keep, axis]
            if len(lines) == 0:
                return keep
            values, counts = np.unique(lines, return_counts=True)
            if len(values) < 3:
                continue
            full = float(np.median(counts))
            for end in (values.min(), values.max()):
                if counts[values == end][0] < 0.5 * full:
                    keep &= idx[:, axis] != end
                    changed = True
        if not changed:
            break
    return keep


def _lattice(cands: np.ndarray) -> Lattice | None:
    pts = cands[:, :2]
    vectors = _grid_vectors(pts)
    if vectors is None:
        return None
    a, b = vectors
    found = _walk(pts, a, b)
    if len(found) < 6:
        return None
    keys = np.array(list(found))
    idx = np.array([found[k] for k in keys], float)
    pix = pts[keys]
    spacing = float(min(np.hypot(*a), np.hypot(*b)))
    keep = np.ones(len(keys), bool)
    for _ in range(3):
        design = _poly2(idx[keep, 0], idx[keep, 1]) if keep.sum() >= 6 else None
        if design is None:
            return None
        coef = np.linalg.lstsq(design, pix[keep], rcond=None)[0]
        res = np.hypot(*(pix - _poly2(idx[:, 0], idx[:, 1]) @ coef).T)
        new_keep = res < 0.05 * spacing + 1.0
        if (new_keep == keep).all():
            break
        keep = new_keep
    keep &= _outer_lines_filled(idx.astype(int), keep)
    if keep.sum() < 6:
        return None
    idx = idx[keep].astype(int)
    idx -= idx.min(axis=0)
    coef = np.linalg.lstsq(_poly2(idx[:, 0].astype(float), idx[:, 1].astype(float)), pix[keep],
                           rcond=None)[0]
    return Lattice(pix[keep], idx, coef, spacing, int(len(cands) - keep.sum()))


def _best_lattice(dark: np.ndarray) -> tuple[Lattice | None, int, int]:
    """The arm length whose crosses make the largest lattice; also the candidates seen."""
    found: list[tuple[Lattice, int, int]] = []
    for r in ARM_LENGTHS:
        if 6 * r > min(dark.shape):
            continue
        cands = _cross_candidates(dark, r)
        lat = _lattice(cands) if len(cands) >= 6 else None
        if lat is not None:
            found.append((lat, r, len(cands)))
    if not found:
        return None, 0, 0
    # the longest arms that still find nearly every cross: short arms also answer to text
    most = max(len(f[0].index) for f in found)
    lat, r, n = max((f for f in found if len(f[0].index) >= 0.85 * most), key=lambda f: f[1])
    return lat, r, n


def _cross_score(dark: np.ndarray, r: int) -> np.ndarray:
    """A cross's score at full resolution, where its place is already known roughly.

    Each of the four arms must be a thin line against paper on *at least one* side (a zone's
    outline or fill beside an arm does not hide the cross, which the whole-sheet filter's "both
    sides" test must insist on to keep text out), less how unevenly the quadrants are inked.
    A zone's edge is a line with two arms, a corner has two or three: neither scores.
    """
    side = max(2, int(round(r / 3)) + 1)
    lo = max(1, int(round(r / 3)))
    out = None
    ends = []
    past = int(1.6 * r) + 1  # the arm length tried next would be longer than the cross's arm
    for dx, dy in _CROSS_ARMS:
        on = _box_line(dark, dx, dy, lo, r)
        beside = np.minimum(_box_line(dark, dx, dy, lo, r, side),
                            _box_line(dark, dx, dy, lo, r, -side))
        contrast = on - beside
        out = contrast if out is None else np.minimum(out, contrast)
        # ink past the arm's end: a zone's edge runs on, a cross's arm stops
        ends.append(_box_line(dark, dx, dy, past, past + lo) - np.minimum(
            _box_line(dark, dx, dy, past, past + lo, side),
            _box_line(dark, dx, dy, past, past + lo, -side)))
    assert out is not None
    # a line running on past both ends one way and not the other is a zone's edge beside a
    # cross, not the cross (a grid printed as full lines runs on both ways; a zone's edge that
    # meets a cross's arm runs on past one end only)
    across = np.minimum(ends[0], ends[1])
    down = np.minimum(ends[2], ends[3])
    run_on = np.abs(across - down)
    return out - _quadrant_spread(dark, r) - 0.5 * run_on


def _centre_at(scan: ScanWindows, x: float, y: float, r: int, search: float,
               size: tuple[int, int]) -> tuple[float, float, float] | None:
    """The cross nearest (x, y) at full resolution, looked for within ``search`` pixels:
    its centre (to a fraction of a pixel, from its two strokes' profiles) and its score."""
    w, h = size
    side = max(2, int(round(r / 3)) + 1)
    lo = max(1, int(round(r / 3)))
    reach = int(math.ceil(1.6 * r + lo + side + search + 3))
    x0, y0 = max(0, int(x) - reach), max(0, int(y) - reach)
    x1, y1 = min(w, int(x) + reach + 1), min(h, int(y) + reach + 1)
    if x1 - x0 < 2 * r + 3 or y1 - y0 < 2 * r + 3:
        return None
    dark = _darkness(_read_grey(scan, x0, y0, x1, y1))
    score = _cross_score(dark, r)
    yy, xx = np.mgrid[0:dark.shape[0], 0:dark.shape[1]]
    near = np.hypot(xx + 0.5 - (x - x0), yy + 0.5 - (y - y0)) <= search
    near &= (xx >= r) & (xx < dark.shape[1] - r) & (yy >= r) & (yy < dark.shape[0] - r)
    if not near.any():
        return None
    masked = np.where(near, score, -np.inf)
    k = int(np.argmax(masked))
    py, px = divmod(k, dark.shape[1])
    best = float(score[py, px])
    # sub-pixel: the centroid of each stroke's profile, summed along its arms (not the centre)
    lo = max(1, int(round(r / 3)))
    half = max(1, int(round(r / 10)))  # a stroke's half-width: a zone's edge beside it stays out
    offs = np.arange(-r, r + 1)
    arm = offs[np.abs(offs) >= lo]

    past = int(1.6 * r) + 1
    beyond = np.concatenate([np.arange(-past - lo, -past + 1), np.arange(past, past + lo + 1)])

    def centroid(profile: np.ndarray, short: np.ndarray, at: int) -> float | None:
        # the stroke is the line that stops where the arms stop: a zone's edge beside it runs
        # on past the arms' ends and cancels in ``short`` (ink on the arms less ink past them)
        reach = int(math.ceil(min(search, r / 2)))
        a0 = max(0, at - reach)
        window = short[a0: at + reach + 1]
        if len(window) and window.max() > 0.5 * max(1e-6, float(profile[at] - np.median(
                profile))):
            at = a0 + int(np.argmax(window))
        near_at = profile[max(0, at - 1): at + 2]
        at = max(0, at - 1) + int(np.argmax(near_at))  # the stroke's darkest column or row
        a, b = max(0, at - half), min(len(profile), at + half + 1)
        base = float(np.median(profile[max(0, at - half - side - 2): at + half + side + 3]))
        seg = np.clip(profile[a:b] - base, 0, None)
        if seg.sum() <= 0:
            return None
        return float((np.arange(a, b) + 0.5) @ seg / seg.sum())

    rows = np.clip(py + arm, 0, dark.shape[0] - 1)
    cols = np.clip(px + arm, 0, dark.shape[1] - 1)
    rows_past = np.clip(py + beyond, 0, dark.shape[0] - 1)
    cols_past = np.clip(px + beyond, 0, dark.shape[1] - 1)
    scale = len(arm) / len(beyond)
    col_profile = dark[rows].sum(axis=0)  # the vertical stroke, along its arms
    row_profile = dark[:, cols].sum(axis=1)  # the horizontal stroke
    cx = centroid(col_profile, col_profile - scale * dark[rows_past].sum(axis=0), px)
    cy = centroid(row_profile, row_profile - scale * dark[:, cols_past].sum(axis=1), py)
    if cx is None or cy is None:
        return None
    return x0 + cx, y0 + cy, best


def _complete(scan: ScanWindows, lattice: Lattice, factor: int, arm: int,
              size: tuple[int, int]) -> tuple[dict[tuple[int, int], tuple[float, float]],
                                                  dict[str, int]]:
    """Every crossing of the lattice, measured at full resolution.

    The crosses the whole-sheet filter found are re-centred; then, the lattice's spacing and
    orientation being known, every crossing it lacks (inside its extent, and line by line beyond
    it while whole lines are confirmed) is predicted from its neighbours and confirmed by a
    cross found there at full resolution (a cross on a zone's edge or fill, which the
    whole-sheet filter misses, is found where the lattice says it must be). A prediction
    with no cross there is left out, so a crossing is never invented.
    """
    r = max(4, int(round(arm * factor)))
    spacing = lattice.spacing * factor
    full: dict[tuple[int, int], tuple[float, float]] = {}
    scores: list[float] = []
    failed = 0
    # the reduced copy's centre can be pulled a few pixels by a zone's edge beside the cross
    search = max(3.0, 1.5 * factor, 0.04 * spacing)
    for (i, j), (x, y) in zip(lattice.index, lattice.pixels, strict=True):
        c = _centre_at(scan, (x + 0.5) * factor, (y + 0.5) * factor, r, search, size)
        if c is None or c[2] <= 0:
            failed += 1
            continue
        full[(int(i), int(j))] = (c[0], c[1])
        scores.append(c[2])
    stats = {"refound": len(full), "centre_not_measured": failed, "completed": 0,
             "predicted_not_confirmed": 0, "off_neighbours_refused": 0}
    if len(full) < 6:
        return full, stats
    original = set(full)
    tried: set[tuple[int, int]] = set()
    threshold = 0.3 * float(np.median(scores))
    idx = np.array(list(full), float)
    lo_i, lo_j = idx.min(axis=0).astype(int)
    hi_i, hi_j = idx.max(axis=0).astype(int)
    w, h = size
    for _ in range(4):  # inside the extent first, then one line further out each round
        keys = np.array(list(full), float)
        pix = np.array([full[tuple(k)] for k in keys.astype(int)])
        coef = np.linalg.lstsq(_poly2(keys[:, 0], keys[:, 1]), pix, rcond=None)[0]
        resid = pix - _poly2(keys[:, 0], keys[:, 1]) @ coef
        tree = cKDTree(keys)
        wanted = [(i, j) for i in range(lo_i - 1, hi_i + 2) for j in range(lo_j - 1, hi_j + 2)
                  if (i, j) not in full and (i, j) not in tried]
        added = 0
        for i, j in wanted:
            tried.add((i, j))  # a crossing not confirmed once is not looked for again
            p = _poly2(np.array([float(i)]), np.array([float(j)])) @ coef
            # the local bend (scanner drift) from the nearest measured crossings
            d, nb = tree.query([i, j], k=min(4, len(keys)))
            wt = 1.0 / np.maximum(np.atleast_1d(d), 0.5)
            px, py = p[0] + (wt @ resid[np.atleast_1d(nb)]) / wt.sum()
            if not (r <= px < w - r and r <= py < h - r):
                continue
            c = _centre_at(scan, px, py, r, search, size)
            if c is None or c[2] < threshold:
                stats["predicted_not_confirmed"] += 1
                continue
            full[(i, j)] = (c[0], c[1])
            added += 1
        stats["completed"] += added
        idx = np.array(list(full), float)
        n_lo_i, n_lo_j = idx.min(axis=0).astype(int)
        n_hi_i, n_hi_j = idx.max(axis=0).astype(int)
        if (n_lo_i, n_lo_j, n_hi_i, n_hi_j) == (lo_i, lo_j, hi_i, hi_j):
            break
        lo_i, lo_j, hi_i, hi_j = n_lo_i, n_lo_j, n_hi_i, n_hi_j
    # lines beyond the extent held by only a stray cross or two are not grid lines
    keys = np.array(list(full), int)
    keep = _outer_lines_filled(keys, np.ones(len(keys), bool))
    for k, ok in zip(keys, keep, strict=True):
        key = (int(k[0]), int(k[1]))
        if not ok and key not in original:
            del full[key]
            stats["completed"] -= 1
    for key in _off_neighbours(full):
        del full[key]
        stats["off_neighbours_refused"] += 1
        if key not in original:
            stats["completed"] -= 1
    return full, stats


def _off_neighbours(full: dict[tuple[int, int], tuple[float, float]]) -> list[tuple[int, int]]:
    """Crossings whose measured centre disagrees with where their neighbours put them.

    Each crossing is predicted without itself: an order-2 fit of the lattice, plus the bend its
    two neighbours on the same row show (a scanner's carriage drifts with the scan line, so a
    row's crossings share their drift; a column's do not, and a crossing without both row
    neighbours is not judged). One measured a few pixels off (a zone's edge taken for a
    stroke) is left out rather than given with a wrong position, the worst first (its
    neighbours, pulled by it, are judged again without it). The tolerance follows the sheet's
    own spread (four robust standard deviations), at least 1.5 px.
    """
    keys = dict(full)
    refused: list[tuple[int, int]] = []
    while len(keys) >= 10:
        ij = np.array(list(keys), float)
        pix = np.array(list(keys.values()))
        coef = np.linalg.lstsq(_poly2(ij[:, 0], ij[:, 1]), pix, rcond=None)[0]
        resid = dict(zip(keys, pix - _poly2(ij[:, 0], ij[:, 1]) @ coef, strict=True))
        dev: dict[tuple[int, int], float] = {}
        for i, j in keys:
            left, right = resid.get((i - 1, j)), resid.get((i + 1, j))
            if left is not None and right is not None:
                dev[(i, j)] = float(np.hypot(*(resid[(i, j)] - (left + right) / 2.0)))
        if len(dev) < 6:
            break
        sigma = 1.4826 * float(np.median(list(dev.values())))
        worst = max(dev, key=dev.__getitem__)
        if dev[worst] <= max(1.5, 4.0 * sigma):
            break
        refused.append(worst)
        del keys[worst]
    return refused


def _relattice(full: dict[tuple[int, int], tuple[float, float]], lattice: Lattice, factor: int
               ) -> tuple[dict[tuple[int, int], tuple[float, float]], Lattice]:
    """The completed crossings as a lattice again (indices from 0, reduced-copy pixels), so that
    ticks and labels are looked for along every line, the added ones included."""
    keys = np.array(list(full), int)
    shift = keys.min(axis=0)
    moved = {(int(i - shift[0]), int(j - shift[1])): full[(int(i), int(j))] for i, j in keys}
    idx = np.array(list(moved), int)
    pix = np.array([moved[(int(i), int(j))] for i, j in idx]) / factor - 0.5
    coef = np.linalg.lstsq(_poly2(idx[:, 0].astype(float), idx[:, 1].astype(float)), pix,
                           rcond=None)[0]
    return moved, Lattice(pix, idx, coef, lattice.spacing, lattice.refused)


# --- labels ----------------------------------------------------------------------------------

class DigitReader:
    """Tesseract through ``tesserocr``, told to read one line of digits, X, Y, = and separators."""

    WHITELIST = "0123456789XY=.,: "

    def __init__(self) -> None:
        try:
            import tesserocr
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise ConfigurationError("tesserocr is not installed (pip install tesserocr)") from exc
        path = next((d for d in TESSDATA_DIRS if Path(d, "eng.traineddata").exists()
                     or Path(d, "vie.traineddata").exists()), None)
        if path is None:
            raise ConfigurationError(
                "Tesseract's language data is missing: apt-get install tesseract-ocr "
                "tesseract-ocr-vie",
                message_vi="Thiếu dữ liệu ngôn ngữ Tesseract: cài tesseract-ocr và "
                "tesseract-ocr-vie.")
        lang = "eng" if Path(path, "eng.traineddata").exists() else "vie"
        self._api = tesserocr.PyTessBaseAPI(path=path, lang=lang,
                                            psm=tesserocr.PSM.SINGLE_LINE)
        self._api.SetVariable("tessedit_char_whitelist", self.WHITELIST)
        self._api.SetVariable("load_system_dawg", "0")
        self._api.SetVariable("load_freq_dawg", "0")

    def close(self) -> None:
        self._api.End()

    def read(self, grey: np.ndarray) -> tuple[str, float]:
        from PIL import Image

        h = grey.shape[0]
        scale = 40.0 / max(h, 1)
        img = cv2.resize(grey, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        _, img = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        img = cv2.copyMakeBorder(img, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
        self._api.SetImage(Image.fromarray(img))
        text = self._api.GetUTF8Text().strip()
        conf = float(self._api.MeanTextConf())
        return text, conf


_LABEL = re.compile(r"^(?:(?P<axis>[XY])(?P=axis)*\s*[=:]?\s*)?(?P<num>\d[\d .,]*\d)$")


def parse_label(text: str) -> tuple[str | None, float] | None:
    """``X = 2 321 400``, ``2321400``, ``2.321.400``, ``Y: 586 400`` -> (axis letter, value).

    Spaces, dots and commas between groups of three digits are thousands separators; anything
    else (a decimal part, letters, too few digits) is not a grid label.
    """
    t = " ".join(text.replace("\n", " ").split()).upper()
    m = _LABEL.match(t)
    if not m:
        return None
    num = m.group("num")
    groups = re.split(r"[ .,]+", num)
    if len(groups) > 1 and not all(len(g) % 3 == 0 for g in groups[1:]):  # a missed space
        return None
    digits = "".join(groups)
    if not (4 <= len(digits) <= 8):
        return None
    return m.group("axis"), float(digits)


def _text_boxes(dark: np.ndarray, lattice: Lattice) -> list[tuple[int, int, int, int]]:
    """Boxes of words (reduced-copy pixels), lines and crosses taken out first."""
    # ink against its surroundings, so that text on a coloured zone counts and the fill does not
    win = max(5, int(lattice.spacing * 0.1) | 1)
    ink = (dark > cv2.blur(dark, (win, win)) + 0.2) & (dark > 0.3)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return []
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    small = (np.maximum(w, h) < 0.2 * lattice.spacing) & (area >= 3)
    thin = (np.maximum(w, h) >= 4 * np.maximum(1, np.minimum(w, h))) & (np.maximum(w, h) > 12)
    glyph = small & ~thin
    keep = np.zeros(n, bool)
    keep[1:] = glyph
    glyphs = keep[lab].astype(np.uint8)
    sizes = h[glyph & (h >= 4)]
    char = float(np.median(sizes)) if len(sizes) else 4.0
    k = max(2, int(round(char * 0.9)))
    merged = cv2.dilate(glyphs, np.ones((k, k), np.uint8))
    n2, _lab2, st2, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    boxes = []
    for s in st2[1:]:
        x, y, bw, bh = (int(v) for v in s[:4])
        x0, y0 = x + k // 2, y + k // 2
        x1, y1 = x + bw - k // 2, y + bh - k // 2
        long_, short = max(x1 - x0, y1 - y0), min(x1 - x0, y1 - y0)
        if short < 2 or long_ < 2.5 * short or long_ > 0.9 * lattice.spacing * 3:
            continue
        boxes.append((x0, y0, x1, y1))
    return boxes


def _assign_box(box: tuple[int, int, int, int], lattice: Lattice, imax: int, jmax: int
                ) -> tuple[str, int, float, bool] | None:
    """(axis, line, distance from the line in spacings, in the margin?) for a label box."""
    x0, y0, x1, y1 = box
    corners = lattice.locate(np.array([x0, x1, x0, x1, (x0 + x1) / 2]),
                             np.array([y0, y0, y1, y1, (y0 + y1) / 2]))
    ci, cj = corners[4]
    ilo, ihi = corners[:4, 0].min(), corners[:4, 0].max()
    jlo, jhi = corners[:4, 1].min(), corners[:4, 1].max()
    outside_i = ihi < -0.05 or ilo > imax + 0.05
    outside_j = jhi < -0.05 or jlo > jmax + 0.05
    wide = (x1 - x0) >= (y1 - y0)
    if outside_i and not outside_j:  # left or right margin: a row's northing
        k = int(round(cj))
        return "northing", k, abs(cj - k), True
    if outside_j and not outside_i:  # top or bottom margin: a column's easting
        k = int(round(ci))
        return "easting", k, abs(ci - k), True
    if outside_i or outside_j:
        return None  # a corner of the margin: title block, scale bar
    # inside the map: labels written beside each cross, near the row or column line
    if wide:
        kj, ki = int(round(cj)), int(round(ilo))
        return ("northing", kj, abs(cj - kj), False) if abs(ilo - ki) < 0.3 else None
    return None


def _settle(readings: list[Reading], axis: str, sign: int, step_hint: float | None
            ) -> tuple[Axis | None, str]:
    """The start and step that the most readings agree on; refuse every other reading."""
    rs = [r for r in readings if r.axis == axis and r.value is not None]
    if not rs:
        return None, f"no {axis} label could be read"
    candidates: dict[tuple[float, float], set[int]] = {}
    for p in range(len(rs)):
        for q in range(p + 1, len(rs)):
            a, b = rs[p], rs[q]
            if a.line == b.line:
                continue
            step = (b.value - a.value) / (b.line - a.line)  # type: ignore[operator]
            if abs(step) not in NICE_STEPS or np.sign(step) != sign:
                continue
            start = a.value - a.line * step  # type: ignore[operator]
            key = (start, step)
            if key in candidates:
                continue
            support = {k for k, r in enumerate(rs) if r.value == start + r.line * step}
            candidates[key] = support
    if not candidates:
        if step_hint is not None:
            lines = {r.line for r in rs}
            for r in rs:
                start = r.value - r.line * step_hint * sign  # type: ignore[operator]
                support = {k for k, s in enumerate(rs) if s.value == start + s.line * step_hint
                           * sign}
                if len({rs[k].line for k in support}) >= 2 or (len(lines) == 1 and len(
                        support) >= 2):
                    candidates[(start, step_hint * sign)] = support
        if not candidates:
            for r in rs:
                r.status, r.why = "refused", "no second reading on another line agrees with it"
            return None, (f"the {axis} labels read do not agree on a regular grid "
                          f"({len(rs)} read)")

    def lines_of(s: set[int]) -> int:
        return len({rs[k].line for k in s})

    ranked = sorted(candidates.items(), key=lambda kv: (lines_of(kv[1]), len(kv[1])),
                    reverse=True)
    (start, step), support = ranked[0]
    if lines_of(support) < 2:
        for r in rs:
            r.status, r.why = "refused", "agrees with no reading on another line"
        return None, f"fewer than two {axis} lines are backed by agreeing labels"
    if len(ranked) > 1 and lines_of(ranked[1][1]) == lines_of(support):
        for r in rs:
            r.status, r.why = "refused", "two readings of the grid are equally backed"
        return None, f"the {axis} labels back two different grids equally: not settled"
    for k, r in enumerate(rs):
        if k in support:
            r.status = "used"
        else:
            expected = start + r.line * step
            r.status = "refused"
            r.why = (f"read {r.value:.0f} where the grid says {expected:.0f} "
                     "(a misread digit or a label of another line)")
    return Axis(start, step, len(support), {rs[k].line for k in support}), ""


# --- the whole detection ---------------------------------------------------------------------

def detect_grid(
    scan_path: str | Path,
    *,
    crs_epsg: int | None = None,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
) -> Detection:
    """Find the printed grid's crossings on a scan and give each its map coordinates.

    See the module's docstring for how. Raises :class:`GeoreferenceError` with the reason when
    no lattice of crosses is found; a lattice whose coordinates cannot be settled gives no
    points and a report saying why.
    """
    settings = settings or get_settings()
    t0 = time.perf_counter()
    info = probe_scan(scan_path, settings)
    factor = max(1, math.ceil(max(info.width, info.height) / OVERVIEW_SIDE))
    timings: dict[str, float] = {}
    # GDAL's block cache (5 % of the machine's memory by default) filled with the decoded copy's
    # blocks was 400 MB of the peak on a 12 000 x 14 000 px PNG; windows are read once each
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), tempfile.TemporaryDirectory(dir=workdir) as tmp, \
            open_windows(info, Path(tmp)) as scan:
        timings["decode_s"] = time.perf_counter() - t0
        grey = _overview(scan, info.width, info.height, factor)
        dark = _darkness(grey)
        del grey
        timings["overview_s"] = time.perf_counter() - t0 - timings["decode_s"]
        t1 = time.perf_counter()
        lattice, arm, n_cands = _best_lattice(dark)
        if lattice is None:
            raise GeoreferenceError(
                "no regular grid of crosses was found on the scan: place control points by hand",
                message_vi="Không tìm thấy lưới tọa độ (các dấu chữ thập) trên bản quét: hãy "
                "đặt điểm khống chế bằng tay.")
        timings["crosses_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        # full-resolution centres, and the crossings the lattice predicts confirmed there
        found_by_filter = len(lattice.index)
        full, completion = _complete(scan, lattice, factor, arm, (info.width, info.height))
        refine_failed = completion["centre_not_measured"]
        if len(full) >= 6:
            full, lattice = _relattice(full, lattice, factor)
        imax, jmax = (int(v) for v in lattice.index.max(axis=0))
        timings["refine_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        ticks = _ticks(dark, lattice, arm, imax, jmax)
        readings, boxes_seen, boxes_read = _read_labels(scan, dark, lattice, factor, imax, jmax,
                                                        info.width, info.height)
        timings["labels_s"] = time.perf_counter() - t1
    del dark
    # settle the axes: the lattice, not each label, gives the coordinates
    notes: list[str] = []
    east, why_e = _settle(readings, "easting", +1, None)
    north, why_n = _settle(readings, "northing", -1, abs(east.step) if east else None)
    if east is None and north is not None:
        east, why_e = _settle(readings, "easting", +1, abs(north.step))
    for why in (why_e, why_n):
        if why:
            notes.append(why)
    if east and north and abs(east.step) != abs(north.step):
        notes.append(f"the grid steps differ: {abs(east.step):g} m across, "
                     f"{abs(north.step):g} m down (printed grids are square): check the labels")
    points: list[DetectedPoint] = []
    left_out: list[str] = []
    if east and north:
        _check_orientation(lattice, east, north, notes)
    if east and north and not any("mirrored" in n for n in notes):
        total_lines_e = max(1, len(east.lines_read))
        total_lines_n = max(1, len(north.lines_read))
        for (i, j), (x, y) in sorted(full.items()):
            conf = 0.5 + 0.25 * min(1.0, (total_lines_e - 1) / 3) + 0.25 * min(
                1.0, (total_lines_n - 1) / 3)
            if i not in east.lines_read:
                conf -= 0.1
            if j not in north.lines_read:
                conf -= 0.1
            points.append(DetectedPoint(i, j, x, y, east.value(i), north.value(j),
                                        round(max(0.1, conf), 3), "cross"))
    else:
        left_out.append(f"all {len(full)} crossings: their coordinates cannot be settled")
    if refine_failed:
        left_out.append(f"{refine_failed} crossing(s) whose centre could not be measured at "
                        "full resolution")
    report = {
        "scan": {"width": info.width, "height": info.height, "reduced_by": factor},
        "grid": {
            "columns": imax + 1, "rows": jmax + 1,
            "spacing_px": round(lattice.spacing * factor, 1),
            "arm_px": arm * factor,
            "easting": ({"start": east.start, "step": east.step, "labels_agreeing": east.support}
                        if east else None),
            "northing": ({"start": north.start, "step": north.step,
                          "labels_agreeing": north.support} if north else None),
        },
        "crosses": {"candidates": n_cands, "found": found_by_filter,
                    "off_lattice_refused": lattice.refused,
                    "completed_from_lattice": completion["completed"],
                    "predicted_not_confirmed": completion["predicted_not_confirmed"],
                    "off_neighbours_refused": completion["off_neighbours_refused"],
                    "used": len(points), "centre_not_measured": refine_failed},
        "ticks": ticks,
        "labels": {
            "text_boxes": boxes_seen, "read": boxes_read,
            "found": len(readings),
            "used": sum(r.status == "used" for r in readings),
            "refused": sum(r.status == "refused" for r in readings),
            "readings": [r.as_dict() for r in readings],
        },
        "points": len(points),
        "left_out": left_out,
        "notes": notes,
        "crs": f"EPSG:{crs_epsg}" if crs_epsg else None,
        "seconds": {k: round(v, 2) for k, v in timings.items()}
        | {"total_s": round(time.perf_counter() - t0, 2)},
    }
    return Detection(points, report, crs_epsg, notes)


def _check_orientation(lattice: Lattice, east: Axis, north: Axis, notes: list[str]) -> None:
    """A map seen from below (east to the left with north up) means the axes were mixed up."""
    lin = np.linalg.lstsq(np.column_stack([np.ones(len(lattice.pixels)), lattice.index]),
                          lattice.pixels, rcond=None)[0]
    a = lin[1:].T  # pixel per (i, j)
    m = np.diag([east.step, north.step])  # map per (i, j)
    det = np.linalg.det(m @ np.linalg.inv(a))
    if det > 0:  # pixel rows grow downwards: a true map has a negative determinant
        notes.append("the labels read make a mirrored map (east and north disagree with the "
                     "picture): no points given")


def _ticks(dark: np.ndarray, lattice: Lattice, arm: int, imax: int, jmax: int
           ) -> dict[str, object]:
    """Ticks where grid lines meet the frame: T-junctions on the extension of each line.

    A tick gives one coordinate only (the frame's other coordinate is not a grid value), so it
    is counted and checked against the lattice, not used as a control point.
    """
    found = 0
    off = 0
    looked = 0
    r = max(3, arm)
    arms_for = {"top": ((1, 0), (-1, 0), (0, -1)), "bottom": ((1, 0), (-1, 0), (0, 1)),
                "left": ((0, 1), (0, -1), (-1, 0)), "right": ((0, 1), (0, -1), (1, 0))}
    h, w = dark.shape
    for side, arms in arms_for.items():
        lines = range(imax + 1) if side in ("top", "bottom") else range(jmax + 1)
        pad = int(lattice.spacing * 0.9) + r
        if side == "top":
            ref = lattice.predict(np.arange(imax + 1), np.zeros(imax + 1))
        elif side == "bottom":
            ref = lattice.predict(np.arange(imax + 1), np.full(imax + 1, jmax))
        elif side == "left":
            ref = lattice.predict(np.zeros(jmax + 1), np.arange(jmax + 1))
        else:
            ref = lattice.predict(np.full(jmax + 1, imax), np.arange(jmax + 1))
        x0 = int(max(0, ref[:, 0].min() - pad))
        x1 = int(min(w, ref[:, 0].max() + pad))
        y0 = int(max(0, ref[:, 1].min() - pad))
        y1 = int(min(h, ref[:, 1].max() + pad))
        if side == "top":
            y1 = int(min(h, ref[:, 1].max()))
        elif side == "bottom":
            y0 = int(max(0, ref[:, 1].min()))
        elif side == "left":
            x1 = int(min(w, ref[:, 0].max()))
        else:
            x0 = int(max(0, ref[:, 0].min()))
        if x1 - x0 < 2 * r + 3 or y1 - y0 < 2 * r + 3:
            continue
        score = _arm_response(dark[y0:y1, x0:x1], r, arms)
        peak = cv2.dilate(score, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
        ys, xs = np.nonzero((score >= peak) & (score > 0.12))
        if len(xs) == 0:
            looked += len(lines)
            continue
        ij = lattice.locate(xs + x0, ys + y0)
        for k in lines:
            looked += 1
            col = 0 if side in ("top", "bottom") else 1
            other = 1 - col
            beyond = (ij[:, other] < -0.02) if side in ("top", "left") else (
                ij[:, other] > (jmax if side in ("top", "bottom") else imax) + 0.02)
            near = beyond & (np.abs(ij[:, col] - k) < 0.06)
            if near.any():
                found += 1
            elif (beyond & (np.abs(ij[:, col] - k) < 0.5)).any():
                off += 1
    return {"lines_looked_at": looked, "found": found, "off_line_refused": off,
            "used": 0,
            "why_not_used": "a tick gives one coordinate only (the frame's other coordinate is "
                            "not a grid value); ticks confirm the lattice's columns and rows"}


def _read_labels(scan: ScanWindows, dark: np.ndarray, lattice: Lattice, factor: int, imax: int,
                 jmax: int, width: int, height: int) -> tuple[list[Reading], int, int]:
    boxes = _text_boxes(dark, lattice)
    assigned = []
    for b in boxes:
        a = _assign_box(b, lattice, imax, jmax)
        if a is None:
            continue
        axis, line, dist, margin = a
        if dist > 0.3:
            continue
        if axis == "easting" and not -1 <= line <= imax + 1:
            continue
        if axis == "northing" and not -1 <= line <= jmax + 1:
            continue
        assigned.append((0 if margin else 1, dist, b, axis, line))
    assigned.sort(key=lambda t: (t[0], t[1]))
    have_margin = {ax for m, _d, _b, ax, _l in assigned if m == 0}
    reader = DigitReader()
    readings: list[Reading] = []
    read = 0
    try:
        for m, _dist, b, axis, line in assigned[:MAX_OCR_BOXES]:
            if m == 1 and axis in have_margin and len([r for r in readings if r.axis == axis
                                                       and r.value is not None]) >= 3:
                continue  # the margin already speaks for this axis
            x0, y0, x1, y1 = b
            pad = 2 * factor
            fx0, fy0 = max(0, x0 * factor - pad), max(0, y0 * factor - pad)
            fx1, fy1 = min(width, (x1 + 1) * factor + pad), min(height, (y1 + 1) * factor + pad)
            grey = _read_grey(scan, fx0, fy0, fx1, fy1)
            read += 1
            options = [grey] if grey.shape[1] >= grey.shape[0] else [
                cv2.rotate(grey, cv2.ROTATE_90_CLOCKWISE),
                cv2.rotate(grey, cv2.ROTATE_90_COUNTERCLOCKWISE)]
            best: tuple[str, float, tuple[str | None, float] | None] | None = None
            for img in options:
                text, conf = reader.read(img)
                parsed = parse_label(text)
                if best is None or (parsed is not None, conf) > (best[2] is not None, best[1]):
                    best = (text, conf, parsed)
            assert best is not None
            text, conf, parsed = best
            if parsed is None:
                if any(ch.isdigit() for ch in text) and len(text) >= 4:
                    readings.append(Reading(axis, line, text, None, (fx0, fy0, fx1, fy1), conf,
                                            "refused", "not a grid coordinate"))
                continue
            letter, value = parsed
            r = Reading(axis, line, text, value, (fx0, fy0, fx1, fy1), conf)
            if letter is not None and (letter == "X") != (axis == "northing"):
                r.status = "refused"
                r.why = (f"labelled {letter} (X = northing, Y = easting) but it stands on a "
                         f"{'row' if axis == 'northing' else 'column'}")
                r.value = None
            readings.append(r)
    finally:
        reader.close()
    return readings, len(boxes), read


def write_detected(points: Iterable[DetectedPoint], path: str | Path, crs_epsg: int) -> None:
    """Write the points as QGIS ``.points`` (by suffix) or CSV, with a confidence column in CSV."""
    import csv

    from planning_gis.crs import parse_crs
    from planning_gis.georef.control_points import write_points

    p = Path(path)
    pts = list(points)
    if p.suffix.lower() == ".csv":
        with open(p, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["label", "pixel_x", "pixel_y", "easting", "northing", "enabled",
                        "confidence"])
            for d in pts:
                w.writerow([d.label, f"{d.pixel_x:.4f}", f"{d.pixel_y:.4f}", f"{d.easting:.4f}",
                            f"{d.northing:.4f}", 1, f"{d.confidence:.3f}"])
        return
    write_points([d.control_point() for d in pts], p, parse_crs(crs_epsg))
