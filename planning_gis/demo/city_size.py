"""A Hanoi-size fictional city: ~1,600 plans, ~500,000 zones, 5,000 red lines, 100,000 documents.

The small demo (:mod:`planning_gis.demo.city`) is one neighbourhood; nothing measured on it says
how the service behaves on the city's real planning database, which is three orders of magnitude
larger. This module generates that size, placed over Hanoi's real extent (lon 105.28–106.02,
lat 20.56–21.39) in VN-2000 / TM-3 (EPSG:5897) metres, labelled "(minh họa)" like the demo.

Generation is in two steps so that loading can be batched, resumed and memory-bounded:

* :func:`plan_specs` lays out every plan (kind, level, outline, status, supersession chain,
  how many documents, whether a sheet is published) cheaply and deterministically;
* :func:`build_plan` makes one plan's zones (shapely 2 arrays, vectorised) from the plan's own
  seed, so any plan can be rebuilt alone, in any batch, identically.

Zones of one plan never overlap (blocks separated by streets, the street network is the rest of
the outline); plans overlap each other, as Hanoi's do (master, zoning and detailed plans over the
same ground, and successive versions of one plan).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, box

from planning_gis.crs import lonlat_to_vn2000
from planning_gis.demo.city import FICTIONAL, INDUSTRIAL_MIX, PROFILES, URBAN_MIX, _multi

#: Hanoi's extent (lon/lat), see /work/shared/domain.md.
HANOI_LONLAT = (105.28, 20.56, 106.02, 21.39)
#: The inner districts (Hoàn Kiếm, Ba Đình, Đống Đa, Hai Bà Trưng, Cầu Giấy...), where plans
#: are densest and where the bench draws its tiles and points.
INNER_LONLAT = (105.78, 20.99, 105.88, 21.06)

MASTER_MIX = [("OM", 30), ("NO", 15), ("HH", 12), ("CX", 15), ("CC", 6), ("MN", 6),
              ("CN", 6), ("HTKT", 4), ("QP", 2), ("DT", 2), ("TG", 2)]

#: The 30 districts, towns and rural districts before 1/7/2025 (quận first, nearest the centre).
OLD_DISTRICTS = [
    ("Hoàn Kiếm", "quan"), ("Ba Đình", "quan"), ("Đống Đa", "quan"), ("Hai Bà Trưng", "quan"),
    ("Tây Hồ", "quan"), ("Cầu Giấy", "quan"), ("Thanh Xuân", "quan"), ("Hoàng Mai", "quan"),
    ("Long Biên", "quan"), ("Nam Từ Liêm", "quan"), ("Bắc Từ Liêm", "quan"), ("Hà Đông", "quan"),
    ("Thanh Trì", "huyen"), ("Gia Lâm", "huyen"), ("Đông Anh", "huyen"), ("Hoài Đức", "huyen"),
    ("Đan Phượng", "huyen"), ("Thường Tín", "huyen"), ("Thanh Oai", "huyen"),
    ("Mê Linh", "huyen"), ("Quốc Oai", "huyen"), ("Chương Mỹ", "huyen"), ("Sóc Sơn", "huyen"),
    ("Phúc Thọ", "huyen"), ("Thạch Thất", "huyen"), ("Sơn Tây", "thi_xa"), ("Phú Xuyên", "huyen"),
    ("Ứng Hòa", "huyen"), ("Ba Vì", "huyen"), ("Mỹ Đức", "huyen"),
]
#: Place names for the wards and communes after 1/7/2025 and for plan names.
PLACES = [
    "Ngọc Hà", "Giảng Võ", "Cửa Nam", "Hồng Hà", "Văn Miếu", "Ô Chợ Dừa", "Láng", "Kim Liên",
    "Bạch Mai", "Vĩnh Tuy", "Tương Mai", "Định Công", "Hoàng Liệt", "Lĩnh Nam", "Yên Sở",
    "Khương Đình", "Thanh Liệt", "Nghĩa Đô", "Yên Hòa", "Xuân Đỉnh", "Đông Ngạc", "Thượng Cát",
    "Phú Diễn", "Xuân Phương", "Tây Mỗ", "Đại Mỗ", "Từ Liêm", "Phú Thượng", "Bồ Đề", "Việt Hưng",
    "Phúc Lợi", "Long Biên", "Hà Đông", "Dương Nội", "Yên Nghĩa", "Phú Lương", "Kiến Hưng",
    "Thanh Trì", "Đại Thanh", "Ngọc Hồi", "Gia Lâm", "Thuận An", "Bát Tràng", "Phù Đổng",
    "Đông Anh", "Thư Lâm", "Phúc Thịnh", "Vĩnh Thanh", "Mê Linh", "Quang Minh", "Tiến Thắng",
    "Sóc Sơn", "Nội Bài", "Đa Phúc", "Kim Anh", "Trung Giã", "Đan Phượng", "Ô Diên", "Liên Minh",
    "Hoài Đức", "Dương Hòa", "Sơn Đồng", "An Khánh", "Quốc Oai", "Hưng Đạo", "Kiều Phú",
    "Thạch Thất", "Hòa Lạc", "Hạ Bằng", "Tây Phương", "Chương Mỹ", "Phú Nghĩa", "Xuân Mai",
    "Trần Phú", "Thanh Oai", "Bình Minh", "Tam Hưng", "Dân Hòa", "Thường Tín", "Chương Dương",
    "Hồng Vân", "Phú Xuyên", "Phượng Dực", "Chuyên Mỹ", "Ứng Hòa", "Vân Đình", "Ứng Thiên",
    "Mỹ Đức", "Hương Sơn", "Phúc Sơn", "Ba Vì", "Cổ Đô", "Minh Châu", "Suối Hai", "Sơn Tây",
    "Tùng Thiện", "Phúc Thọ", "Hát Môn", "Phúc Lộc",
]
#: Subjects of documents and plans: what search ranks.
TOPICS = [
    "hồ điều hòa", "cải tạo chung cư cũ", "trường trung học cơ sở", "bãi đỗ xe ngầm",
    "công viên cây xanh", "nhà ở xã hội", "tuyến đường sắt đô thị", "ga tàu điện ngầm",
    "cầu vượt nút giao", "trạm biến áp", "chợ dân sinh", "khu tái định cư",
    "trung tâm thương mại", "bệnh viện đa khoa", "nhà văn hóa", "sân thể thao",
    "đê sông Hồng", "kênh thoát nước", "vành đai xanh", "trạm xử lý nước thải",
    "nhà trẻ mẫu giáo", "khu di tích", "đình chùa", "trụ sở cơ quan", "bến xe liên tỉnh",
]
ROAD_KINDS = ["Đường", "Đường vành đai", "Trục", "Đường liên khu vực", "Đường chính khu vực"]
DOC_PLAN_TYPES = ("thuyet_minh", "quy_dinh", "ban_ve")


@dataclass(frozen=True)
class CitySize:
    """How much city to make. :data:`CITY` is the issue's size; tests use :func:`small`."""

    detailed_sites: int = 1060
    zoning_2000: int = 60
    zoning_5000: int = 24
    road_plans: int = 100
    road_sections: int = 50  # red lines per road plan
    industrial: int = 40
    documents: int = 100_000
    sheets: int = 300
    pdfs: int = 20
    master_cell_m: float = 2500.0
    #: Detailed plans' side lengths (m): the zones a plan holds grow with its area.
    detailed_side_m: tuple[int, int] = (540, 1140)
    plans_per_batch: int = 25
    seed: int = 2025


CITY = CitySize()


def small(plans: int = 2, documents: int = 40, sheets: int = 2, pdfs: int = 1) -> CitySize:
    """A city with every kind of thing but only a few of each (seconds to build and load)."""
    return CitySize(detailed_sites=plans, zoning_2000=1, zoning_5000=1, road_plans=1,
                    road_sections=4, industrial=1, documents=documents, sheets=sheets, pdfs=pdfs,
                    master_cell_m=12000.0, detailed_side_m=(150, 260), plans_per_batch=2)


@dataclass
class PlanSpec:
    """One plan, laid out but not yet built (no zones): cheap, deterministic."""

    index: int  # position in the city: seeds the plan's own generator
    key: str
    kind: str
    scale_denominator: int
    status: str
    name: str
    decision_number: str | None
    decision_date: dt.date | None
    approving_body: str
    organisation: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    description: str
    layout: str  # master, zoning, detailed, industrial, road
    rect: tuple[float, float, float, float]  # x0, y0, width, height (before rotation)
    angle_deg: float = 0.0
    supersedes: str | None = None
    documents: int = 0
    sheet: bool = False
    topic: str = ""
    place: str = ""


@dataclass
class CityPlan:
    """A built plan: its outline and zones (columns as arrays), and its red lines."""

    spec: PlanSpec
    outline: MultiPolygon
    geoms: np.ndarray  # MultiPolygons
    labels: list[str]
    codes: np.ndarray
    coverage: np.ndarray  # NaN = none
    floors_min: np.ndarray  # -1 = none
    floors_max: np.ndarray
    far: np.ndarray
    population: np.ndarray
    red_lines: list[tuple[str, float, object]] = field(default_factory=list)

    @property
    def zone_count(self) -> int:
        return len(self.geoms)


@dataclass
class CityDocument:
    doc_type: str
    number: str | None
    issued_on: dt.date | None
    issuer: str
    title: str
    pages: list[str]
    sha256: str

    @property
    def text(self) -> str:
        return "\n\n".join(self.pages)


def extent_m() -> tuple[float, float, float, float]:
    """Hanoi's extent in EPSG:5897 metres: the largest grid-aligned box inside the lon/lat box
    (meridians converge away from 105°, so the box around the corners would reach outside),
    less 200 m."""
    w, s, e, n = HANOI_LONLAT
    (wsx, wsy), (esx, esy) = lonlat_to_vn2000(w, s), lonlat_to_vn2000(e, s)
    (enx, eny), (wnx, wny) = lonlat_to_vn2000(e, n), lonlat_to_vn2000(w, n)
    return (max(wsx, wnx) + 200, max(wsy, esy) + 200, min(esx, enx) - 200, min(wny, eny) - 200)


def inner_m() -> tuple[float, float, float, float]:
    w, s, e, n = INNER_LONLAT
    x0, y0 = lonlat_to_vn2000(w, s)
    x1, y1 = lonlat_to_vn2000(e, n)
    return x0, y0, x1, y1


def _centre_m() -> tuple[float, float]:
    x0, y0, x1, y1 = inner_m()
    return (x0 + x1) / 2, (y0 + y1) / 2


def _rng(size: CitySize, *key: int) -> np.random.Generator:
    return np.random.default_rng([size.seed, *key])


def _date(rng: np.random.Generator, first: int, last: int) -> dt.date:
    start = dt.date(first, 1, 1).toordinal()
    return dt.date.fromordinal(int(start + rng.integers(0, (last - first + 1) * 365 - 1)))


# --- the layout -----------------------------------------------------------------------------------

def plan_specs(size: CitySize = CITY) -> list[PlanSpec]:
    """Every plan of the city, in load order, with supersession chains resolved by key."""
    rng = _rng(size, 0)
    ex0, ey0, ex1, ey1 = extent_m()
    cx, cy = _centre_m()
    specs: list[PlanSpec] = []
    counter = [10000]

    def number(suffix: str = "QĐ-UBND") -> str:
        counter[0] += int(rng.integers(1, 9))
        return f"{counter[0]}/{suffix}"

    def add(**kw) -> PlanSpec:
        spec = PlanSpec(index=len(specs), **kw)
        specs.append(spec)
        return spec

    # Master plans: the 1998 one superseded by the 2011 one, both over the whole city.
    whole = (ex0, ey0, ex1 - ex0, ey1 - ey0)
    for year, num, status, valid_to, sup in ((1998, "108/1998/QĐ-TTg", "superseded",
                                              dt.date(2011, 7, 25), None),
                                             (2011, "1259/QĐ-TTg", "approved", None,
                                              "city-master-1998")):
        add(key=f"city-master-{year}", kind="chung", scale_denominator=25000, status=status,
            name=f"Quy hoạch chung xây dựng Thủ đô Hà Nội năm {year} {FICTIONAL}",
            decision_number=num, decision_date=dt.date(year, 7, 26),
            approving_body="Thủ tướng Chính phủ", organisation="Sở Quy hoạch – Kiến trúc",
            valid_from=dt.date(year, 8, 1), valid_to=valid_to,
            description=f"Quy hoạch chung minh họa toàn thành phố, phê duyệt năm {year}.",
            layout="master", rect=whole, supersedes=sup, topic="vành đai xanh", place="Hà Nội")

    # Zoning plans: 1/2000 tiles over the urban core, 1/5000 tiles in the ring around it.
    def zoning(n: int, tile_w: float, tile_h: float, scale: int, skip_core: int) -> None:
        side = math.ceil(math.sqrt(n + skip_core * skip_core))
        gx0 = cx - side * tile_w / 2
        gy0 = cy - side * tile_h / 2
        cells = sorted(((i, j) for i in range(side) for j in range(side)),
                       key=lambda c: (abs(c[0] - (side - 1) / 2) + abs(c[1] - (side - 1) / 2), c))
        cells = [c for c in cells if not (skip_core and
                                          abs(c[0] - (side - 1) / 2) < skip_core / 2 and
                                          abs(c[1] - (side - 1) / 2) < skip_core / 2)]
        # only tiles inside the city: the outer 1/5000 ring reached past Hanoi's east edge
        # (106.05°), where the look-up rightly refuses a point
        cells = [(i, j) for i, j in cells
                 if ex0 <= gx0 + i * tile_w and gx0 + (i + 1) * tile_w <= ex1
                 and ey0 <= gy0 + j * tile_h and gy0 + (j + 1) * tile_h <= ey1]
        for k, (i, j) in enumerate(cells[:n]):
            place = PLACES[(k * 7 + scale) % len(PLACES)]
            rect = (gx0 + i * tile_w, gy0 + j * tile_h, tile_w, tile_h)
            code = f"{'H' if scale == 2000 else 'S'}{k // 9 + 1}-{k % 9 + 1}"
            year = 2013 + k % 6
            chain = scale == 2000 and k % 6 == 0
            base = dict(kind="phan_khu", scale_denominator=scale,
                        approving_body="UBND Thành phố Hà Nội",
                        organisation="Sở Quy hoạch – Kiến trúc", layout="zoning", rect=rect,
                        topic=TOPICS[k % len(TOPICS)], place=place)
            sup = None
            if chain:  # an older version of the same zoning plan, superseded
                old = add(key=f"city-zoning-{scale}-{k}-v1",
                          status="superseded",
                          name=f"Quy hoạch phân khu đô thị {code} khu vực {place}, tỷ lệ 1/{scale}"
                               f" (bản {year - 5}) {FICTIONAL}",
                          decision_number=number(), decision_date=dt.date(year - 5, 5, 10),
                          valid_from=dt.date(year - 5, 5, 10), valid_to=dt.date(year, 3, 1),
                          description=f"Phân khu minh họa khu vực {place}, bản cũ đã bị thay thế.",
                          **base)
                sup = old.key
            add(key=f"city-zoning-{scale}-{k}", status="amended" if k % 5 == 1 else "approved",
                name=f"Quy hoạch phân khu đô thị {code} khu vực {place}, tỷ lệ 1/{scale} "
                     f"{FICTIONAL}",
                decision_number=number(), decision_date=dt.date(year, 3, 2),
                valid_from=dt.date(year, 3, 2), valid_to=None, supersedes=sup,
                description=f"Phân khu minh họa khu vực {place}: {TOPICS[k % len(TOPICS)]}, "
                            "hạ tầng xã hội và kỹ thuật.", **base)

    zoning(size.zoning_2000, 3000, 2500, 2000, 0)
    core = math.ceil(math.sqrt(size.zoning_2000)) * 3000 / 8000
    zoning(size.zoning_5000, 8000, 6000, 5000, max(1, math.ceil(core)))

    # Road plans: a route of sections across the city; each section has its red lines.
    for k in range(size.road_plans):
        name = f"{ROAD_KINDS[k % len(ROAD_KINDS)]} {PLACES[(k * 13) % len(PLACES)]} – " \
               f"{PLACES[(k * 13 + 29) % len(PLACES)]}"
        year = 2008 + k % 17
        add(key=f"city-road-{k}", kind="tuyen_duong", scale_denominator=500 if k % 3 else 2000,
            status="approved" if k % 7 else "amended",
            name=f"Quy hoạch tuyến {name}, tỷ lệ 1/{500 if k % 3 else 2000} {FICTIONAL}",
            decision_number=number(), decision_date=dt.date(year, 1 + k % 12, 1 + k % 27),
            approving_body="UBND Thành phố Hà Nội", organisation="Sở Quy hoạch – Kiến trúc",
            valid_from=dt.date(year, 1 + k % 12, 1 + k % 27), valid_to=None,
            description=f"Chỉ giới đường đỏ minh họa {name}.", layout="road",
            rect=(0, 0, 0, 0), topic="cầu vượt nút giao", place=PLACES[(k * 13) % len(PLACES)])

    # Industrial clusters, in the outer ring.
    for k in range(size.industrial):
        r = float(rng.uniform(15000, 30000))
        a = float(rng.uniform(0, 2 * math.pi))
        w, h = float(rng.uniform(800, 1500)), float(rng.uniform(600, 1100))
        x0 = min(max(cx + r * math.cos(a), ex0 + 500), ex1 - w - 500)
        y0 = min(max(cy + r * math.sin(a), ey0 + 500), ey1 - h - 500)
        place = PLACES[(k * 11 + 40) % len(PLACES)]
        year = 2010 + k % 15
        add(key=f"city-industrial-{k}", kind="cum_cong_nghiep", scale_denominator=500,
            status="approved", name=f"Quy hoạch chi tiết Cụm công nghiệp {place} {k + 1}, "
                                    f"tỷ lệ 1/500 {FICTIONAL}",
            decision_number=number(), decision_date=dt.date(year, 6, 1 + k % 27),
            approving_body=f"UBND huyện {OLD_DISTRICTS[12 + k % 18][0]}",
            organisation=f"UBND huyện {OLD_DISTRICTS[12 + k % 18][0]}",
            valid_from=dt.date(year, 6, 1 + k % 27), valid_to=None,
            description=f"Cụm công nghiệp minh họa {place}: nhà xưởng, kho bãi, hạ tầng.",
            layout="industrial", rect=(x0, y0, w, h), topic="trạm xử lý nước thải", place=place)

    # Detailed plans 1/500: dense over the inner districts, thinner outwards; some sites have
    # 2 or 3 successive versions (superseded, then approved or amended, then a draft).
    ix0, iy0, ix1, iy1 = inner_m()
    lo, hi = size.detailed_side_m
    for k in range(size.detailed_sites):
        w, h = float(rng.uniform(lo, hi)), float(rng.uniform(lo * 0.8, hi * 0.8))
        if k % 5 < 2:  # 40 % over the inner districts
            x = float(rng.uniform(ix0 - 2000, ix1 + 2000))
            y = float(rng.uniform(iy0 - 2000, iy1 + 2000))
        else:
            r = float(abs(rng.normal(0, 9000)))
            a = float(rng.uniform(0, 2 * math.pi))
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
        x = min(max(x, ex0 + hi), ex1 - 2 * hi)
        y = min(max(y, ey0 + hi), ey1 - 2 * hi)
        angle = float(rng.uniform(-25, 25))
        versions = 3 if k % 17 == 3 else 2 if k % 6 == 1 else 1
        place = PLACES[int(rng.integers(0, len(PLACES)))]
        topic = TOPICS[int(rng.integers(0, len(TOPICS)))]
        district = OLD_DISTRICTS[int(rng.integers(0, 12))][0]
        year = int(rng.integers(2008, 2022))
        prev = None
        for v in range(versions):
            last = v == versions - 1
            draft = versions == 3 and last
            status = ("draft" if draft else "superseded" if not last and versions > 1
                      else "amended" if k % 7 == 2 else "approved")
            if versions == 3 and v == 1:
                status = "approved"
            d = dt.date(year + 3 * v, 1 + (k + v) % 12, 1 + k % 27)
            nxt = dt.date(year + 3 * (v + 1), 1 + (k + v + 1) % 12, 1 + k % 27)
            spec = add(
                key=f"city-detailed-{k}-v{v + 1}", kind="chi_tiet", scale_denominator=500,
                status=status,
                name=f"Quy hoạch chi tiết Khu {topic} {place} số {k + 1}, tỷ lệ 1/500"
                     f"{' (điều chỉnh lần ' + str(v) + ')' if v else ''} {FICTIONAL}",
                decision_number=None if draft else number(),
                decision_date=None if draft else d,
                approving_body="UBND Thành phố Hà Nội" if k % 3 else f"UBND quận {district}",
                organisation=f"UBND quận {district}",
                valid_from=None if draft else d,
                valid_to=(nxt - dt.timedelta(days=1)) if status == "superseded" else None,
                description=f"Đồ án minh họa: {topic} tại {place}, quận {district}.",
                layout="detailed", rect=(x + 15 * v, y - 10 * v, w + 20 * v, h), angle_deg=angle,
                supersedes=prev, topic=topic, place=place)
            prev = spec.key

    _share_documents(specs, size)
    _choose_sheets(specs, size)
    return specs


def _share_documents(specs: list[PlanSpec], size: CitySize) -> None:
    """Split ``size.documents`` over the plans, exactly: about 60 for a detailed plan, 100 for a
    zoning or master plan, 40 for a road or industrial plan (at the city's size)."""
    weight = {"master": 3.0, "zoning": 2.5, "road": 1.0, "industrial": 1.0, "detailed": 1.5}
    w = np.array([weight[s.layout] for s in specs])
    share = w / w.sum() * size.documents
    counts = np.floor(share).astype(int)
    rest = size.documents - counts.sum()
    for i in np.argsort(-(share - counts), kind="stable")[:rest]:
        counts[i] += 1
    for s, c in zip(specs, counts, strict=True):
        s.documents = int(c)


def _choose_sheets(specs: list[PlanSpec], size: CitySize) -> None:
    """Published sheets: every zoning plan's current version first, then detailed plans."""
    order = [s for s in specs if s.layout == "zoning" and s.status != "superseded"]
    detailed = [s for s in specs if s.layout == "detailed" and s.status != "draft"]
    step = max(1, len(detailed) // max(1, size.sheets - len(order)))
    order += detailed[::step]
    for s in order[:size.sheets]:
        s.sheet = True


def batches(specs: list[PlanSpec], size: CitySize = CITY) -> list[tuple[str, list[PlanSpec]]]:
    """The load's batches: named, each whole supersession chains (a chain never spans two)."""
    out: list[tuple[str, list[PlanSpec]]] = []
    by_layout: dict[str, list[PlanSpec]] = {}
    for s in specs:
        by_layout.setdefault(s.layout, []).append(s)
    for layout in ("master", "zoning", "road", "industrial", "detailed"):
        group: list[PlanSpec] = []
        n = 0
        for s in by_layout.get(layout, []):
            if len(group) >= size.plans_per_batch and s.supersedes is None:
                out.append((f"{layout}-{n:03d}", group))
                group, n = [], n + 1
            group.append(s)
        if group:
            out.append((f"{layout}-{n:03d}", group))
    return out


# --- building one plan --------------------------------------------------------------------------

_CODES = list(PROFILES)
_CODE_INDEX = {c: i for i, c in enumerate(_CODES)}
_COV = np.array([PROFILES[c][0] for c in _CODES], dtype=float)
_FLO = np.array([PROFILES[c][1] for c in _CODES], dtype=float)
_PER = np.array([PROFILES[c][2] for c in _CODES], dtype=float)


def _mix(mix: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([_CODE_INDEX[c] for c, _ in mix])
    p = np.array([w for _, w in mix], dtype=float)
    return codes, p / p.sum()


def _indicators(rng: np.random.Generator, code_idx: np.ndarray, area: np.ndarray):
    """Coverage, floors, FAR, population per zone, vectorised (the demo's ``_zone`` rules)."""
    n = len(code_idx)
    cmin, cmax = _COV[code_idx, 0], _COV[code_idx, 1]
    fmin, fmax = _FLO[code_idx, 0], _FLO[code_idx, 1]
    cov = np.where(cmax > 0, np.floor(cmin + rng.random(n) * (cmax - cmin + 1)), np.nan)
    mid = np.maximum(fmin, np.floor((fmin + fmax) / 2))
    lo = np.floor(fmin + rng.random(n) * (mid - fmin + 1))
    hi = np.floor(lo + rng.random(n) * (fmax - lo + 1))
    has_floors = fmax > 0
    lo = np.where(has_floors, lo, -1).astype(int)
    hi = np.where(has_floors, hi, -1).astype(int)
    far = np.where(~np.isnan(cov) & (hi > 0), np.round(cov / 100 * (lo + hi) / 2, 2), np.nan)
    per = _PER[code_idx]
    pop = np.where((far > 0) & (per > 0), np.floor(area * np.nan_to_num(far) * per), -1)
    return cov, lo, hi, far, pop.astype(np.int64)


def _blocks(rng: np.random.Generator, x0: float, y0: float, w: float, h: float, bw: float,
            bh: float, road: float, split: float):
    """Block rectangles on a street grid; some split in two (they touch, never overlap)."""
    if road:
        cols = max(1, int((w - road) // (bw + road)))
        rows = max(1, int((h - road) // (bh + road)))
    else:  # cells without streets (the master plan's) cover the outline, the last ones cut
        cols, rows = math.ceil(w / bw), math.ceil(h / bh)
    c, r = np.meshgrid(np.arange(cols), np.arange(rows))
    c, r = c.ravel(), r.ravel()
    xmin = x0 + road + c * (bw + road)
    ymin = y0 + road + r * (bh + road)
    xmax, ymax = np.minimum(xmin + bw, x0 + w - road / 2), np.minimum(ymin + bh, y0 + h - road / 2)
    cut = rng.random(len(c)) < split
    at = xmin + (xmax - xmin) * rng.uniform(0.4, 0.6, len(c))
    xa = np.concatenate([xmin[~cut], xmin[cut], at[cut]])
    xb = np.concatenate([xmax[~cut], at[cut], xmax[cut]])
    ya = np.concatenate([ymin[~cut], ymin[cut], ymin[cut]])
    yb = np.concatenate([ymax[~cut], ymax[cut], ymax[cut]])
    cc = np.concatenate([c[~cut], c[cut], c[cut]])
    rr = np.concatenate([r[~cut], r[cut], r[cut]])
    part = np.concatenate([np.ones((~cut).sum(), int), np.ones(cut.sum(), int),
                           np.full(cut.sum(), 2)])
    keep = (xb - xa > 5) & (yb - ya > 5)
    return shapely.box(xa[keep], ya[keep], xb[keep], yb[keep]), cc[keep], rr[keep], part[keep]


def _as_multi(geoms: np.ndarray) -> np.ndarray:
    """Every geometry as a valid MultiPolygon (slivers under 1 m² dropped)."""
    out = np.empty(len(geoms), dtype=object)
    poly = shapely.get_type_id(geoms) == 3
    if poly.any():
        out[poly] = shapely.multipolygons(geoms[poly], indices=np.arange(poly.sum()))
    for i in np.flatnonzero(~poly):
        out[i] = _multi(geoms[i])
    return out


def _rotate(geoms: np.ndarray, angle_deg: float, origin: tuple[float, float]) -> np.ndarray:
    if not angle_deg:
        return geoms
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    ox, oy = origin

    def fn(c: np.ndarray) -> np.ndarray:
        x, y = c[:, 0] - ox, c[:, 1] - oy
        return np.column_stack([ox + x * ca - y * sa, oy + x * sa + y * ca])

    return shapely.transform(geoms, fn)


def build_plan(spec: PlanSpec, size: CitySize = CITY) -> CityPlan:
    """One plan's zones (and red lines), from the plan's own seed: same result in any batch."""
    rng = _rng(size, 1, spec.index)
    if spec.layout == "road":
        return _build_road(spec, size, rng)
    x0, y0, w, h = spec.rect
    extra: list[tuple[object, str, str]] = []  # (geometry, code, label)
    if spec.layout == "master":
        cell = size.master_cell_m
        geoms, cc, rr, part = _blocks(rng, x0, y0, w, h, cell, cell, 0.0, 0.0)
        mix, prefix = MASTER_MIX, f"QHC-{spec.key[-2:]}-"
    elif spec.layout == "zoning":
        big = spec.scale_denominator == 5000
        bw, bh, road = (360, 280, 40) if big else (180, 140, 20)
        geoms, cc, rr, part = _blocks(rng, x0, y0, w, h, bw, bh, road, 0.35)
        mix, prefix = URBAN_MIX, ""
        if spec.index % 3 == 0:  # a lake in a park, like the demo's zoning plan
            px, py = x0 + w * rng.uniform(0.3, 0.7), y0 + h * rng.uniform(0.3, 0.7)
            lake = affinity.scale(Point(px, py).buffer(1, 32), w * 0.07, h * 0.06)
            # The park takes whole blocks (a box on the street grid), never a curved cut through
            # them: zones sharing a curved edge overlap by rounding (PostGIS sees it).
            park = box(*lake.buffer(45).bounds)
            geoms, cc, rr, part = (a[~shapely.intersects(geoms, park)] for a in (geoms, cc, rr, part))
            extra += [(lake, "MN", "MN-01"), (park.difference(lake), "CX", "CX-01")]
    elif spec.layout == "industrial":
        geoms, cc, rr, part = _blocks(rng, x0, y0, w, h, 150, 110, 16, 0.3)
        mix, prefix = INDUSTRIAL_MIX, "CCN-"
    else:  # detailed
        geoms, cc, rr, part = _blocks(rng, x0, y0, w, h, 40, 30, 8, 0.25)
        mix, prefix = URBAN_MIX, "KĐT-"
    keep = shapely.area(geoms) >= 50
    geoms, cc, rr, part = geoms[keep], cc[keep], rr[keep], part[keep]
    codes, p = _mix(mix)
    code_idx = codes[rng.choice(len(codes), size=len(geoms), p=p)]
    labels = [f"{prefix}{chr(65 + r % 26)}.{c + 1}-{_CODES[k]}{i}"
              for r, c, k, i in zip(rr.tolist(), cc.tolist(), code_idx.tolist(), part.tolist(),
                                    strict=True)]
    outline = box(x0, y0, x0 + w, y0 + h)
    if extra:
        geoms = np.concatenate([geoms, np.array([g for g, _, _ in extra], dtype=object)])
        code_idx = np.concatenate([code_idx, [_CODE_INDEX[c] for _, c, _ in extra]])
        labels += [lbl for _, _, lbl in extra]
    if spec.layout != "master":
        streets = outline.difference(shapely.union_all(geoms))
        if not streets.is_empty and streets.area > 50:
            geoms = np.concatenate([geoms, np.array([streets], dtype=object)])
            code_idx = np.concatenate([code_idx, [_CODE_INDEX["GT"]]])
            labels.append(f"{prefix}GT")
    origin = (x0 + w / 2, y0 + h / 2)
    geoms = _as_multi(_rotate(geoms, spec.angle_deg, origin))
    outline_r = _multi(_rotate(np.array([outline], dtype=object), spec.angle_deg, origin)[0])
    ok = ~shapely.is_empty(geoms)
    geoms, code_idx = geoms[ok], code_idx[ok]
    labels = [lbl for lbl, k in zip(labels, ok.tolist(), strict=True) if k]
    cov, lo, hi, far, pop = _indicators(rng, code_idx, shapely.area(geoms))
    return CityPlan(spec, outline_r, geoms, labels, np.array(_CODES)[code_idx], cov, lo, hi, far,
                    pop)


def _build_road(spec: PlanSpec, size: CitySize, rng: np.random.Generator) -> CityPlan:
    """A route of ``road_sections`` straight sections bending gently; each section is one GT zone
    (quadrilaterals sharing their end edges: they touch, never overlap) and two red lines."""
    ex0, ey0, ex1, ey1 = extent_m()
    cx, cy = _centre_m()
    n = size.road_sections
    seg = float(rng.uniform(150, 300))
    width = float(rng.choice([13.5, 17.5, 21.25, 30.0, 40.0, 48.0, 50.0, 53.5, 64.0, 72.0]))
    r = float(abs(rng.normal(0, 6000)))
    a = float(rng.uniform(0, 2 * math.pi))
    heading = float(rng.uniform(0, 2 * math.pi))
    x, y = cx + r * math.cos(a), cy + r * math.sin(a)
    # Start back from the point so the route runs through it, and keep it inside the city.
    x -= math.cos(heading) * seg * n / 2
    y -= math.sin(heading) * seg * n / 2
    pts = [(x, y)]
    for _ in range(n):
        heading += math.radians(float(rng.uniform(-6, 6)))
        x, y = x + seg * math.cos(heading), y + seg * math.sin(heading)
        pts.append((x, y))
    p = np.array(pts)
    p[:, 0] = np.clip(p[:, 0], ex0 + 100, ex1 - 100)
    p[:, 1] = np.clip(p[:, 1], ey0 + 100, ey1 - 100)
    # Drop repeated points that clipping made, keep the section count by resampling the line.
    line = shapely.LineString(p)
    if line.length < seg * n * 0.2:  # clipped against a corner: run it back towards the centre
        p = np.array([(cx + (i - n / 2) * seg * math.cos(heading),
                       cy + (i - n / 2) * seg * math.sin(heading)) for i in range(n + 1)])
        line = shapely.LineString(p)
    p = shapely.get_coordinates(shapely.line_interpolate_point(
        line, np.linspace(0, line.length, n + 1)))
    d = np.diff(p, axis=0)
    d /= np.linalg.norm(d, axis=1)[:, None]
    normals = np.column_stack([-d[:, 1], d[:, 0]])
    vn = np.vstack([normals[:1], normals[:-1] + normals[1:], normals[-1:]])
    vn /= np.linalg.norm(vn, axis=1)[:, None]
    cos_half = np.einsum("ij,ij->i", vn, np.vstack([normals[:1], normals]))
    off = vn * (width / 2 / np.clip(cos_half, 0.5, None))[:, None]
    left, right = p + off, p - off
    quads = shapely.polygons(np.stack([left[:-1], left[1:], right[1:], right[:-1], left[:-1]],
                                      axis=1))
    road_name = spec.name.split("Quy hoạch tuyến ", 1)[-1].split(", tỷ lệ")[0]
    red_lines = [
        (f"{road_name}, đoạn {i + 1} {FICTIONAL}", width,
         shapely.multilinestrings([shapely.LineString(left[i:i + 2]),
                                   shapely.LineString(right[i:i + 2])]))
        for i in range(n)
    ]
    geoms = _as_multi(quads)
    ok = shapely.is_valid(geoms) & (shapely.area(geoms) > 1)
    geoms = geoms[ok]
    code_idx = np.full(len(geoms), _CODE_INDEX["GT"])
    labels = [f"GT-{i + 1}" for i in np.flatnonzero(ok).tolist()]
    outline = _multi(shapely.union_all(geoms).buffer(0))
    cov, lo, hi, far, pop = _indicators(rng, code_idx, shapely.area(geoms))
    return CityPlan(spec, outline, geoms, labels, np.array(_CODES)[code_idx], cov, lo, hi, far,
                    pop, red_lines)


# --- documents ----------------------------------------------------------------------------------

_DOC_TITLES = {
    "quyet_dinh": "Quyết định phê duyệt",
    "thuyet_minh": "Thuyết minh tổng hợp",
    "quy_dinh": "Quy định quản lý theo",
    "ban_ve": "Bản vẽ",
    "dieu_chinh": "Quyết định điều chỉnh cục bộ",
}
_SENTENCES = [
    "Khu vực nghiên cứu thuộc địa bàn {place}, có diện tích khoảng {ha} ha.",
    "Bố trí {topic} tại ô đất {label}, mật độ xây dựng tối đa {cov}%, tầng cao {f1}–{f2} tầng.",
    "Ý kiến cộng đồng dân cư {place} về {topic} đã được tiếp thu, giải trình.",
    "Chỉ giới đường đỏ tuyến đường ven {topic} rộng {w} m theo mặt cắt ngang {m}-{m}.",
    "Quy mô dân số dự kiến khoảng {pop} người; chỉ tiêu đất {topic} đạt {q} m²/người.",
    "Hệ số sử dụng đất ô {label} không vượt quá {far} lần; khoảng lùi tối thiểu {s} m.",
    "Giao UBND {place} tổ chức công bố công khai đồ án và quản lý {topic} theo quy hoạch.",
    "Hồ sơ bản vẽ tỷ lệ 1/{scale} gồm sơ đồ vị trí, hiện trạng và quy hoạch tổng mặt bằng.",
]
NOTICE = "Văn bản minh họa của bản demo, không có giá trị pháp lý."


def documents_for_plan(spec: PlanSpec, plan: CityPlan | None, size: CitySize = CITY
                       ) -> Iterator[CityDocument]:
    """The plan's ``spec.documents`` documents: decision, reports, regulations, drawings,
    amendments, each with a page or three of text naming its plan, place and subjects."""
    rng = _rng(size, 2, spec.index)
    labels = plan.labels if plan is not None and plan.labels else ["GT"]
    types = (["quyet_dinh"] if spec.decision_number else []) + \
        (["dieu_chinh"] if spec.status == "amended" else [])
    for k in range(spec.documents):
        doc_type = types[k] if k < len(types) else DOC_PLAN_TYPES[(k - len(types)) % 3]
        if k >= len(types) + 3 and k % 9 == 0:
            doc_type = "dieu_chinh"
        topic = spec.topic if k % 3 == 0 else TOPICS[int(rng.integers(0, len(TOPICS)))]
        place = spec.place if k % 2 == 0 else PLACES[int(rng.integers(0, len(PLACES)))]
        base = spec.decision_date or dt.date(2024, 1, 1)
        issued = base + dt.timedelta(days=int(rng.integers(-200, 1500)))
        number = (spec.decision_number if doc_type == "quyet_dinh" and k == 0 else
                  f"{int(rng.integers(100, 9999))}/QĐ-UBND" if doc_type == "dieu_chinh" else
                  f"{int(rng.integers(10, 999))}/TTr-QHKT" if k % 4 == 1 else None)
        subject = f"{topic} khu vực {place}" if doc_type in ("ban_ve", "dieu_chinh") else ""
        title = f"{_DOC_TITLES[doc_type]} {subject + ' – ' if subject else ''}{spec.name}"
        if doc_type == "ban_ve":
            title = f"Bản vẽ số {k}: {subject} – {spec.name}"
        pages = []
        for _ in range(int(rng.integers(1, 4))):
            words = []
            for j in rng.choice(len(_SENTENCES), size=4, replace=False).tolist():
                words.append(_SENTENCES[j].format(
                    place=place, topic=topic, label=labels[int(rng.integers(0, len(labels)))],
                    ha=round(float(rng.uniform(5, 400)), 1), cov=int(rng.integers(25, 70)),
                    f1=int(rng.integers(1, 6)), f2=int(rng.integers(6, 30)),
                    w=float(rng.choice([13.5, 17.5, 30, 40, 50])), m=int(rng.integers(1, 9)),
                    pop=int(rng.integers(500, 60000)), q=round(float(rng.uniform(1, 9)), 1),
                    far=round(float(rng.uniform(0.5, 9)), 1), s=int(rng.integers(3, 12)),
                    scale=spec.scale_denominator))
            pages.append(" ".join([NOTICE, *words]))
        sha = hashlib.sha256(f"city:{size.seed}:{spec.key}:{k}".encode()).hexdigest()
        yield CityDocument(doc_type, number, issued, spec.approving_body, title, pages, sha)
