"""Everything we know about one point: the zones of every plan covering it, governing plan first.

Plans overlap: a point is usually covered by a master plan, a zoning plan and a detailed plan at
once. The most detailed valid plan governs (kind rank from :data:`PLAN_KINDS`, then the larger
scale, then the newest decision); the others stay listed so that the citizen sees the whole
picture, superseded ones marked as such rather than hidden.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from planning_gis.crs import STORAGE_SRID, ResolvedPoint
from planning_gis.models import DOCUMENT_TYPES, PLAN_KINDS, PLAN_STATUSES
from planning_gis.settings import Settings

POINT = f"ST_SetSRID(ST_MakePoint(:e, :n), {STORAGE_SRID})"

PLANS_SQL = text(
    f"""
    SELECT p.id, p.name, p.kind, p.status, p.scale_denominator, p.decision_number,
           p.decision_date, p.approving_body, p.organisation, p.valid_from, p.valid_to,
           p.supersedes_id, p.is_fictional, p.created_at
      FROM plans p
     WHERE p.geom IS NOT NULL AND ST_Intersects(p.geom, {POINT})
    """
)

ZONES_SQL = text(
    f"""
    SELECT z.id, z.plan_id, z.sheet_id, z.label, z.function_code, l.name_vi, l.name_en, l.color,
           z.area_m2, z.coverage_pct, z.floors_min, z.floors_max, z.far, z.population, z.note
      FROM land_use_zones z
      JOIN land_use_legend l ON l.code = z.function_code
     WHERE ST_Intersects(z.geom, {POINT})
     ORDER BY z.plan_id, ST_Area(z.geom)
    """
)

DOCUMENTS_SQL = text(
    """
    SELECT pd.plan_id, d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title,
           d.page_count, d.file_size
      FROM plan_documents pd JOIN documents d ON d.id = pd.document_id
     WHERE pd.plan_id = ANY(:ids)
     ORDER BY pd.plan_id, pd.sort_order, d.id
    """
)

# Accuracy of the scanned sheet a zone was traced from, or else of any published sheet of the
# plan whose footprint holds the point: the best measure we have is the independent check error,
# then the leave-one-out RMSE, then the fit's own RMSE.
SHEETS_SQL = text(
    f"""
    SELECT s.id, s.plan_id, s.title, s.state, s.method, s.rmse_m, s.loo_rmse_m, s.check_error_m,
           s.published_at
      FROM map_sheets s
     WHERE s.id = ANY(:sheet_ids)
        OR (s.plan_id = ANY(:plan_ids) AND s.state = 'published'
            AND s.footprint IS NOT NULL AND ST_Intersects(s.footprint, {POINT}))
     ORDER BY s.published_at DESC NULLS LAST, s.id
    """
)

UNITS_SQL = text(
    f"""
    SELECT a.id, a.name, a.level, a.valid_from, a.valid_to, a.successor_id
      FROM admin_units a
     WHERE a.geom IS NOT NULL AND ST_Intersects(a.geom, {POINT}) AND a.level <> 'thanh_pho'
     ORDER BY (a.valid_to IS NULL) DESC, a.valid_from DESC NULLS LAST
    """
)

DATA_DATE_SQL = text(
    "SELECT greatest((SELECT max(created_at) FROM plans), (SELECT max(created_at) FROM documents))"
)


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _num(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _is_valid(plan: Any, today: dt.date) -> bool:
    """Approved or amended, in force today: a draft or a superseded plan governs nothing."""
    if plan.status not in ("approved", "amended"):
        return False
    if plan.valid_from and plan.valid_from > today:
        return False
    return not (plan.valid_to and plan.valid_to < today)


def governance_key(plan: Any) -> tuple:
    """Sort key: most detailed kind first, then the larger scale, then the newest decision."""
    rank = PLAN_KINDS.get(plan.kind, ("", "", 0))[2]
    scale = plan.scale_denominator or 10**9
    date = plan.decision_date or dt.date.min
    return (-rank, scale, -date.toordinal())


def accuracy_of(sheet: Any) -> tuple[float | None, str | None]:
    """(metres, which measure) for a sheet, best measure first."""
    for value, what in ((sheet.check_error_m, "check"), (sheet.loo_rmse_m, "loo_rmse"),
                        (sheet.rmse_m, "rmse")):
        if value is not None:
            return round(float(value), 2), what
    return None, None


def point_info(conn: Connection, point: ResolvedPoint, settings: Settings,
               today: dt.date | None = None) -> dict[str, Any]:
    """The panel's and the information sheet's content for one point, as JSON-ready data."""
    today = today or dt.date.today()
    params = {"e": point.easting, "n": point.northing}
    plans = {r.id: r for r in conn.execute(PLANS_SQL, params)}
    zones_by_plan: dict[int, list[Any]] = {}
    for z in conn.execute(ZONES_SQL, params):
        zones_by_plan.setdefault(z.plan_id, []).append(z)
    ids = list(plans)
    superseded_by: dict[int, int] = {p.supersedes_id: p.id for p in plans.values()
                                     if p.supersedes_id and p.supersedes_id in plans}
    valid = sorted((p for p in plans.values() if _is_valid(p, today)), key=governance_key)
    governing_id = valid[0].id if valid else None
    ordered = sorted(plans.values(), key=lambda p: (
        p.id != governing_id, not _is_valid(p, today), governance_key(p)))

    docs: dict[int, list[dict[str, Any]]] = {}
    for d in conn.execute(DOCUMENTS_SQL, {"ids": ids}) if ids else []:
        type_vi, type_en = DOCUMENT_TYPES.get(d.doc_type, (d.doc_type, d.doc_type))
        page = settings.document_url_template.format(id=d.id)
        docs.setdefault(d.plan_id, []).append({
            "id": d.id, "type": d.doc_type, "type_vi": type_vi, "type_en": type_en,
            "number": d.number, "issued_on": _iso(d.issued_on), "issuer": d.issuer,
            "title": d.title, "pages": d.page_count, "size": d.file_size,
            "url": page, "file_url": f"/documents/{d.id}/file",
        })

    sheet_ids = sorted({z.sheet_id for zs in zones_by_plan.values() for z in zs if z.sheet_id})
    sheets: dict[int, list[Any]] = {}
    if ids:
        for s in conn.execute(SHEETS_SQL, {"sheet_ids": sheet_ids, "plan_ids": ids, **params}):
            sheets.setdefault(s.plan_id, []).append(s)

    out_plans = []
    for p in ordered:
        kind_vi, kind_en, _ = PLAN_KINDS.get(p.kind, (p.kind, p.kind, 0))
        status_vi, status_en = PLAN_STATUSES.get(p.status, (p.status, p.status))
        superseded = p.status == "superseded" or p.id in superseded_by
        zone_rows = zones_by_plan.get(p.id, [])
        plan_sheets = sheets.get(p.id, [])
        zone_sheet_ids = {z.sheet_id for z in zone_rows if z.sheet_id}
        chosen = ([s for s in plan_sheets if s.id in zone_sheet_ids]
                  or [s for s in plan_sheets if s.state == "published"])
        accuracy, measure = accuracy_of(chosen[0]) if chosen else (None, None)
        out_plans.append({
            "id": p.id, "name": p.name, "kind": p.kind, "kind_vi": kind_vi, "kind_en": kind_en,
            "status": p.status, "status_vi": status_vi, "status_en": status_en,
            "governing": p.id == governing_id, "superseded": superseded,
            "superseded_by": superseded_by.get(p.id),
            "in_force": _is_valid(p, today),
            "scale": f"1/{p.scale_denominator}" if p.scale_denominator else None,
            "decision": {"number": p.decision_number, "date": _iso(p.decision_date),
                         "issuer": p.approving_body},
            "organisation": p.organisation, "fictional": p.is_fictional,
            "zones": [_zone(z) for z in zone_rows],
            "documents": docs.get(p.id, []),
            "sheet": ({"id": chosen[0].id, "title": chosen[0].title, "method": chosen[0].method,
                       "accuracy_m": accuracy, "accuracy_measure": measure}
                      if chosen else None),
        })

    units = [{"id": u.id, "name": u.name, "level": u.level, "valid_from": _iso(u.valid_from),
              "valid_to": _iso(u.valid_to), "current": u.valid_to is None or u.valid_to >= today}
             for u in conn.execute(UNITS_SQL, params)]
    data_date = conn.execute(DATA_DATE_SQL).scalar_one()
    governing = next((p for p in out_plans if p["governing"]), None)
    return {
        "point": point.as_dict(),
        "governing_plan_id": governing_id,
        "zone": governing["zones"][0] if governing and governing["zones"] else None,
        "plans": out_plans,
        "units": units,
        "data_date": _iso(data_date.date() if data_date else None),
        "fictional": any(p["fictional"] for p in out_plans),
    }


def _zone(z: Any) -> dict[str, Any]:
    return {
        "id": z.id, "label": z.label, "function_code": z.function_code,
        "name_vi": z.name_vi, "name_en": z.name_en, "color": z.color,
        "area_m2": _num(z.area_m2, 1), "coverage_pct": _num(z.coverage_pct, 1),
        "floors_min": z.floors_min, "floors_max": z.floors_max, "far": _num(z.far, 2),
        "population": z.population, "note": z.note,
    }
