"""Generate and load the demo city (fictional, placed in Hanoi) in one transaction.

``load_demo`` is idempotent: when the demo is already there it does nothing, so ``./run.sh demo``
can run it every time. Files it writes are removed again if the transaction fails.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from planning_gis import db
from planning_gis.crs import STORAGE_SRID
from planning_gis.demo.city import DemoAdjustment, DemoCity, build_city
from planning_gis.demo.city_load import CityLoadSummary
from planning_gis.demo.documents import documents_for, render_pdf
from planning_gis.models import AdminUnit, LandUseZone, Plan, PlanDocument, RedLine
from planning_gis.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class DemoSummary:
    loaded: bool
    plans: int = 0
    zones: int = 0
    documents: int = 0
    sheets: int = 0
    units: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        if not self.loaded:
            return "demo already loaded: nothing to do (use --force to reload)"
        return (f"demo loaded in {self.seconds:.1f} s: {self.plans} plans, {self.zones} zones, "
                f"{self.units} administrative units, {self.documents} documents, "
                f"{self.sheets} map sheets")


def demo_present(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Plan).where(Plan.is_fictional)))


def _remove_demo(session: Session) -> None:
    session.execute(delete(Plan).where(Plan.is_fictional))
    session.execute(delete(PlanDocument).where(PlanDocument.is_fictional))
    session.execute(delete(AdminUnit).where(AdminUnit.is_fictional))
    from planning_gis.basemap.store import remove_fictional

    remove_fictional(session)


def _load_units(session: Session, city: DemoCity) -> int:
    by_name: dict[str, AdminUnit] = {}
    for u in city.units:
        row = AdminUnit(name=u.name, level=u.level, code=u.code, valid_from=u.valid_from,
                        valid_to=u.valid_to, is_fictional=True,
                        geom=from_shape(u.geom, srid=STORAGE_SRID))
        session.add(row)
        by_name[u.name] = row
    session.flush()
    for u in city.units:
        if u.parent and u.parent in by_name:
            by_name[u.name].parent_id = by_name[u.parent].id
        if u.successor and u.successor in by_name:
            by_name[u.name].successor_id = by_name[u.successor].id
    return len(city.units)


def _load_plans(session: Session, city: DemoCity) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for p in city.plans:
        row = Plan(
            name=p.name, kind=p.kind, scale_denominator=p.scale_denominator, status=p.status,
            decision_number=p.decision_number, decision_date=p.decision_date,
            approving_body=p.approving_body, organisation=p.organisation,
            valid_from=p.valid_from, valid_to=p.valid_to, description=p.description,
            area_ha=round(p.outline.area / 10000, 2), is_fictional=True,
            geom=from_shape(p.outline, srid=STORAGE_SRID),
        )
        session.add(row)
        plans[p.key] = row
    session.flush()
    for p in city.plans:
        if p.supersedes:
            plans[p.key].supersedes_id = plans[p.supersedes].id
        for z in p.zones:
            session.add(LandUseZone(
                plan_id=plans[p.key].id, label=z.label, function_code=z.function_code,
                area_m2=round(z.geom.area, 1), coverage_pct=z.coverage_pct,
                floors_min=z.floors_min, floors_max=z.floors_max, far=z.far,
                population=z.population, geom=from_shape(z.geom, srid=STORAGE_SRID),
            ))
        for road_name, width, lines in p.red_lines:
            section, setback = p.road_details.get(road_name, (None, None))
            session.add(RedLine(plan_id=plans[p.key].id, road_name=road_name, width_m=width,
                                cross_section=section, setback_m=setback,
                                geom=from_shape(lines, srid=STORAGE_SRID)))
    session.flush()
    for p in city.plans:
        for adj in p.adjustments:
            _adjust(session, plans[p.key], adj)
    return plans


def _adjust(session: Session, plan: Plan, adj: DemoAdjustment) -> None:
    """Apply a local adjustment as a planner would, so the history records its decision."""
    from shapely.geometry import MultiPolygon, box

    from planning_gis.demo.city import PROFILES
    from planning_gis.history.context import change_context

    change_context(session, decision=adj.decision, effective_on=adj.day, note=adj.note)
    zones = {z.label: z for z in session.scalars(
        select(LandUseZone).where(LandUseZone.plan_id == plan.id))}
    for label, code in adj.rezone:
        z = zones[label]
        (cmin, _cmax), (_fmin, fmax), _ = PROFILES[code]
        z.function_code, z.coverage_pct, z.floors_min, z.floors_max = code, float(cmin), 2, fmax
        z.far, z.population = round(cmin / 100 * fmax, 2), None
    for label, new_label, code, share in adj.split:
        z = zones[label]
        geom = to_shape(z.geom)
        minx, miny, maxx, maxy = geom.bounds
        cut = minx + (maxx - minx) * share
        west = geom.intersection(box(minx, miny, cut, maxy))
        east = geom.intersection(box(cut, miny, maxx, maxy))
        z.geom = from_shape(MultiPolygon([east]) if east.geom_type == "Polygon" else east,
                            srid=STORAGE_SRID)
        z.area_m2 = round(east.area, 1)
        (cmin, _cmax), (_fmin, fmax), _ = PROFILES[code]
        session.add(LandUseZone(
            plan_id=plan.id, label=new_label, function_code=code, area_m2=round(west.area, 1),
            coverage_pct=float(cmin), floors_min=2, floors_max=fmax,
            far=round(cmin / 100 * fmax, 2),
            geom=from_shape(MultiPolygon([west]) if west.geom_type == "Polygon" else west,
                            srid=STORAGE_SRID)))
    for label, values in adj.indicators:
        for k, v in values.items():
            setattr(zones[label], k, v)
    session.flush()
    change_context(session)  # what follows in this transaction is not the adjustment


def _load_documents(session: Session, city: DemoCity, plans: dict[str, Plan],
                    settings: Settings) -> int:
    """Register the generated PDFs through the document store: the one path for documents.

    The store validates, reads the text layer (or OCRs the scanned one), stores the file by its
    sha256 and removes it again if this transaction rolls back.
    """
    from planning_gis.documents.store import DocumentMetadata, DocumentStore

    store = DocumentStore.from_settings(settings)
    docs = documents_for(city.plans)
    for order, d in enumerate(docs):
        data = render_pdf(d, settings)
        meta = DocumentMetadata(
            doc_type=d.doc_type, number=d.number, issued_on=d.issued_on, issuer=d.issuer,
            title=d.title, file_name=f"{d.doc_type}-{order + 1:02d}.pdf", is_fictional=True,
        )
        store.add_document_data(session, data, meta, [plans[k].id for k in d.plan_keys])
    session.flush()
    return len(docs)


def load_demo(settings: Settings | None = None, *, force: bool = False,
              size: str | None = None) -> DemoSummary | CityLoadSummary:
    """Generate the demo city and load it, all or nothing.

    ``size="city"`` is the Hanoi-size data set instead, loaded by batches that a second run
    resumes (:func:`planning_gis.demo.city_load.load_city`).
    """
    settings = settings or get_settings()
    size = size or settings.demo_size
    if size == "city":
        from planning_gis.demo.city_load import load_city

        return load_city(settings, force=force)
    started = time.perf_counter()
    # The document store and the workspace remove the files they wrote if this rolls back.
    with db.session_scope(settings) as session:
        if demo_present(session):
            if not force:
                return DemoSummary(loaded=False)
            _remove_demo(session)
            session.flush()
        city = build_city(size)
        units = _load_units(session, city)
        plans = _load_plans(session, city)
        _load_basemap(session, city)
        n_docs = _load_documents(session, city, plans, settings)
        _load_accounts(session)
        n_sheets = _load_sheets(session, city, plans, settings)
        zones = sum(len(p.zones) for p in city.plans)
    return DemoSummary(True, len(plans), zones, n_docs, n_sheets, units,
                       time.perf_counter() - started)


def _load_basemap(session: Session, city: DemoCity) -> None:
    """The demo's fictional streets, house numbers and places (the offline base map)."""
    from planning_gis.basemap.store import BasemapRows, write_rows

    bm = city.basemap
    rows = BasemapRows(
        streets=[(s.name, s.kind, None, None, s.geom) for s in bm.streets],
        addresses=[(a.housenumber, a.street, None, None, a.point) for a in bm.addresses],
        places=[(name, kind, None, pt) for name, kind, pt in bm.places],
    )
    write_rows(session.connection(), rows, source="demo", fictional=True)


def _load_sheets(session: Session, city: DemoCity, plans: dict[str, Plan],
                 settings: Settings) -> int:
    """Scanned sheets, made through the planner's own path (see planning_gis.demo.sheets)."""
    from planning_gis.demo import sheets

    return sheets.load_sheets(session, city, plans, settings)


def _load_accounts(session: Session) -> None:
    """Demo admin and planners (fixed demo-only passwords, see the README)."""
    from planning_gis.demo.accounts import load_accounts

    load_accounts(session)
