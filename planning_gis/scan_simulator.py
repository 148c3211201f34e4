"""Synthetic scanned planning sheets with a known truth.

A planning map is drawn in EPSG:5897 the way the city prints it (zones, a coordinate grid of
crosses labelled X=… (northing) and Y=… (easting), a neatline, and the title block and legend
outside the neatline), then "scanned": rotated, shrunk unevenly like old paper, pushed around by
a smooth wavy scanner drift, and given noise. Because the distortion is ours, the true pixel ->
map mapping is known exactly; the control points read off the grid crosses carry a little
reading noise, and hidden check markers keep their true coordinates aside. The benchmark uses it
to measure georeferencing error honestly; the demo-data generator uses it to make sheets.

All pixel coordinates are corner-based (GDAL/QGIS convention: the top-left pixel's centre is
(0.5, 0.5)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from planning_gis.georef.control_points import ControlPoint
from planning_gis.settings import get_settings

Zone = tuple[BaseGeometry, str, str]


@dataclass(frozen=True)
class CheckPoint:
    """A hidden marker on the sheet: where it is on the scan and where it truly is."""

    pixel_x: float
    pixel_y: float
    easting: float
    northing: float
    label: str


@dataclass
class SimulatedScan:
    """A written synthetic scan and everything known about it."""

    path: Path
    width: int
    height: int
    control_points: list[ControlPoint]
    check_points: list[CheckPoint]
    neatline_pixels: list[tuple[float, float]]
    pixel_to_map: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    map_to_pixel: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    metres_per_pixel: float
    grid_step_m: float
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def neatline_wkt(self) -> str:
        return Polygon(self.neatline_pixels).wkt


class _Distortion:
    """Scan pixel (corner-based) -> flat-sheet pixel: rotation, paper shrink, scanner drift."""

    def __init__(self, w: int, h: int, rotation_deg: float, shrink_px: float, drift_px: float,
                 seed: int):
        rng = np.random.default_rng(seed + 7)
        self.cx, self.cy = w / 2.0, h / 2.0
        self.half = max(w, h) / 2.0
        t = math.radians(rotation_deg)
        self.cos, self.sin = math.cos(t), math.sin(t)
        self.shrink = shrink_px
        self.drift = drift_px
        # Uneven shrink: different quadratic terms in x and y (paper shrinks more across grain).
        self.q = rng.uniform(0.5, 1.0, 4) * np.array([1, 1, -1, 1])
        self.len1 = h * rng.uniform(0.35, 0.55)
        self.len2 = h * rng.uniform(0.45, 0.7)
        self.len3 = w * rng.uniform(0.4, 0.6)
        self.ph = rng.uniform(0, 2 * math.pi, 3)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = (x - self.cx) / self.half
        b = (y - self.cy) / self.half
        # rotation about the centre
        u = self.cx + (x - self.cx) * self.cos - (y - self.cy) * self.sin
        v = self.cy + (x - self.cx) * self.sin + (y - self.cy) * self.cos
        # quadratic shrink: a few pixels at the corners, nothing at the centre
        s = self.shrink
        u = u + s * (self.q[0] * a * a + self.q[2] * a * b) * 0.7
        v = v + s * (self.q[1] * b * b + self.q[3] * a * b) * 0.7
        # smooth wavy drift of the scanner carriage (along the scan direction y)
        d = self.drift
        u = u + d * np.sin(2 * math.pi * y / self.len1 + self.ph[0])
        v = v + d * 0.8 * np.sin(2 * math.pi * y / self.len2 + self.ph[1])
        v = v + d * 0.4 * np.sin(2 * math.pi * x / self.len3 + self.ph[2])
        return u, v

    def invert(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scan pixel of a sheet pixel, by Newton iteration (the distortion is near-rigid)."""
        u = np.asarray(u, float)
        v = np.asarray(v, float)
        # start from the inverse rotation
        x = self.cx + (u - self.cx) * self.cos + (v - self.cy) * self.sin
        y = self.cy - (u - self.cx) * self.sin + (v - self.cy) * self.cos
        h = 1e-3
        for _ in range(8):
            fu, fv = self(x, y)
            au, av = self(x + h, y)
            bu, bv = self(x, y + h)
            j11, j21 = (au - fu) / h, (av - fv) / h
            j12, j22 = (bu - fu) / h, (bv - fv) / h
            ru, rv = u - fu, v - fv
            det = j11 * j22 - j12 * j21
            x = x + (j22 * ru - j12 * rv) / det
            y = y + (-j21 * ru + j11 * rv) / det
        return x, y


def _nice_step(target: float) -> float:
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if step >= target:
            return float(step)
    return 10000.0


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    s = get_settings()
    path = s.bold_font if bold else s.font_path
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default()


#: How the grid's coordinates are printed (see :func:`simulate_scan`). The margin styles are
#: those seen on Hanoi's sheets: ``margin-xy`` "X = 2 321 400" left and right, "Y = 586 400"
#: top and bottom; ``margin-bare`` "2321400" on the left only and "586400" at the bottom only;
#: ``margin-dots`` "2.321.400" on the right and "586.400" on top; ``margin-rotated`` northings
#: turned 90 degrees along the left and right edges, eastings "Y: 586 400" top and bottom.
LABEL_STYLES = ("cross", "margin-xy", "margin-bare", "margin-dots", "margin-rotated")


def _stroke(draw: ImageDraw.ImageDraw, x0: float, y0: float, x1: float, y1: float,
            width: int) -> None:
    """An axis-parallel line of ``width`` pixels centred on corner-based (x0, y0)-(x1, y1).

    PIL truncates float coordinates, which would print every cross half a pixel up and left of
    where the truth says it is; the grid is what control points are read from, so it is drawn
    on the pixels whose centres lie within ``width / 2`` of the line.
    """
    h = width / 2.0

    def rnd(v: float) -> int:  # half up, not to even: every stroke exactly ``width`` wide
        return math.floor(v + 0.5)

    if y0 == y1:
        box = (rnd(x0), rnd(y0 - h), rnd(x1) - 1, rnd(y0 - h) + width - 1)
    else:
        box = (rnd(x0 - h), rnd(y0), rnd(x0 - h) + width - 1, rnd(y1) - 1)
    draw.rectangle(box, fill=(0, 0, 0))


def _grouped(value: float, sep: str) -> str:
    digits = f"{value:.0f}"
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return sep.join(groups)


def _margin_labels(sheet: Image.Image, draw: ImageDraw.ImageDraw, style: str, gx: np.ndarray,
                   gy: np.ndarray, sheet_of, frame: tuple[float, float, int, int],
                   unit: float) -> None:
    """Ticks on the neatline where each grid line meets it, and the coordinates in the margin."""
    ox, oy, map_w, map_h = frame
    font = _font(int(15 * unit))
    tick = 10 * unit
    gap = 6 * unit
    width = max(1, int(unit))
    sides_n = {"margin-xy": ("left", "right"), "margin-bare": ("left",),
               "margin-dots": ("right",), "margin-rotated": ("left", "right")}[style]
    sides_e = {"margin-xy": ("top", "bottom"), "margin-bare": ("bottom",),
               "margin-dots": ("top",), "margin-rotated": ("top", "bottom")}[style]

    def text_n(n: float) -> str:
        return {"margin-xy": f"X = {_grouped(n, ' ')}", "margin-bare": f"{n:.0f}",
                "margin-dots": _grouped(n, "."), "margin-rotated": f"X = {_grouped(n, ' ')}"}[style]

    def text_e(e: float) -> str:
        return {"margin-xy": f"Y = {_grouped(e, ' ')}", "margin-bare": f"{e:.0f}",
                "margin-dots": _grouped(e, "."), "margin-rotated": f"Y: {_grouped(e, ' ')}"}[style]

    def rotated(text: str, x: float, y: float, angle: int, anchor: str) -> None:
        box = draw.textbbox((0, 0), text, font=font)
        img = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
        ImageDraw.Draw(img).text((2 - box[0], 2 - box[1]), text, fill=255, font=font)
        img = img.rotate(angle, expand=True)
        w, h = img.size
        left = x - w if anchor == "right" else x
        sheet.paste((0, 0, 0), (int(round(left)), int(round(y - h / 2))), img)

    for n in gy:
        _, v = sheet_of(ox, n)
        v = float(v)
        if not oy < v < oy + map_h:
            continue
        for side in sides_n:
            x = ox if side == "left" else ox + map_w
            out = -1 if side == "left" else 1
            draw.line([(x, v - 0.5), (x + out * tick, v - 0.5)], fill=(0, 0, 0), width=width)
            tx = x + out * (tick + gap)
            if style == "margin-rotated":
                rotated(text_n(n), tx, v, 90 if side == "left" else 270,
                        "right" if side == "left" else "left")
            else:
                draw.text((tx, v - 0.5), text_n(n), fill=(0, 0, 0), font=font,
                          anchor="rm" if side == "left" else "lm")
    for e in gx:
        u, _ = sheet_of(e, 0.0)
        u = float(u)
        if not ox < u < ox + map_w:
            continue
        for side in sides_e:
            y = oy if side == "top" else oy + map_h
            out = -1 if side == "top" else 1
            draw.line([(u - 0.5, y), (u - 0.5, y + out * tick)], fill=(0, 0, 0), width=width)
            draw.text((u - 0.5, y + out * (tick + gap)), text_e(e), fill=(0, 0, 0), font=font,
                      anchor="mb" if side == "top" else "mt")


def demo_zones(bounds: tuple[float, float, float, float], seed: int = 0) -> list[Zone]:
    """A plausible set of planning zones (blocks between roads) filling ``bounds``."""
    rng = np.random.default_rng(seed)
    palette = [
        ("#f4a460", "OM"), ("#e08040", "NO"), ("#c0e080", "CX"), ("#ff9090", "CC"),
        ("#ffd0e0", "TH"), ("#b090d0", "HH"), ("#a0c8f0", "MN"), ("#d0d0d0", "HTKT"),
    ]
    minx, miny, maxx, maxy = bounds
    w, h = maxx - minx, maxy - miny
    nx = max(2, int(w // 180))
    ny = max(2, int(h // 160))
    xs = np.linspace(minx, maxx, nx + 1)
    ys = np.linspace(miny, maxy, ny + 1)
    road = min(w / nx, h / ny) * 0.08
    zones: list[Zone] = []
    k = 0
    for i in range(nx):
        for j in range(ny):
            x0, x1 = xs[i] + road, xs[i + 1] - road
            y0, y1 = ys[j] + road, ys[j + 1] - road
            jit = (x1 - x0) * 0.08
            pts = [
                (x0 + rng.uniform(0, jit), y0 + rng.uniform(0, jit)),
                (x1 - rng.uniform(0, jit), y0 + rng.uniform(0, jit)),
                (x1 - rng.uniform(0, jit), y1 - rng.uniform(0, jit)),
                (x0 + rng.uniform(0, jit), y1 - rng.uniform(0, jit)),
            ]
            colour, code = palette[int(rng.integers(len(palette)))]
            k += 1
            zones.append((Polygon(pts), colour, f"{code}.{k}"))
    return zones


def function_code(label: str) -> str:
    """The land-use code in a zone label: "D.1-HH1" -> "HH", "CX.3" -> "CX", "MN-01" -> "MN"."""
    part = label.rsplit("-", 1)[-1] if "-" in label else label.split(".")[0]
    code = part.rstrip("0123456789.")
    if not code:  # "MN-01": the code is before the dash
        code = label.split("-")[0].split(".")[0]
    return code


def simulate_scan(
    zones: Sequence[Zone],
    bounds: tuple[float, float, float, float],
    out_path: str | Path,
    *,
    title: str = "QUY HOẠCH PHÂN KHU – BẢN ĐỒ QUY HOẠCH SỬ DỤNG ĐẤT",
    scale_denominator: int = 2000,
    dpi: int = 150,
    rotation_deg: float = 1.2,
    shrink_px: float = 6.0,
    drift_px: float = 2.0,
    noise: float = 6.0,
    seed: int = 0,
    grid_step_m: float | None = None,
    check_count: int = 12,
    reading_noise_px: float = 0.35,
    label_style: str = "cross",
    legend_names: Mapping[str, str] | None = None,
) -> SimulatedScan:
    """Draw ``zones`` (EPSG:5897) inside ``bounds`` as a printed sheet, distort it, write it.

    The sheet size follows from the bounds, the scale and the dpi; PNG or TIFF by the suffix of
    ``out_path``. Returns the control points (grid crosses, with reading noise), the hidden check
    points and the neatline in scan pixels, and the exact pixel <-> map mapping.
    ``legend_names`` (function code -> name) writes names beside the legend's colours.
    """
    rng = np.random.default_rng(seed)
    out_path = Path(out_path)
    minx, miny, maxx, maxy = bounds
    mpp = scale_denominator * 0.0254 / dpi  # metres of ground per scan pixel
    map_w = int(math.ceil((maxx - minx) / mpp))
    map_h = int(math.ceil((maxy - miny) / mpp))
    unit = max(1.0, dpi / 150.0)
    margin = int((60 if label_style == "cross" else 150) * unit)
    panel = int(max(420 * unit, map_w * 0.22))
    width = margin + map_w + margin + panel + margin
    height = margin + map_h + margin
    ox, oy = float(margin), float(margin)  # sheet px of (minx, maxy), corner-based

    def sheet_of(e, n):
        return ox + (np.asarray(e) - minx) / mpp, oy + (maxy - np.asarray(n)) / mpp

    def map_of_sheet(u, v):
        return minx + (np.asarray(u) - ox) * mpp, maxy - (np.asarray(v) - oy) * mpp

    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    small = _font(int(11 * unit))
    normal = _font(int(14 * unit))
    bold = _font(int(22 * unit), bold=True)

    def pil(u, v):  # corner-based continuous -> PIL coordinates
        return (float(u) - 0.5, float(v) - 0.5)

    # zones, largest first: a plan's road or background zone is one polygon whose holes are
    # the blocks, and PIL fills only its outline, so drawn last it would paint over them all
    for geom, colour, label in sorted(zones, key=lambda z: -z[0].area):
        polys = list(getattr(geom, "geoms", [geom]))
        for poly in polys:
            if poly.geom_type != "Polygon":
                continue
            ue, ve = sheet_of(*np.asarray(poly.exterior.coords).T)
            draw.polygon([pil(a, b) for a, b in zip(ue, ve, strict=True)], fill=colour,
                         outline=(60, 60, 60))
        c = geom.representative_point()
        cu, cv = sheet_of(c.x, c.y)
        draw.text(pil(cu, cv), label, fill=(20, 20, 20), font=small, anchor="mm")

    # grid crosses
    if grid_step_m is None:
        # crosses every 10 cm of paper, closer on a small sheet so that at least 4 fit a side
        grid_step_m = scale_denominator * 0.1
        while min(maxx - minx, maxy - miny) / grid_step_m < 4.5 and grid_step_m > 10:
            grid_step_m = _nice_step(grid_step_m / 2.0 - 1e-9)
    step = grid_step_m
    gx = np.arange(math.ceil(minx / step) * step, maxx + 1e-6, step)
    gy = np.arange(math.ceil(miny / step) * step, maxy + 1e-6, step)
    arm = 12 * unit
    crosses = []
    for e in gx:
        for n in gy:
            u, v = sheet_of(e, n)
            # crosses on the neatline count too: the frame's corners and ticks carry coordinates
            if not (ox - 0.5 <= u <= ox + map_w + 0.5 and oy - 0.5 <= v <= oy + map_h + 0.5):
                continue
            crosses.append((e, n, u, v))
            _stroke(draw, u - arm, v, u + arm, v, max(1, int(unit)))
            _stroke(draw, u, v - arm, u, v + arm, max(1, int(unit)))
            if label_style == "cross":
                draw.text(pil(u + 3 * unit, v - 3 * unit), f"X={n:.0f}", fill=(0, 0, 0),
                          font=small, anchor="lb")
                draw.text(pil(u + 3 * unit, v + 3 * unit), f"Y={e:.0f}", fill=(0, 0, 0),
                          font=small, anchor="lt")
    if label_style != "cross":
        _margin_labels(sheet, draw, label_style, gx, gy, sheet_of, (ox, oy, map_w, map_h), unit)

    # hidden check markers (small circled dots at random places, away from the crosses)
    checks_sheet = []
    tries = 0
    while len(checks_sheet) < check_count and tries < 10000:
        tries += 1
        e = rng.uniform(minx + 0.03 * (maxx - minx), maxx - 0.03 * (maxx - minx))
        n = rng.uniform(miny + 0.03 * (maxy - miny), maxy - 0.03 * (maxy - miny))
        if any(abs(e - c[0]) < step * 0.15 and abs(n - c[1]) < step * 0.15 for c in crosses):
            continue
        u, v = sheet_of(e, n)
        r = 4 * unit
        draw.ellipse([pil(u - r, v - r), pil(u + r, v + r)], outline=(200, 0, 0),
                     width=max(1, int(unit)))
        draw.point(pil(u, v), fill=(200, 0, 0))
        checks_sheet.append((e, n, u, v))

    # neatline, title block and legend outside it
    draw.rectangle([pil(ox, oy), pil(ox + map_w, oy + map_h)], outline=(0, 0, 0),
                   width=max(2, int(3 * unit)))
    px0 = ox + map_w + margin
    draw.rectangle([pil(px0, oy), pil(width - margin, oy + map_h)], outline=(0, 0, 0),
                   width=max(1, int(2 * unit)))
    ty = oy + 20 * unit
    words = title.split()
    line = ""
    lines = []
    for w in words:  # naive wrap to the panel width
        trial = (line + " " + w).strip()
        if draw.textlength(trial, font=bold) > panel - 40 * unit and line:
            lines.append(line)
            line = w
        else:
            line = trial
    lines.append(line)
    for text in lines:
        draw.text(pil(px0 + 20 * unit, ty), text, fill=(0, 0, 0), font=bold)
        ty += 30 * unit
    draw.text(pil(px0 + 20 * unit, ty + 10 * unit), f"Tỷ lệ 1:{scale_denominator}",
              fill=(0, 0, 0), font=normal)
    draw.text(pil(px0 + 20 * unit, ty + 34 * unit), "Hệ tọa độ VN-2000, KTT 105°00', múi 3°",
              fill=(0, 0, 0), font=small)
    ly = ty + 70 * unit
    draw.text(pil(px0 + 20 * unit, ly), "CHÚ GIẢI", fill=(0, 0, 0), font=normal)
    ly += 26 * unit
    seen = {}
    for _geom, colour, label in zones:
        code = function_code(label)
        if code not in seen:
            seen[code] = colour
    for code, colour in seen.items():
        if ly > oy + map_h - 30 * unit:
            break
        draw.rectangle([pil(px0 + 20 * unit, ly), pil(px0 + 50 * unit, ly + 16 * unit)],
                       fill=colour, outline=(0, 0, 0))
        name = (legend_names or {}).get(code)
        draw.text(pil(px0 + 60 * unit, ly), f"{code} – {name}" if name else code,
                  fill=(0, 0, 0), font=normal)
        ly += 24 * unit
    del draw

    # scan: distort the flat sheet strip by strip (bounded memory), add tint and noise
    dist = _Distortion(width, height, rotation_deg, shrink_px, drift_px, seed)
    flat = np.asarray(sheet)
    del sheet
    scan = np.empty_like(flat)
    xs_idx = np.arange(width, dtype=np.float64) + 0.5
    strip = max(16, min(height, 4_000_000 // max(1, width)))
    for y0 in range(0, height, strip):
        y1 = min(height, y0 + strip)
        xx, yy = np.meshgrid(xs_idx, np.arange(y0, y1, dtype=np.float64) + 0.5)
        u, v = dist(xx, yy)
        scan[y0:y1] = cv2.remap(flat, (u - 0.5).astype(np.float32), (v - 0.5).astype(np.float32),
                                cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=(250, 250, 250))
        if noise > 0:
            n = rng.normal(0.0, noise, (y1 - y0, width, 1)).astype(np.float32)
            tinted = scan[y0:y1].astype(np.float32) * np.float32(0.97) + n
            tinted[..., 2] -= 6.0  # yellowed paper
            scan[y0:y1] = np.clip(tinted, 0, 255).astype(np.uint8)
    del flat
    img = Image.fromarray(scan)
    if out_path.suffix.lower() in (".tif", ".tiff"):
        img.save(out_path, compression="tiff_adobe_deflate")
    elif out_path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(out_path, quality=90)
    else:
        img.save(out_path, compress_level=1)
    del img, scan

    def pixel_to_map(px, py):
        u, v = dist(np.asarray(px, float), np.asarray(py, float))
        return map_of_sheet(u, v)

    def map_to_pixel(e, n):
        u, v = sheet_of(e, n)
        return dist.invert(u, v)

    cps = []
    for i, (e, n, u, v) in enumerate(crosses):
        x, y = dist.invert(np.array([u]), np.array([v]))
        x = float(x[0]) + rng.normal(0, reading_noise_px)
        y = float(y[0]) + rng.normal(0, reading_noise_px)
        cps.append(ControlPoint(x, y, float(e), float(n), True, f"G{i + 1}"))
    checks = []
    for i, (e, n, u, v) in enumerate(checks_sheet):
        x, y = dist.invert(np.array([u]), np.array([v]))
        checks.append(CheckPoint(float(x[0]), float(y[0]), float(e), float(n), f"C{i + 1}"))
    # neatline in scan pixels, densified so that the mask follows the bent paper edge
    k = 25
    edge = []
    corners = [(ox, oy), (ox + map_w, oy), (ox + map_w, oy + map_h), (ox, oy + map_h)]
    for (a, b), (c, d) in zip(corners, corners[1:] + corners[:1], strict=True):
        for t in np.linspace(0, 1, k, endpoint=False):
            edge.append((a + (c - a) * t, b + (d - b) * t))
    eu, ev = dist.invert(np.array([p[0] for p in edge]), np.array([p[1] for p in edge]))
    neat = [(float(a), float(b)) for a, b in zip(eu, ev, strict=True)]
    return SimulatedScan(
        path=out_path,
        width=width,
        height=height,
        control_points=cps,
        check_points=checks,
        neatline_pixels=neat,
        pixel_to_map=pixel_to_map,
        map_to_pixel=map_to_pixel,
        metres_per_pixel=mpp,
        grid_step_m=step,
        notes={"rotation_deg": rotation_deg, "shrink_px": shrink_px, "drift_px": drift_px},
    )
