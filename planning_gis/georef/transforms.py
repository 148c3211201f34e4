"""The transformations from scan pixels to map coordinates, with honest error figures.

Every fit works on normalised coordinates (centred, one isotropic scale per side) so that
polynomial design matrices stay well conditioned with VN-2000 numbers in the millions and scans
tens of thousands of pixels wide. Pixel rows are negated before fitting, because rows grow
downwards and northings upwards: a similarity is then a true rotation + scale, not a reflection.

Each :class:`Fit` carries residuals at the control points (how well the surface passes through
them: zero for a thin-plate spline, which says nothing) and the leave-one-out error of every
point (the point is left out, the rest refit, and the point predicted: an out-of-sample figure
that lets methods with different numbers of parameters be compared fairly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.optimize import least_squares

from planning_gis.errors import GeoreferenceError, NotEnoughControlPoints
from planning_gis.georef.control_points import ControlPoint

METHODS = ("helmert", "affine", "poly2", "poly3", "projective", "tps", "tps-smooth")
#: Points a method needs to be determined at all (leave-one-out needs one more). A smoothing
#: spline needs two more than the affine part it rests on: one to have anything to smooth, one
#: for the leave-one-out figure that chooses how much.
MIN_POINTS = {"helmert": 2, "affine": 3, "poly2": 6, "poly3": 10, "projective": 4, "tps": 3,
              "tps-smooth": 5}
#: Parameters per axis, used to say how many redundant points a fit has.
PARAMETERS = {"helmert": 2, "affine": 3, "poly2": 6, "poly3": 10, "projective": 4, "tps": 3,
              "tps-smooth": 3}
DESCRIPTIONS = {
    "helmert": "similarity (Helmert): shift, rotation, one scale",
    "affine": "affine: shift, rotation, two scales, shear",
    "poly2": "polynomial of order 2",
    "poly3": "polynomial of order 3",
    "projective": "projective (homography)",
    "tps": "thin-plate spline (passes through every point)",
    "tps-smooth": "smoothing thin-plate spline (bends with the sheet, not with the reading "
    "noise of each point; smoothing chosen by leave-one-out)",
}
#: Smoothing values tried, as multiples of the mean eigenvalue of the spline's bending matrix
#: (so the grid does not depend on how many points there are or how they are spread). The low
#: end is exact interpolation in all but name, the high end the affine fit.
SMOOTHING_GRID = np.logspace(-8, 4, 49)


@dataclass(frozen=True)
class Normaliser:
    """Centre and isotropic scale mapping coordinates to roughly [-1, 1]."""

    cx: float
    cy: float
    scale: float

    @classmethod
    def of(cls, xy: np.ndarray) -> Normaliser:
        c = xy.mean(axis=0)
        s = float(np.sqrt(((xy - c) ** 2).sum(axis=1).mean())) or 1.0
        return cls(float(c[0]), float(c[1]), s)

    def apply(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x - self.cx) / self.scale, (y - self.cy) / self.scale

    def undo(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return u * self.scale + self.cx, v * self.scale + self.cy


def _poly_terms(u: np.ndarray, v: np.ndarray, order: int) -> np.ndarray:
    cols = []
    for total in range(order + 1):
        for j in range(total + 1):
            cols.append(u ** (total - j) * v**j)
    return np.stack(cols, axis=-1)


class _Model2D:
    """A mapping between two normalised planes, fitted by least squares or interpolation."""

    def __call__(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


#: Methods that take one-coordinate observations (see :class:`EdgeObservations`): those fitted
#: by least squares with the two map coordinates apart.
EDGE_METHODS = ("affine", "poly2", "poly3")


@dataclass(frozen=True)
class EdgeObservations:
    """Scan pixels known to share one map coordinate, up to an unknown offset per edge.

    Samples traced along the neatline: every sample of the left edge has the same easting. The
    offset per edge is left free (the printed line has a width, and which side of it the frame
    coordinate means is a drafting habit), so an edge observes the shape of the mapping along
    it, never its position: that stays with the control points. Each sample weighs as much as
    one coordinate of a control point.
    """

    pixels: tuple[np.ndarray, ...]  # per edge: (m, 2) scan pixels (column, row), raw
    axis: tuple[int, ...]  # per edge: 0 easting, 1 northing
    value: tuple[float, ...]  # per edge: the shared coordinate

    def corrected(self, correction: PixelCorrection | None) -> EdgeObservations:
        if correction is None:
            return self
        return EdgeObservations(
            tuple(np.column_stack(correction.apply(p[:, 0], p[:, 1])) for p in self.pixels),
            self.axis, self.value)


def _edge_rows(
    edges: EdgeObservations, axis: int, order: int, pn: Normaliser, mn: Normaliser
) -> tuple[np.ndarray, np.ndarray]:
    """Design rows (terms, then one offset column per edge of this axis) and values."""
    mine = [k for k, a in enumerate(edges.axis) if a == axis]
    rows, vals = [], []
    centre = mn.cx if axis == 0 else mn.cy
    for j, k in enumerate(mine):
        p = edges.pixels[k]
        u, v = pn.apply(p[:, 0], -p[:, 1])
        off = np.zeros((len(u), len(mine)))
        off[:, j] = -1.0
        rows.append(np.hstack([_poly_terms(u, v, order), off]))
        vals.append(np.full(len(u), (edges.value[k] - centre) / mn.scale))
    if not rows:
        return np.zeros((0, len(_poly_terms(np.zeros(1), np.zeros(1), order)[0]))), np.zeros(0)
    return np.vstack(rows), np.concatenate(vals)


class _Linear(_Model2D):
    def __init__(self, method: str, u: np.ndarray, v: np.ndarray, x: np.ndarray, y: np.ndarray,
                 edges: tuple[EdgeObservations, Normaliser, Normaliser] | None = None):
        self.method = method
        if method == "helmert":
            # x = a u - b v + tx ; y = b u + a v + ty
            one, zero = np.ones_like(u), np.zeros_like(u)
            a_rows = np.concatenate(
                [np.stack([u, -v, one, zero], 1), np.stack([v, u, zero, one], 1)]
            )
            sol, *_ = np.linalg.lstsq(a_rows, np.concatenate([x, y]), rcond=None)
            a, b, tx, ty = sol
            self.cx = np.array([tx, a, -b])
            self.cy = np.array([ty, b, a])
            self.order = 1
        else:
            self.order = {"affine": 1, "poly2": 2, "poly3": 3}[method]
            design = _poly_terms(u, v, self.order)
            _check_condition(design, method)
            if edges is None:
                coef, *_ = np.linalg.lstsq(design, np.column_stack([x, y]), rcond=None)
                self.cx, self.cy = coef[:, 0], coef[:, 1]
            else:
                obs, pn, mn = edges
                k = design.shape[1]
                out = []
                for axis, val in ((0, x), (1, y)):
                    rows, vals = _edge_rows(obs, axis, self.order, pn, mn)
                    extra = rows.shape[1] - k
                    a = np.vstack([np.hstack([design, np.zeros((len(val), extra))]), rows])
                    sol, *_ = np.linalg.lstsq(a, np.concatenate([val, vals]), rcond=None)
                    out.append(sol[:k])
                self.cx, self.cy = out

    def __call__(self, u, v):
        t = _poly_terms(np.asarray(u, float), np.asarray(v, float), self.order)
        return t @ self.cx, t @ self.cy


class _Projective(_Model2D):
    def __init__(self, u, v, x, y, h: np.ndarray | None = None):
        if h is None:
            one, zero = np.ones_like(u), np.zeros_like(u)
            a = np.concatenate(
                [
                    np.stack([u, v, one, zero, zero, zero, -x * u, -x * v], 1),
                    np.stack([zero, zero, zero, u, v, one, -y * u, -y * v], 1),
                ]
            )
            _check_condition(a, "projective")
            sol, *_ = np.linalg.lstsq(a, np.concatenate([x, y]), rcond=None)

            def resid(p):
                hx, hy = _apply_h(np.append(p, 1.0).reshape(3, 3), u, v)
                return np.concatenate([hx - x, hy - y])

            if len(u) > 4:
                sol = least_squares(resid, sol, method="lm").x
            h = np.append(sol, 1.0).reshape(3, 3)
        self.h = h

    def inverse(self) -> _Projective:
        return _Projective(None, None, None, None, h=np.linalg.inv(self.h))

    def __call__(self, u, v):
        return _apply_h(self.h, np.asarray(u, float), np.asarray(v, float))


def _apply_h(h, u, v):
    w = h[2, 0] * u + h[2, 1] * v + h[2, 2]
    return (h[0, 0] * u + h[0, 1] * v + h[0, 2]) / w, (h[1, 0] * u + h[1, 1] * v + h[1, 2]) / w


class _ThinPlate(_Model2D):
    def __init__(self, u, v, x, y):
        src = np.column_stack([u, v])
        # r^2 log r kernel with an affine part: the same interpolant as GDAL's r^2 log r^2 TPS.
        try:
            self.rbf = RBFInterpolator(
                src, np.column_stack([x, y]), kernel="thin_plate_spline", degree=1, smoothing=0.0
            )
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise GeoreferenceError(
                f"thin-plate spline cannot be fitted: {exc} (duplicate or collinear points?)"
            ) from exc

    def __call__(self, u, v):
        u = np.asarray(u, float)
        v = np.asarray(v, float)
        shape = u.shape
        out = np.empty((u.size, 2))
        flat = np.column_stack([u.ravel(), v.ravel()])
        step = 200_000  # bounded memory: the kernel matrix is (chunk x points)
        for i in range(0, len(flat), step):
            out[i : i + step] = self.rbf(flat[i : i + step])
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)


def _tps_kernel(r: np.ndarray) -> np.ndarray:
    """r^2 log r, zero at r = 0 (the kernel RBFInterpolator and GDAL use, up to a factor 2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = r * r * np.log(r)
    return np.where(r > 0.0, k, 0.0)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


class SmoothingPath:
    """Every smoothing thin-plate spline through one set of points, for any smoothing value.

    With the affine part split off (``P = [Q1 Q2] R``), the spline's coefficients are
    ``c = Q2 (Q2' K Q2 + lam I)^-1 Q2' y`` and the residuals at the points are ``lam c``. One
    eigendecomposition ``Q2' K Q2 = V D V'`` then gives the residuals, the hat-matrix diagonal
    and so the exact leave-one-out errors ``e_i / (1 - H_ii)`` for every ``lam`` at the cost of
    a matrix product: the whole search is cheaper than one refit per left-out point.
    """

    def __init__(self, src: np.ndarray, values: np.ndarray):
        n = len(src)
        self.src = src
        self.values = values
        self.kernel = _tps_kernel(_distances(src, src))
        p = np.column_stack([np.ones(n), src])
        q, r = np.linalg.qr(p, mode="complete")
        if abs(np.linalg.det(r[:3])) < 1e-12:
            raise GeoreferenceError(
                "smoothing thin-plate spline cannot be fitted: collinear points"
            )
        self.q1, self.r = q[:, :3], r[:3]
        q2 = q[:, 3:]
        d, v = np.linalg.eigh(q2.T @ self.kernel @ q2)
        if d.size == 0 or d.min() <= 1e-12 * max(d.max(), 1e-300):
            raise GeoreferenceError(
                "smoothing thin-plate spline cannot be fitted (duplicate points?)"
            )
        self.d = d
        self.w = q2 @ v  # orthonormal columns: the directions the affine part cannot explain
        self.wy = self.w.T @ values  # (n - 3, 2)
        self.scale = float(d.mean())

    def loo(self, lam: float) -> np.ndarray:
        """Exact leave-one-out errors (n, 2) of the spline with smoothing ``lam`` > 0."""
        g = lam / (self.d + lam)
        resid = self.w @ (g[:, None] * self.wy)  # observed minus fitted
        one_minus_h = (self.w**2) @ g
        return -resid / one_minus_h[:, None]

    def grid(self) -> np.ndarray:
        return SMOOTHING_GRID * self.scale

    def choose(self) -> tuple[float, float]:
        """Smoothing with the lowest leave-one-out RMS error, and that error.

        Ties go to the smaller value, the one nearest the exact spline.
        """
        lams = self.grid()
        scores = [float(np.sqrt((self.loo(lam) ** 2).sum(axis=1).mean())) for lam in lams]
        k = int(np.argmin(scores))
        return float(lams[k]), scores[k]

    def nested_loo(self) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out errors (n, 2) with the smoothing chosen anew without each point.

        For this smoother, the errors of a fit without a set S of points are
        ``(I - H)_SS^-1 r_S`` (``r`` the residuals of the fit to all): with S = {i, j} that is
        the leave-one-out error at j of the fit without i, so the choice each left-out point
        would get is found without refitting, from the same decomposition. The grid of values
        depends on pixel positions only, never on the map coordinates being predicted.
        Also returns the smoothing chosen without each point.
        """
        n = len(self.src)
        best_score = np.full(n, np.inf)
        out = np.full((n, 2), np.nan)
        chosen = np.full(n, np.nan)
        off = ~np.eye(n, dtype=bool)
        for lam in self.grid():
            g = lam / (self.d + lam)
            a = (self.w * g) @ self.w.T  # I - H
            r = a @ self.values  # observed minus fitted
            diag = np.diag(a)
            det = diag[:, None] * diag[None, :] - a * a
            ok = off & (det > 1e-12 * diag[:, None] * diag[None, :])
            with np.errstate(divide="ignore", invalid="ignore"):
                # e[i, j]: error at j of the fit without i and j (rows i, columns j)
                e = (diag[:, None, None] * r[None, :, :] - a[:, :, None] * r[:, None, :]) / det[
                    :, :, None
                ]
            score = np.where(ok[:, :, None], e * e, 0.0).sum(axis=(1, 2))
            score /= np.maximum(ok.sum(axis=1), 1)
            better = score < best_score * (1 - 1e-9)
            best_score[better] = score[better]
            out[better] = -r[better] / diag[better, None]
            chosen[better] = lam
        return out, chosen

    def coefficients(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Kernel weights (n, 2) and affine coefficients (3, 2) for smoothing ``lam`` >= 0."""
        c = self.w @ (self.wy / (self.d + lam)[:, None])
        a = np.linalg.solve(self.r, self.q1.T @ (self.values - self.kernel @ c))
        return c, a

    def effective_parameters(self, lam: float) -> float:
        """Trace of the hat matrix: parameters per axis the fit really spends (3 to n)."""
        return 3.0 + float((self.d / (self.d + lam)).sum())


class _SmoothThinPlate(_Model2D):
    """A thin-plate spline that need not pass through the points.

    The exact spline follows each point's reading noise (a third of a pixel is normal), so
    between the points it wobbles by about that much. Adding ``lam`` to the kernel diagonal lets
    the surface miss each point a little; ``lam`` is the one with the lowest leave-one-out
    error, so it smooths only as much as the points themselves say is noise. At ``lam`` = 0 it
    is the exact spline, as ``lam`` grows it tends to the affine fit. Evaluation costs what the
    exact spline costs: one kernel centre per control point.
    """

    def __init__(self, u, v, x, y, smoothing: float | None = None):
        src = np.column_stack([u, v])
        values = np.column_stack([x, y])
        try:
            path = SmoothingPath(src, values)
        except np.linalg.LinAlgError as exc:
            raise GeoreferenceError(
                f"smoothing thin-plate spline cannot be fitted: {exc} (duplicate points?)"
            ) from exc
        if smoothing is None:
            lam, _ = path.choose()
        else:
            lam = float(smoothing) * path.scale
        self.relative_smoothing = lam / path.scale
        self.smoothing = lam
        self.effective_parameters = path.effective_parameters(lam)
        self.centres = src
        self.weights, self.affine = path.coefficients(lam)

    def __call__(self, u, v):
        u = np.asarray(u, float)
        v = np.asarray(v, float)
        shape = u.shape
        flat = np.column_stack([u.ravel(), v.ravel()])
        out = np.empty((len(flat), 2))
        step = 100_000  # bounded memory: the kernel matrix is (chunk x points)
        for i in range(0, len(flat), step):
            q = flat[i : i + step]
            out[i : i + step] = _tps_kernel(_distances(q, self.centres)) @ self.weights
            out[i : i + step] += self.affine[0] + q @ self.affine[1:]
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)


def _check_condition(design: np.ndarray, method: str) -> None:
    s = np.linalg.svd(design, compute_uv=False)
    if s[-1] <= 1e-9 * s[0]:
        raise GeoreferenceError(
            f"{method}: the control points do not determine this transformation "
            "(duplicate or collinear points, or too clustered for this order)"
        )


def _build(method: str, u, v, x, y, smoothing: float | None = None, edges=None) -> _Model2D:
    if method in ("helmert", "affine", "poly2", "poly3"):
        return _Linear(method, u, v, x, y, edges if method in EDGE_METHODS else None)
    if method == "projective":
        return _Projective(u, v, x, y)
    if method == "tps":
        return _ThinPlate(u, v, x, y)
    if method == "tps-smooth":
        return _SmoothThinPlate(u, v, x, y, smoothing)
    raise GeoreferenceError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")


@dataclass(frozen=True)
class PixelCorrection:
    """A carriage scanner's row and column shifts, undone before the main model.

    A flat-bed or sheet-fed scanner moves its carriage along the rows: a wobble of the carriage
    shifts each whole row sideways by the same amount, whatever the column (``row_shift``, a
    function of the row), and a bent sensor bar shifts each column along itself (``col_shift``,
    a function of the column). No smooth surface through grid crosses 10 cm apart can follow a
    wobble shorter than that; the neatline, traced along its whole length, can. The corrected
    pixel is ``(px + row_shift(py), py + col_shift(px))``; both shifts are tabulated at knots
    and interpolated linearly, so applying and undoing them costs one lookup per coordinate.
    """

    row_knots: np.ndarray  # rows (py) where row_shift is tabulated, increasing
    row_shift: np.ndarray  # shift added to px, pixels
    col_knots: np.ndarray  # columns (px) where col_shift is tabulated, increasing
    col_shift: np.ndarray  # shift added to py, pixels

    def apply(self, px, py) -> tuple[np.ndarray, np.ndarray]:
        """Corrected pixels of raw scan pixels."""
        px = np.asarray(px, float)
        py = np.asarray(py, float)
        return px + self._du(py), py + self._dv(px)

    def undo(self, cx, cy, tol: float = 1e-6, max_iter: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Raw scan pixels of corrected pixels, by fixed-point iteration.

        The shifts change by a small fraction of a pixel per pixel (a wobble of a few pixels
        over hundreds of rows), so each step shrinks the error by that fraction: a handful of
        steps reach 1e-6 px.
        """
        cx = np.asarray(cx, float)
        cy = np.asarray(cy, float)
        px, py = cx - self._du(cy), cy - self._dv(cx)
        for _ in range(max_iter):
            nx = cx - self._du(py)
            ny = cy - self._dv(nx)
            done = np.nanmax(np.abs(nx - px), initial=0.0) < tol and np.nanmax(
                np.abs(ny - py), initial=0.0) < tol
            px, py = nx, ny
            if done:
                break
        return px, py

    def _du(self, py: np.ndarray) -> np.ndarray:
        if len(self.row_knots) == 0:
            return np.zeros_like(py)
        return np.interp(py, self.row_knots, self.row_shift)

    def _dv(self, px: np.ndarray) -> np.ndarray:
        if len(self.col_knots) == 0:
            return np.zeros_like(px)
        return np.interp(px, self.col_knots, self.col_shift)

    def max_shift(self) -> tuple[float, float]:
        """Largest row and column shift about their means (pixels): what the wobble amounts to."""
        def amp(a: np.ndarray) -> float:
            return float(np.abs(a - a.mean()).max()) if len(a) else 0.0
        return amp(self.row_shift), amp(self.col_shift)


@dataclass
class Transform:
    """Forward (pixel -> map) and inverse (map -> pixel) mapping of one fitted method.

    With a :class:`PixelCorrection` the model was fitted to corrected pixels: raw pixels are
    corrected before the forward model, and the inverse model's pixels are uncorrected.
    """

    method: str
    pix_norm: Normaliser
    map_norm: Normaliser
    fwd: _Model2D
    inv: _Model2D
    correction: PixelCorrection | None = None

    def forward(self, px, py) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates (easting, northing) of scan pixels (column, row)."""
        if self.correction is not None:
            px, py = self.correction.apply(px, py)
        u, v = self.pix_norm.apply(np.asarray(px, float), -np.asarray(py, float))
        x, y = self.fwd(u, v)
        return self.map_norm.undo(x, y)

    def inverse(self, e, n, refine: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Scan pixels of map coordinates.

        The inverse model is fitted separately (as GDAL does), then refined by Newton steps on
        the forward model so that warping is consistent with the residuals we report.
        """
        x, y = self.map_norm.apply(np.asarray(e, float), np.asarray(n, float))
        u, v = self.inv(x, y)
        u = np.asarray(u, float)
        v = np.asarray(v, float)
        if self.method not in ("helmert", "affine", "projective"):
            h = 1e-4
            for _ in range(refine):
                fx, fy = self.fwd(u, v)
                ax, ay = self.fwd(u + h, v)
                bx, by = self.fwd(u, v + h)
                j11, j21 = (ax - fx) / h, (ay - fy) / h
                j12, j22 = (bx - fx) / h, (by - fy) / h
                rx, ry = x - fx, y - fy
                det = j11 * j22 - j12 * j21
                det = np.where(np.abs(det) < 1e-12, 1e-12, det)
                u = u + (j22 * rx - j12 * ry) / det
                v = v + (-j21 * rx + j11 * ry) / det
        px, py = self.pix_norm.undo(u, v)
        if self.correction is not None:
            return self.correction.undo(px, -py)
        return px, -py

    @property
    def smoothing(self) -> dict[str, float] | None:
        """How much a smoothing spline smooths (None for the other methods).

        ``relative``: the chosen value over the mean eigenvalue of the bending matrix (about 0
        is exact interpolation, large is affine); ``effective_parameters``: the parameters per
        axis the fit spends, between 3 (affine) and the number of points (exact spline).
        """
        if not isinstance(self.fwd, _SmoothThinPlate):
            return None
        return {
            "relative": self.fwd.relative_smoothing,
            "effective_parameters": self.fwd.effective_parameters,
        }

    def pixel_size(self, px: float, py: float) -> float:
        """Ground size of one scan pixel (metres) near (px, py): sqrt of the Jacobian area."""
        e0, n0 = self.forward(np.array([px]), np.array([py]))
        e1, n1 = self.forward(np.array([px + 1.0]), np.array([py]))
        e2, n2 = self.forward(np.array([px]), np.array([py + 1.0]))
        det = (e1 - e0) * (n2 - n0) - (e2 - e0) * (n1 - n0)
        return float(np.sqrt(abs(det[0])))


def build_transform(
    method: str,
    pixels: np.ndarray,
    coords: np.ndarray,
    *,
    smoothing: float | None = None,
    edges: EdgeObservations | None = None,
) -> Transform:
    """Fit one method to arrays of pixels (n, 2: column, row) and map coordinates (n, 2).

    ``smoothing`` fixes the relative smoothing of ``tps-smooth`` (0 is the exact spline); left
    out, it is chosen by leave-one-out, separately for the forward and the inverse surface.
    ``edges`` (in the same pixels as ``pixels``) join the least-squares fit of the methods in
    :data:`EDGE_METHODS` and are ignored by the others.
    """
    if method not in METHODS:
        raise GeoreferenceError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    n = len(pixels)
    need = MIN_POINTS[method]
    if n < need:
        raise NotEnoughControlPoints(
            f"{method} needs at least {need} control points, {n} given",
            message_vi=f"Phép biến đổi {method} cần ít nhất {need} điểm khống chế, có {n}.",
        )
    flipped = np.column_stack([pixels[:, 0], -pixels[:, 1]])
    pn = Normaliser.of(flipped)
    mn = Normaliser.of(coords)
    u, v = pn.apply(flipped[:, 0], flipped[:, 1])
    x, y = mn.apply(coords[:, 0], coords[:, 1])
    try:
        fwd = _build(method, u, v, x, y, smoothing,
                     (edges, pn, mn) if edges is not None else None)
        if method == "projective":
            inv: _Model2D = fwd.inverse()  # type: ignore[attr-defined]
        elif method in ("helmert", "affine"):
            inv = _invert_linear(fwd)  # type: ignore[arg-type]
        else:
            inv = _build(method, x, y, u, v, smoothing)
    except np.linalg.LinAlgError as exc:
        raise GeoreferenceError(
            f"{method}: the control points do not determine this transformation "
            "(duplicate or collinear points?)"
        ) from exc
    return Transform(method, pn, mn, fwd, inv)


class _AffineInverse(_Model2D):
    def __init__(self, m: np.ndarray, t: np.ndarray):
        self.m, self.t = m, t

    def __call__(self, x, y):
        x = np.asarray(x, float) - self.t[0]
        y = np.asarray(y, float) - self.t[1]
        return self.m[0, 0] * x + self.m[0, 1] * y, self.m[1, 0] * x + self.m[1, 1] * y


def _invert_linear(model: _Linear) -> _Model2D:
    a = np.array([[model.cx[1], model.cx[2]], [model.cy[1], model.cy[2]]])
    return _AffineInverse(np.linalg.inv(a), np.array([model.cx[0], model.cy[0]]))


@dataclass
class Fit:
    """One fitted method with residuals and leave-one-out errors (all in map units: metres)."""

    method: str
    points: list[ControlPoint]
    transform: Transform
    residuals_m: np.ndarray  # (n, 2): fitted minus given map coordinates
    residuals_px: np.ndarray  # (n, 2): inverse(given map) minus given pixel
    loo_m: np.ndarray  # (n, 2): leave-one-out prediction minus given (NaN when impossible)
    pixel_size_m: float
    notes: list[str] = field(default_factory=list)

    @property
    def rmse_m(self) -> float:
        return float(np.sqrt((self.residuals_m**2).sum(axis=1).mean()))

    @property
    def rmse_px(self) -> float:
        return float(np.sqrt((self.residuals_px**2).sum(axis=1).mean()))

    @property
    def loo_errors_m(self) -> np.ndarray:
        return np.hypot(self.loo_m[:, 0], self.loo_m[:, 1])

    @property
    def loo_rmse_m(self) -> float | None:
        if np.isnan(self.loo_m).any():
            return None
        return float(np.sqrt((self.loo_m**2).sum(axis=1).mean()))

    def forward(self, px, py):
        return self.transform.forward(px, py)

    def inverse(self, e, n):
        return self.transform.inverse(e, n)


def as_arrays(points: Sequence[ControlPoint]) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.array([[p.pixel_x, p.pixel_y] for p in points], dtype=float).reshape(-1, 2)
    coords = np.array([[p.easting, p.northing] for p in points], dtype=float).reshape(-1, 2)
    return pixels, coords


def check_geometry(points: Sequence[ControlPoint], tolerance_px: float = 0.5) -> None:
    """Refuse duplicate and collinear points, which make every fit meaningless."""
    pixels, coords = as_arrays(points)
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            if np.hypot(*(pixels[i] - pixels[j])) < tolerance_px:
                raise GeoreferenceError(
                    f"control points {points[i].label or i + 1} and {points[j].label or j + 1} "
                    "are at the same pixel (duplicate point)"
                )
            if np.hypot(*(coords[i] - coords[j])) < 1e-6:
                raise GeoreferenceError(
                    f"control points {points[i].label or i + 1} and {points[j].label or j + 1} "
                    "have the same map coordinates (duplicate point)"
                )
    if n >= 3:
        # Pixels only: one mistyped map coordinate (a swapped X/Y is 1 700 km off) would make
        # the map cloud look like a line; that is a blunder for the report to name, not this.
        c = pixels - pixels.mean(axis=0)
        s = np.linalg.svd(c, compute_uv=False)
        if s[1] < 1e-2 * s[0]:
            raise GeoreferenceError(
                "the control points are collinear on the scan: pick points spread over the "
                "sheet, not along one line"
            )


def fit(
    points: Sequence[ControlPoint],
    method: str,
    *,
    smoothing: float | None = None,
    correction: PixelCorrection | None = None,
    edges: EdgeObservations | None = None,
) -> Fit:
    """Fit ``method`` to the enabled points and compute residuals and leave-one-out errors.

    With a ``correction`` the model is fitted to the corrected pixels and carries the
    correction, so residuals, leave-one-out errors and warping all see the same mapping. The
    correction itself is held fixed while points are left out: it comes from the neatline, not
    from any one point. ``edges`` (raw pixels; corrected here) join the fit of the methods in
    :data:`EDGE_METHODS`, also in every leave-one-out refit.
    """
    pts = [p for p in points if p.enabled]
    check_geometry(pts)
    pixels, coords = as_arrays(pts)
    corrected = pixels
    if correction is not None:
        corrected = np.column_stack(correction.apply(pixels[:, 0], pixels[:, 1]))
    if edges is not None and method in EDGE_METHODS:
        edges = edges.corrected(correction)
    else:
        edges = None
    t = build_transform(method, corrected, coords, smoothing=smoothing, edges=edges)
    t.correction = correction
    fe, fn = t.forward(pixels[:, 0], pixels[:, 1])
    res_m = np.column_stack([fe - coords[:, 0], fn - coords[:, 1]])
    ix, iy = t.inverse(coords[:, 0], coords[:, 1])
    res_px = np.column_stack([ix - pixels[:, 0], iy - pixels[:, 1]])
    loo = leave_one_out(method, corrected, coords, smoothing=smoothing, edges=edges)
    centre = pixels.mean(axis=0)
    return Fit(method, pts, t, res_m, res_px, loo, t.pixel_size(*centre))


def leave_one_out(
    method: str,
    pixels: np.ndarray,
    coords: np.ndarray,
    *,
    smoothing: float | None = None,
    edges: EdgeObservations | None = None,
) -> np.ndarray:
    """Prediction error of each point from a fit to all the others (NaN if too few points).

    Everything is refitted without the point, including the smoothing ``tps-smooth`` chooses
    by leave-one-out itself (in closed form, see :func:`_smooth_leave_one_out`): the left-out
    point never helps choose the surface that predicts it, so the figure stays honest against
    the methods with nothing to choose.
    """
    n = len(pixels)
    out = np.full((n, 2), np.nan)
    if n - 1 < MIN_POINTS[method]:
        return out
    if method == "tps-smooth":
        return _smooth_leave_one_out(pixels, coords, smoothing)
    keep = np.ones(n, bool)
    for i in range(n):
        keep[i] = False
        try:
            t = build_transform(method, pixels[keep], coords[keep], smoothing=smoothing,
                                edges=edges)
            e, nn = t.forward(pixels[i : i + 1, 0], pixels[i : i + 1, 1])
            out[i] = [e[0] - coords[i, 0], nn[0] - coords[i, 1]]
        except GeoreferenceError:
            pass  # the others alone do not determine the method: stays NaN
        keep[i] = True
    return out


def _smooth_leave_one_out(
    pixels: np.ndarray, coords: np.ndarray, smoothing: float | None
) -> np.ndarray:
    """:func:`leave_one_out` of ``tps-smooth`` in closed form (one decomposition, not n refits).

    The normalisation and the grid of smoothing values come from the pixel positions of all
    points, which say nothing about any point's map coordinates; the value is then chosen
    without the point whose error is measured (see :meth:`SmoothingPath.nested_loo`).
    """
    flipped = np.column_stack([pixels[:, 0], -pixels[:, 1]])
    pn = Normaliser.of(flipped)
    mn = Normaliser.of(coords)
    src = np.column_stack(pn.apply(flipped[:, 0], flipped[:, 1]))
    values = np.column_stack(mn.apply(coords[:, 0], coords[:, 1]))
    try:
        path = SmoothingPath(src, values)
    except (GeoreferenceError, np.linalg.LinAlgError):
        return np.full((len(pixels), 2), np.nan)
    if smoothing is None:
        loo, _ = path.nested_loo()
    else:
        loo = path.loo(float(smoothing) * path.scale)
    return loo * mn.scale
