"""A new version of a plan's zones, read from a file, compared with the version before it
before anything is written: what the workspace and ``import_maps.py zones`` show first.

The version before is the plan's own zones when the file replaces them, else the zones of the
plan it supersedes (an adjustment approved as a plan of its own). Zones are paired by label
where one is found once on each side and by overlap otherwise (:mod:`.compare`).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from planning_gis.history.compare import Comparison, Legend, compare_zones
from planning_gis.history.states import INDICATORS, PlanSide, ZoneState, load_side, plan_side
from planning_gis.models import LandUseZone


def rows_as_states(rows: list[LandUseZone], plan_id: int) -> list[ZoneState]:
    """Zones not yet written, as the comparison reads them (ids negative: they have none)."""
    return [ZoneState(-(n + 1), plan_id, r.label, r.function_code,
                      {name: getattr(r, name) for name, *_ in INDICATORS}, to_shape(r.geom))
            for n, r in enumerate(rows)]


def previous_version(session: Session, plan_id: int, replace: bool) -> int | None:
    """The plan whose zones the file's zones follow, or None (a first import, nothing before)."""
    if replace:
        return plan_id
    return plan_side(session.connection(), plan_id).supersedes_id


def preview(session: Session, plan_id: int, rows: list[LandUseZone], *, replace: bool,
            decision: str | None = None, effective_on: dt.date | None = None
            ) -> Comparison | None:
    """The comparison of the version before with the file's zones, or None when there is no
    version before."""
    conn = session.connection()
    before = previous_version(session, plan_id, replace)
    if before is None:
        return None
    a = load_side(conn, before)
    if not a.zones:
        return None
    plan = plan_side(conn, plan_id)
    b = PlanSide(plan_id, None, f"{plan.name} (tệp mới)", plan.kind, plan.status,
                 decision or plan.decision_number, effective_on or plan.decision_date,
                 plan.approving_body, zones=rows_as_states(rows, plan_id))
    changes, unchanged = compare_zones(a.zones, b.zones)
    attribution = {"source": "import", "plan_id": plan_id, "number": b.decision_number,
                   "date": b.decision_date.isoformat() if b.decision_date else None,
                   "approving_body": b.approving_body,
                   "effective_on": b.decision_date.isoformat() if b.decision_date else None,
                   "user": None}
    for c in changes:
        c.decision = dict(attribution)
    return Comparison(a, b, "plan", changes, unchanged, Legend.read(conn))
