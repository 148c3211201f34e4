"""Two plans, or two dates of one plan, compared zone by zone.

Zones are paired by a stable key where one exists (the same zone row across two dates of one
plan; a zone label found once on each side across two plans, when the two overlap), and by
overlap otherwise: every pair of zones that share at least ``MIN_SHARE`` of either one's area is
an edge, and each connected group of zones is one change: one zone to one is *modified* (or
unchanged), one to several a *split*, several to one a *merge*, several to several *reshaped*,
one to none *removed*, none to one *added*. A modified zone says what changed: its function
(from → to), its indicators (old → new), its geometry (m² gained and lost), its label. Every
change is attributed to the decision that made it: the newer plan's decision when two plans
are compared; the recorded decision (or user) of the zone's last change between the two dates
when one plan is compared with itself.

OpenQuyHoach's comparison (the closest open-source peer) pairs by key only and labels added /
removed / geometry / classification / indicators; splits and merges, the m² gained and lost and
the decision come on top.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from planning_gis.errors import InvalidInput
from planning_gis.history.states import (
    INDICATORS,
    PlanSide,
    ZoneState,
    last_events,
    load_side,
    zones_of,
)

#: Area (m²) under which a difference of outline is digitising noise, not a change.
GEOMETRY_TOLERANCE_M2 = 1.0
#: Share of a zone's area another zone must cover for the two to be paired by overlap.
MIN_SHARE = 0.05
#: Indicator differences smaller than this are rounding, not a change.
_EPS = 1e-6

KINDS = ("added", "removed", "modified", "split", "merged", "reshaped")


@dataclass
class Legend:
    """Function codes' names, read once per comparison (the legend is data)."""

    names: dict[str, tuple[str, str, str]]  # code -> (name_vi, name_en, colour)

    @classmethod
    def read(cls, conn: Connection) -> Legend:
        rows = conn.execute(text("SELECT code, name_vi, name_en, color FROM land_use_legend"))
        return cls({r.code: (r.name_vi, r.name_en, r.color) for r in rows})

    def vi(self, code: str) -> str:
        return self.names.get(code, (code, code, "#999999"))[0]

    def en(self, code: str) -> str:
        return self.names.get(code, (code, code, "#999999"))[1]

    def color(self, code: str) -> str:
        return self.names.get(code, (code, code, "#999999"))[2]


@dataclass
class Change:
    """One change between the two sides: which zones, what changed, by which decision."""

    kind: str
    a: list[ZoneState]
    b: list[ZoneState]
    what: list[str] = field(default_factory=list)  # function, indicators, geometry, label
    indicators: list[dict[str, Any]] = field(default_factory=list)
    gained_m2: float = 0.0
    lost_m2: float = 0.0
    decision: dict[str, Any] = field(default_factory=dict)

    @property
    def geometry(self) -> BaseGeometry:
        """Where the change is drawn: the newer zones, or the removed ones."""
        zones = self.b or self.a
        return shapely.union_all([z.geom for z in zones])

    @property
    def sort_key(self) -> tuple:
        first = (self.b or self.a)[0]
        return (first.label, first.id)


@dataclass
class Comparison:
    a: PlanSide
    b: PlanSide
    scope: str  # plan, point, area
    changes: list[Change]
    unchanged: int
    legend: Legend
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in KINDS}
        for c in self.changes:
            out[c.kind] += 1
        out["unchanged"] = self.unchanged
        return out


# --- pairing ---------------------------------------------------------------------------------

class _Groups:
    """Union-find over zone indices: A zones are 0..n-1, B zones n..n+m-1."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _key_pairs(a: list[ZoneState], b: list[ZoneState], by_id: bool) -> list[tuple[int, int]]:
    """Pairs by stable key: the zone's row across dates, else a label unique on both sides."""
    if by_id:
        where = {z.id: j for j, z in enumerate(b)}
        return [(i, where[z.id]) for i, z in enumerate(a) if z.id in where]
    def unique(zones: list[ZoneState]) -> dict[str, int]:
        seen: dict[str, int] = {}
        dup: set[str] = set()
        for i, z in enumerate(zones):
            if z.label in seen:
                dup.add(z.label)
            seen[z.label] = i
        return {k: v for k, v in seen.items() if k not in dup}
    ua, ub = unique(a), unique(b)
    return [(i, ub[label]) for label, i in ua.items()
            if label in ub and a[i].geom.intersects(b[ub[label]].geom)]


def _overlap_pairs(a: list[ZoneState], b: list[ZoneState]) -> list[tuple[int, int]]:
    """Pairs whose overlap is at least ``MIN_SHARE`` of either zone (vectorised in GEOS)."""
    if not a or not b:
        return []
    ga = np.array([z.geom for z in a], dtype=object)
    gb = np.array([z.geom for z in b], dtype=object)
    tree = shapely.STRtree(gb)
    ia, ib = tree.query(ga, predicate="intersects")
    if len(ia) == 0:
        return []
    inter = shapely.area(shapely.intersection(ga[ia], gb[ib]))
    area_a = shapely.area(ga[ia])
    area_b = shapely.area(gb[ib])
    keep = (inter > GEOMETRY_TOLERANCE_M2) & (
        (inter >= MIN_SHARE * area_a) | (inter >= MIN_SHARE * area_b))
    return list(zip(ia[keep].tolist(), ib[keep].tolist(), strict=True))


def _close(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return abs(float(x) - float(y)) < _EPS


def _modified(za: ZoneState, zb: ZoneState) -> Change | None:
    """What changed between two paired zones, or None when nothing did."""
    c = Change("modified", [za], [zb])
    if za.function_code != zb.function_code:
        c.what.append("function")
    for name, vi, en, unit in INDICATORS:
        old, new = za.indicators.get(name), zb.indicators.get(name)
        if not _close(old, new):
            c.indicators.append({"field": name, "name_vi": vi, "name_en": en, "unit": unit,
                                 "old": old, "new": new})
    if c.indicators:
        c.what.append("indicators")
    if not za.geom.equals_exact(zb.geom, 0.0):
        c.gained_m2 = float(zb.geom.difference(za.geom).area)
        c.lost_m2 = float(za.geom.difference(zb.geom).area)
        if c.gained_m2 > GEOMETRY_TOLERANCE_M2 or c.lost_m2 > GEOMETRY_TOLERANCE_M2:
            c.what.append("geometry")
        else:
            c.gained_m2 = c.lost_m2 = 0.0
    if za.label != zb.label:
        c.what.append("label")
    return c if c.what else None


def _group_change(ga: list[ZoneState], gb: list[ZoneState]) -> Change | None:
    if ga and not gb:
        return Change("removed", ga, [])
    if gb and not ga:
        return Change("added", [], gb)
    if len(ga) == 1 and len(gb) == 1:
        return _modified(ga[0], gb[0])
    kind = "split" if len(ga) == 1 else "merged" if len(gb) == 1 else "reshaped"
    c = Change(kind, ga, gb)
    ua = shapely.union_all([z.geom for z in ga])
    ub = shapely.union_all([z.geom for z in gb])
    c.gained_m2 = float(ub.difference(ua).area)
    c.lost_m2 = float(ua.difference(ub).area)
    if {z.function_code for z in ga} != {z.function_code for z in gb}:
        c.what.append("function")
    if c.gained_m2 > GEOMETRY_TOLERANCE_M2 or c.lost_m2 > GEOMETRY_TOLERANCE_M2:
        c.what.append("geometry")
    return c


def compare_zones(a: list[ZoneState], b: list[ZoneState], *,
                  by_id: bool = False) -> tuple[list[Change], int]:
    """The changes from zones ``a`` to zones ``b`` and how many zones are unchanged."""
    n = len(a)
    groups = _Groups(n + len(b))
    for i, j in _key_pairs(a, b, by_id):
        groups.join(i, n + j)
    for i, j in _overlap_pairs(a, b):
        groups.join(i, n + j)
    members: dict[int, tuple[list[ZoneState], list[ZoneState]]] = {}
    for i in range(n + len(b)):
        ga, gb = members.setdefault(groups.find(i), ([], []))
        (ga if i < n else gb).append(a[i] if i < n else b[i - n])
    changes, unchanged = [], 0
    for ga, gb in members.values():
        c = _group_change(ga, gb)
        if c is None:
            unchanged += 1
        else:
            changes.append(c)
    changes.sort(key=lambda c: c.sort_key)
    return changes, unchanged


# --- the two sides, attribution --------------------------------------------------------------

def _plan_decision(side: PlanSide) -> dict[str, Any]:
    return {"source": "plan", "plan_id": side.plan_id, "number": side.decision_number,
            "date": side.decision_date.isoformat() if side.decision_date else None,
            "approving_body": side.approving_body, "effective_on":
            (side.valid_from or side.decision_date).isoformat()
            if (side.valid_from or side.decision_date) else None, "user": None}


def compare(conn: Connection, plan_a: int, plan_b: int | None = None, *,
            date_a: dt.date | None = None, date_b: dt.date | None = None,
            area_wkt: str | None = None, scope: str = "plan") -> Comparison:
    """Compare plan ``plan_a`` on ``date_a`` with plan ``plan_b`` (default: the same plan) on
    ``date_b`` (None: as it is now), over ``area_wkt`` (EPSG:5897) or the whole plans."""
    import time

    started = time.perf_counter()
    plan_b = plan_a if plan_b is None else plan_b
    same = plan_a == plan_b
    if same and date_a == date_b:
        raise InvalidInput("comparing a plan with itself needs two different dates",
                           message_vi="So sánh một đồ án với chính nó cần hai ngày khác nhau.")
    a = load_side(conn, plan_a, date_a, area_wkt)
    b = load_side(conn, plan_b, date_b, area_wkt)
    if area_wkt is not None and (a.zones or b.zones):
        # a zone split, merged or moved is seen whole: the zones under the area, then every
        # zone of either side that those zones touch
        around = shapely.union_all([z.geom for z in a.zones + b.zones]).wkt
        a.zones = zones_of(conn, plan_a, date_a, around)
        b.zones = zones_of(conn, plan_b, date_b, around)
    changes, unchanged = compare_zones(a.zones, b.zones, by_id=same)
    if area_wkt is not None:
        # only the changes of the zones under the area (their neighbours were read to see them
        # whole), and the zones under it that did not change
        area = shapely.from_wkt(area_wkt)
        changes = [c for c in changes if any(z.geom.intersects(area) for z in c.a + c.b)]
        changed = {id(z) for c in changes for z in c.b}
        unchanged = sum(1 for z in b.zones if id(z) not in changed and z.geom.intersects(area))
        a.zones = [z for z in a.zones if z.geom.intersects(area)]
        b.zones = [z for z in b.zones if z.geom.intersects(area)]
    if same:
        lo, hi = sorted([date_a or dt.date.max, date_b or dt.date.max])
        events = last_events(conn, plan_a, lo, hi) if changes else {}
        for c in changes:
            found = [events[z.id] for z in c.b + c.a if z.id in events]
            if found:
                e = max(found, key=lambda r: (r.effective, r.recorded_at))
                c.decision = {"source": "history", "plan_id": plan_a, "number": e.decision,
                              "date": None, "approving_body": None,
                              "effective_on": e.effective.isoformat(), "user": e.user_email,
                              "note": e.note, "recorded_at": e.recorded_at.isoformat()}
            else:
                c.decision = _plan_decision(b)
    else:
        # the newer plan decided the changes (whichever side was given first)
        newer = b if (b.decision_date or dt.date.min) >= (a.decision_date or dt.date.min) else a
        for c in changes:
            c.decision = _plan_decision(newer)
    return Comparison(a, b, scope, changes, unchanged, Legend.read(conn),
                      time.perf_counter() - started)
