"""A fictional but believable piece of Hanoi: plans of every kind, zones, red lines, units.

Everything is generated in VN-2000 / TM-3 (EPSG:5897) metres from a seed, so the demo is the same
on every machine and nothing large is committed. Every name carries "(minh họa)" and every row
``is_fictional``: the demo must never be mistaken for a legal plan.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box
from shapely.ops import unary_union

from planning_gis.crs import lonlat_to_vn2000

FICTIONAL = "(minh họa)"

#: Indicator ranges per function: coverage %, floors (min, max), people per m² of floor.
PROFILES: dict[str, tuple[tuple[int, int], tuple[int, int], float]] = {
    "OM": ((35, 60), (5, 25), 1 / 35),
    "NO": ((50, 75), (2, 5), 1 / 40),
    "HH": ((40, 70), (9, 35), 1 / 60),
    "CC": ((30, 45), (3, 9), 0.0),
    "TH": ((25, 40), (2, 4), 0.0),
    "NT": ((25, 35), (1, 3), 0.0),
    "CQ": ((30, 45), (5, 12), 0.0),
    "CX": ((3, 8), (0, 1), 0.0),
    "MN": ((0, 0), (0, 0), 0.0),
    "HTKT": ((20, 40), (1, 3), 0.0),
    "P": ((5, 20), (0, 3), 0.0),
    "GT": ((0, 0), (0, 0), 0.0),
    "DT": ((10, 30), (1, 2), 0.0),
    "TG": ((15, 35), (1, 2), 0.0),
    "QP": ((20, 40), (1, 5), 0.0),
    "CN": ((50, 70), (1, 4), 0.0),
}

URBAN_MIX = [("OM", 30), ("NO", 12), ("HH", 14), ("CC", 6), ("TH", 7), ("NT", 5),
             ("CQ", 5), ("CX", 10), ("P", 3), ("HTKT", 2), ("DT", 1), ("TG", 1)]
INDUSTRIAL_MIX = [("CN", 70), ("HTKT", 10), ("CX", 12), ("P", 5), ("CC", 3)]


@dataclass
class DemoZone:
    label: str
    function_code: str
    geom: MultiPolygon
    coverage_pct: float | None = None
    floors_min: int | None = None
    floors_max: int | None = None
    far: float | None = None
    population: int | None = None


@dataclass
class DemoAdjustment:
    """A local adjustment (điều chỉnh cục bộ) of a plan, applied after its zones are loaded, so
    that the zones' history (migration 0016) holds it with its decision and date.

    ``rezone``: (label, new code); ``split``: (label, new label, new code, share of the zone's
    width given to the new one, from its west side); ``indicators``: (label, {field: value}).
    """

    decision: str
    day: dt.date
    note: str
    rezone: list[tuple[str, str]] = field(default_factory=list)
    split: list[tuple[str, str, str, float]] = field(default_factory=list)
    indicators: list[tuple[str, dict[str, float | int]]] = field(default_factory=list)


@dataclass
class DemoPlan:
    key: str
    name: str
    kind: str
    scale_denominator: int
    status: str
    decision_number: str
    decision_date: dt.date
    approving_body: str
    organisation: str
    valid_from: dt.date
    valid_to: dt.date | None
    outline: MultiPolygon
    description: str
    supersedes: str | None = None
    zones: list[DemoZone] = field(default_factory=list)
    red_lines: list[tuple[str, float, MultiLineString]] = field(default_factory=list)
    #: Per road name: the plan's cross-section (mặt cắt) and the building line's setback in m.
    road_details: dict[str, tuple[str | None, float | None]] = field(default_factory=dict)
    adjustments: list[DemoAdjustment] = field(default_factory=list)


@dataclass
class DemoUnit:
    name: str
    level: str
    code: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    geom: MultiPolygon
    parent: str | None = None
    successor: str | None = None


@dataclass
class DemoStreet:
    """A fictional street of the base map: a name and its axis (EPSG:5897)."""

    name: str
    kind: str
    geom: MultiLineString


@dataclass
class DemoAddress:
    housenumber: str
    street: str
    point: Point


@dataclass
class DemoBasemap:
    """The demo's own base map: fictional named streets, house numbers and places."""

    streets: list[DemoStreet] = field(default_factory=list)
    addresses: list[DemoAddress] = field(default_factory=list)
    places: list[tuple[str, str, Point]] = field(default_factory=list)


@dataclass
class DemoCity:
    plans: list[DemoPlan]
    units: list[DemoUnit]
    origin: tuple[float, float]
    basemap: DemoBasemap = field(default_factory=DemoBasemap)


def _multi(geom) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and g.area > 1]
    return MultiPolygon(polys)


def _pick(rng: random.Random, mix: list[tuple[str, int]]) -> str:
    codes, weights = zip(*mix, strict=True)
    return rng.choices(codes, weights=weights, k=1)[0]


def _zone(rng: random.Random, label: str, code: str, geom) -> DemoZone:
    (cmin, cmax), (fmin, fmax), per_m2 = PROFILES[code]
    geom = _multi(geom.buffer(0))
    if code in ("GT", "MN"):
        return DemoZone(label, code, geom)
    coverage = float(rng.randint(cmin, cmax)) if cmax else None
    lo = rng.randint(fmin, max(fmin, (fmin + fmax) // 2)) if fmax else None
    hi = rng.randint(lo, fmax) if lo is not None else None
    far = round(coverage / 100 * (lo + hi) / 2, 2) if coverage is not None and hi else None
    population = int(geom.area * far * per_m2) if far and per_m2 else None
    return DemoZone(label, code, geom, coverage, lo, hi, far, population)


def _block_grid(rng, x0, y0, cols, rows, bw, bh, road, prefix, mix, carve=None, split=0.35):
    """Blocks separated by roads; some blocks split in two; ``carve`` removed from each block."""
    zones, blocks = [], []
    for r in range(rows):
        for c in range(cols):
            x = x0 + road + c * (bw + road)
            y = y0 + road + r * (bh + road)
            block = box(x, y, x + bw, y + bh)
            if carve is not None:
                block = block.difference(carve)
                if block.area < 0.2 * bw * bh:
                    continue
            parts = [block]
            if rng.random() < split:
                cut = x + bw * rng.uniform(0.4, 0.6)
                parts = [block.intersection(box(x, y, cut, y + bh)),
                         block.intersection(box(cut, y, x + bw, y + bh))]
            for i, part in enumerate(parts, start=1):
                if part.is_empty or part.area < 50:
                    continue
                code = _pick(rng, mix)
                sector = chr(ord("A") + r % 26)
                label = f"{prefix}{sector}.{c + 1}-{code}{i}"
                zones.append(_zone(rng, label, code, part))
                blocks.append(part)
    return zones, blocks


def build_city(size: str = "full", seed: int = 2009) -> DemoCity:
    """The demo city; ``size="tiny"`` keeps every kind of thing but few of each (for tests)."""
    rng = random.Random(seed)
    tiny = size == "tiny"
    # Around Cầu Giấy / Nam Từ Liêm (lon 105.79, lat 21.03), in EPSG:5897 metres.
    cx, cy = lonlat_to_vn2000(105.7900, 21.0300)
    cx, cy = round(cx, -1), round(cy, -1)

    plans: list[DemoPlan] = []

    # --- Master plans: the 1998 one, superseded by the 2011 one --------------------------------
    mw, mh = (6000, 5000) if tiny else (12000, 10000)
    master_outline = box(cx - mw / 2, cy - mh / 2, cx + mw / 2, cy + mh / 2)
    cell = 3000
    for key, year, number, status, valid_to, mix, supersedes in (
        ("master_1998", 1998, "108/1998/QĐ-TTg", "superseded", dt.date(2011, 7, 25),
         [("NO", 40), ("CX", 20), ("CN", 20), ("QP", 5), ("MN", 5), ("HH", 10)], None),
        ("master_2011", 2011, "1259/QĐ-TTg", "approved", None,
         [("OM", 35), ("HH", 25), ("CX", 20), ("CC", 10), ("MN", 5), ("HTKT", 5)], "master_1998"),
    ):
        plan = DemoPlan(
            key=key,
            name=f"Quy hoạch chung xây dựng Thủ đô Hà Nội năm {year} {FICTIONAL}",
            kind="chung", scale_denominator=25000, status=status, decision_number=number,
            decision_date=dt.date(year, 7, 26 if year == 2011 else 20),
            approving_body="Thủ tướng Chính phủ", organisation="Sở Quy hoạch – Kiến trúc",
            valid_from=dt.date(year, 8, 1), valid_to=valid_to, outline=_multi(master_outline),
            description=f"Đồ án quy hoạch chung minh họa, phê duyệt năm {year}.",
            supersedes=supersedes,
        )
        n = 1
        for gx in range(int(mw // cell)):
            for gy in range(int(mh // cell)):
                x = cx - mw / 2 + gx * cell
                y = cy - mh / 2 + gy * cell
                cell_geom = box(x, y, min(x + cell, cx + mw / 2), min(y + cell, cy + mh / 2))
                code = _pick(rng, mix)
                plan.zones.append(_zone(rng, f"QHC-{year % 100:02d}-{n:02d}", code, cell_geom))
                n += 1
        plans.append(plan)

    # --- Zoning plan 1/2000 with a lake and a park ---------------------------------------------
    zw, zh = (1400, 1000) if tiny else (4000, 3000)
    zx0, zy0 = cx - zw / 2, cy - zh / 2
    zoning_outline = box(zx0, zy0, zx0 + zw, zy0 + zh)
    lake = affinity.scale(Point(zx0 + zw * 0.62, zy0 + zh * 0.58).buffer(1, 48),
                          zw * 0.07, zh * 0.06)
    park = lake.buffer(45)
    zoning = DemoPlan(
        key="zoning", name=f"Quy hoạch phân khu đô thị H2-1, tỷ lệ 1/2000 {FICTIONAL}",
        kind="phan_khu", scale_denominator=2000, status="approved",
        decision_number="6631/QĐ-UBND", decision_date=dt.date(2015, 12, 2),
        approving_body="UBND Thành phố Hà Nội", organisation="Sở Quy hoạch – Kiến trúc",
        valid_from=dt.date(2015, 12, 2), valid_to=None, outline=_multi(zoning_outline),
        description="Phân khu đô thị minh họa phía tây nội thành, gồm hồ điều hòa và công viên.",
    )
    bw, bh, road = 180, 140, 20
    cols = int((zw - road) // (bw + road))
    rows = int((zh - road) // (bh + road))
    zones, blocks = _block_grid(rng, zx0, zy0, cols, rows, bw, bh, road, "", URBAN_MIX, carve=park)
    zoning.zones = zones
    zoning.zones.append(DemoZone("MN-01", "MN", _multi(lake)))
    zoning.zones.append(_zone(rng, "CX-01", "CX", park.difference(lake)))
    taken = unary_union([z.geom for z in zoning.zones])
    streets = zoning_outline.difference(taken)
    zoning.zones.append(DemoZone("GT", "GT", _multi(streets)))
    plans.append(zoning)

    # --- Detailed plan 1/500 of a new urban zone, inside the zoning plan ------------------------
    dw, dh = (400, 300) if tiny else (820, 620)
    dx0, dy0 = zx0 + 20, zy0 + 20
    detailed_outline = box(dx0, dy0, dx0 + dw, dy0 + dh)
    detailed = DemoPlan(
        key="detailed", name=f"Quy hoạch chi tiết Khu đô thị mới Tây Nam Cầu Giấy, tỷ lệ 1/500 {FICTIONAL}",
        kind="chi_tiet", scale_denominator=500, status="amended",
        decision_number="2345/QĐ-UBND", decision_date=dt.date(2018, 4, 16),
        approving_body="UBND Thành phố Hà Nội", organisation="UBND quận Cầu Giấy",
        valid_from=dt.date(2018, 4, 16), valid_to=None, outline=_multi(detailed_outline),
        description="Khu đô thị mới minh họa; điều chỉnh cục bộ năm 2021.",
    )
    dzones, _ = _block_grid(rng, dx0, dy0, int((dw - 12) // 72), int((dh - 12) // 62), 60, 50, 12,
                            "KĐT-", URBAN_MIX, split=0.2)
    detailed.zones = dzones
    taken = unary_union([z.geom for z in dzones])
    detailed.zones.append(DemoZone("KĐT-GT", "GT", _multi(detailed_outline.difference(taken))))
    detailed.adjustments.append(_adjustment_2021(dzones))
    plans.append(detailed)

    # --- Road plan with red boundary lines, crossing the zoning plan ----------------------------
    length = zw * 1.2
    pts = []
    for i in range(41):
        t = i / 40
        x = zx0 - zw * 0.1 + t * length
        y = zy0 + zh * 0.25 + t * zh * 0.5 + math.sin(t * math.pi * 2) * zh * 0.05
        pts.append((x, y))
    centre = LineString(pts)
    width = 50.0
    corridor = centre.buffer(width / 2, cap_style="flat")
    road = DemoPlan(
        key="road", name=f"Quy hoạch tuyến đường Vành đai 2,5 đoạn Tây Nam, tỷ lệ 1/500 {FICTIONAL}",
        kind="tuyen_duong", scale_denominator=500, status="approved",
        decision_number="4507/QĐ-UBND", decision_date=dt.date(2019, 9, 10),
        approving_body="UBND Thành phố Hà Nội", organisation="Sở Quy hoạch – Kiến trúc",
        valid_from=dt.date(2019, 9, 10), valid_to=None, outline=_multi(centre.buffer(35, cap_style="flat")),
        description="Chỉ giới đường đỏ tuyến đường minh họa, mặt cắt ngang 50 m.",
    )
    road.zones.append(DemoZone("VĐ2,5-GT", "GT", _multi(corridor)))
    left = centre.offset_curve(width / 2)
    right = centre.offset_curve(-width / 2)
    road_name = "Đường Vành đai 2,5 (minh họa)"
    road.red_lines.append((road_name, width, MultiLineString([left, right])))
    road.road_details[road_name] = ("1-1", 6.0)
    plans.append(road)
    basemap = _basemap(zx0, zy0, zw, zh, bw, bh, 20, cols, rows, centre, road_name)

    # --- Industrial cluster ----------------------------------------------------------------------
    ix, iy = lonlat_to_vn2000(105.7020, 21.0650)
    iw, ih = (500, 400) if tiny else (1300, 1000)
    ix0, iy0 = round(ix, -1), round(iy, -1)
    ind_outline = box(ix0, iy0, ix0 + iw, iy0 + ih)
    industrial = DemoPlan(
        key="industrial", name=f"Quy hoạch chi tiết Cụm công nghiệp Phú Minh, tỷ lệ 1/500 {FICTIONAL}",
        kind="cum_cong_nghiep", scale_denominator=500, status="approved",
        decision_number="812/QĐ-UBND", decision_date=dt.date(2020, 3, 5),
        approving_body="UBND huyện Hoài Đức", organisation="UBND huyện Hoài Đức",
        valid_from=dt.date(2020, 3, 5), valid_to=None, outline=_multi(ind_outline),
        description="Cụm công nghiệp minh họa: nhà xưởng, kho bãi, hạ tầng kỹ thuật.",
    )
    izones, _ = _block_grid(rng, ix0, iy0, int((iw - 16) // 166), int((ih - 16) // 126), 150, 110,
                            16, "CCN-", INDUSTRIAL_MIX, split=0.3)
    industrial.zones = izones
    taken = unary_union([z.geom for z in izones])
    industrial.zones.append(DemoZone("CCN-GT", "GT", _multi(ind_outline.difference(taken))))
    plans.append(industrial)

    return DemoCity(plans=plans, units=_units(cx, cy, mw, mh, ix0, iy0, iw, ih), origin=(cx, cy),
                    basemap=basemap)


def _adjustment_2021(zones: list[DemoZone]) -> DemoAdjustment:
    """The 2021 local adjustment of the detailed plan (the amendment its documents name): a
    residential block becomes a school, another is split to make room for one, and a third
    block's height limit is raised."""
    housing = [z.label for z in zones if z.function_code in ("OM", "NO")]
    mixed = [z.label for z in zones if z.function_code == "HH"] or housing
    return DemoAdjustment(
        "1789/QĐ-UBND", dt.date(2021, 4, 16),
        "Điều chỉnh cục bộ: bổ sung đất trường học, điều chỉnh tầng cao (minh họa)",
        rezone=[(housing[0], "TH")],
        split=[(housing[1], housing[1].rsplit("-", 1)[0] + "-TH9", "TH", 0.55)],
        indicators=[(mixed[0], {"floors_max": 27, "coverage_pct": 45.0})],
    )


#: Street names of Cầu Giấy given to the demo's fictional streets (labelled "minh họa"): the
#: geometry is invented, the names let the search box be tried as a citizen would use it.
STREETS_EW = ("Xuân Thủy", "Trần Duy Hưng", "Hoàng Quốc Việt", "Nguyễn Khánh Toàn",
              "Trần Đăng Ninh", "Nguyễn Phong Sắc", "Hồ Tùng Mậu", "Phạm Văn Đồng",
              "Cầu Giấy", "Nguyễn Văn Huyên", "Trung Kính", "Hoàng Minh Giám",
              "Mạc Thái Tông", "Trần Kim Xuyến", "Nguyễn Thị Định", "Lê Văn Lương",
              "Dương Khuê", "Chùa Hà", "Tô Hiệu")
STREETS_NS = ("Trần Thái Tông", "Duy Tân", "Dương Đình Nghệ", "Nguyễn Chánh", "Mạc Thái Tổ",
              "Tôn Thất Thuyết", "Trần Quốc Hoàn", "Phạm Hùng", "Dịch Vọng Hậu", "Quan Hoa",
              "Yên Hòa", "Nguyễn Ngọc Vũ", "Vũ Phạm Hàm", "Trần Quý Kiên", "Phạm Tuấn Tài",
              "Nguyễn Khang", "Trung Hòa", "Thành Thái", "Doãn Kế Thiện", "Mai Dịch",
              "Nghĩa Tân")


def _basemap(zx0, zy0, zw, zh, bw, bh, road, cols, rows, centre: LineString,
             ring_road: str) -> DemoBasemap:
    """Named streets on the zoning plan's road grid, house numbers along them, a few places.

    House numbers go as in Vietnam: odd on one side, even on the other, rising from the street's
    start, one every 20 m, 12 m off the axis (in front of the blocks).
    """
    out = DemoBasemap()
    lines: list[tuple[str, str, LineString]] = []
    for r in range(min(rows + 1, len(STREETS_EW))):
        y = zy0 + road / 2 + r * (bh + road)
        lines.append((f"Đường {STREETS_EW[r]} (minh họa)", "secondary" if r % 3 == 0 else
                      "residential", LineString([(zx0, y), (zx0 + zw, y)])))
    for c in range(min(cols + 1, len(STREETS_NS))):
        x = zx0 + road / 2 + c * (bw + road)
        lines.append((f"Phố {STREETS_NS[c]} (minh họa)", "tertiary" if c % 4 == 0 else
                      "residential", LineString([(x, zy0), (x, zy0 + zh)])))
    lines.append((ring_road, "primary", centre))
    for name, kind, line in lines:
        out.streets.append(DemoStreet(name, kind, MultiLineString([line])))
        for i in range(1, int(line.length // 20)):
            at = i * 20.0
            for side, parity in ((12.0, 1), (-12.0, 0)):
                p = line.interpolate(at)
                q = line.interpolate(min(at + 1.0, line.length))
                dx, dy = q.x - p.x, q.y - p.y
                norm = math.hypot(dx, dy) or 1.0
                pt = Point(p.x - dy / norm * side, p.y + dx / norm * side)
                out.addresses.append(DemoAddress(str(2 * i - parity), name, pt))
    for name, kind, fx, fy in (("Khu tập thể Dịch Vọng (minh họa)", "neighbourhood", 0.3, 0.7),
                               ("Làng Mai Dịch (minh họa)", "quarter", 0.15, 0.2),
                               ("Khu đô thị Trung Hòa (minh họa)", "neighbourhood", 0.8, 0.3)):
        out.places.append((name, kind, Point(zx0 + fx * zw, zy0 + fy * zh)))
    return out


def _units(cx, cy, mw, mh, ix0, iy0, iw, ih) -> list[DemoUnit]:
    """Old districts (until 30/6/2025) and the new wards and communes that replaced them."""
    old_end, new_start = dt.date(2025, 6, 30), dt.date(2025, 7, 1)
    x0, y0 = cx - mw / 2, cy - mh / 2
    city = box(min(x0, ix0) - 500, min(y0, iy0) - 500, max(x0 + mw, ix0 + iw) + 500,
               max(y0 + mh, iy0 + ih) + 500)
    units = [DemoUnit("Thành phố Hà Nội", "thanh_pho", "01", None, None, _multi(city))]
    third = mw / 3
    old = [("Quận Bắc Từ Liêm", "quan", "021"), ("Quận Cầu Giấy", "quan", "005"),
           ("Quận Nam Từ Liêm", "quan", "019")]
    for i, (name, level, code) in enumerate(old):
        geom = box(x0 + i * third, y0, x0 + (i + 1) * third, y0 + mh)
        units.append(DemoUnit(f"{name} {FICTIONAL}", level, code, dt.date(2014, 4, 1), old_end,
                              _multi(geom), parent="Thành phố Hà Nội"))
    new = [("Phường Xuân Đỉnh", "Quận Bắc Từ Liêm"), ("Phường Đông Ngạc", "Quận Bắc Từ Liêm"),
           ("Phường Nghĩa Đô", "Quận Cầu Giấy"), ("Phường Cầu Giấy", "Quận Cầu Giấy"),
           ("Phường Từ Liêm", "Quận Nam Từ Liêm"), ("Phường Xuân Phương", "Quận Nam Từ Liêm")]
    for i, (name, predecessor) in enumerate(new):
        col, half = i // 2, i % 2
        geom = box(x0 + col * third, y0 + (1 - half) * mh / 2, x0 + (col + 1) * third,
                   y0 + (2 - half) * mh / 2)
        units.append(DemoUnit(f"{name} {FICTIONAL}", "phuong", f"P{i + 1:02d}", new_start, None,
                              _multi(geom), parent="Thành phố Hà Nội"))
        for u in units:
            if u.name.startswith(predecessor) and u.successor is None:
                u.successor = f"{name} {FICTIONAL}"
    # The wards of Quận Cầu Giấy before 1/7/2025, merged into the new wards that cover them.
    old_wards = [("Phường Dịch Vọng", 0, 1), ("Phường Mai Dịch", 1, 1),
                 ("Phường Trung Hòa", 0, 0), ("Phường Yên Hòa", 1, 0)]
    for name, col, row in old_wards:
        wx0 = x0 + third + col * third / 2
        wy0 = y0 + row * mh / 2
        geom = box(wx0, wy0, wx0 + third / 2, wy0 + mh / 2)
        successor = "Phường Nghĩa Đô" if row else "Phường Cầu Giấy"
        units.append(DemoUnit(f"{name} {FICTIONAL}", "phuong", f"W{len(units):02d}",
                              dt.date(1997, 1, 1), old_end, _multi(geom),
                              parent=f"Quận Cầu Giấy {FICTIONAL}",
                              successor=f"{successor} {FICTIONAL}"))
    units.append(DemoUnit(f"Huyện Hoài Đức {FICTIONAL}", "huyen", "277", dt.date(2008, 8, 1),
                          old_end, _multi(box(ix0 - 500, iy0 - 500, ix0 + iw + 500, iy0 + ih + 500)),
                          parent="Thành phố Hà Nội", successor=f"Xã Sơn Đồng {FICTIONAL}"))
    units.append(DemoUnit(f"Xã Sơn Đồng {FICTIONAL}", "xa", "X01", new_start, None,
                          _multi(box(ix0 - 500, iy0 - 500, ix0 + iw + 500, iy0 + ih + 500)),
                          parent="Thành phố Hà Nội"))
    return units
