"""Point and plot look-up: every zone of every plan at a place, the governing plan first.

Plans overlap: a place lies in a master plan, a zoning plan and a detailed plan at once. The one
that governs is the most detailed plan in force (kind rank from ``PLAN_KINDS``, then the larger
scale, then the newer decision); the others stay in the answer, marked, so that a citizen sees
what changed. Every zone carries where it came from: the plan's decision and documents, and the
accuracy of the map sheet it was traced from.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import orjson
import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, TextClause, text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from planning_gis.crs import STORAGE_SRID
from planning_gis.models import DOCUMENT_TYPES, PLAN_KINDS, PLAN_STATUSES

IN_FORCE_STATUSES = ("approved", "amended")
#: Documents listed per plan in an answer (``PLANNING_LOOKUP_DOCUMENTS_PER_PLAN``).
DOCUMENTS_PER_PLAN = 8

#: The place asked about, in EPSG:5897: a point (:e, :n) or a plot (:wkt). Each is a constant
#: expression, so ``ST_Intersects(geom, place)`` is an index condition on the GiST index.
POINT = f"ST_SetSRID(ST_MakePoint(:e, :n), {STORAGE_SRID})"
PLOT = f"ST_GeomFromText(:wkt, {STORAGE_SRID})"


def _zones_at(place: str, extra: str = "") -> str:
    """Zones under a place with their legend, plan and the accuracy of their sheet."""
    return f"""
SELECT z.id AS zone_id, z.plan_id, z.label, z.function_code, z.name_vi, z.name_en, z.color,
  z.area_m2, z.coverage_pct, z.floors_min, z.floors_max, z.far, z.population, z.note,
  z.sheet_id, s.title AS sheet_title, s.method AS sheet_method, s.rmse_m, s.loo_rmse_m,
  s.check_error_m, s.state AS sheet_state{extra}
FROM zones_with_legend z LEFT JOIN map_sheets s ON s.id = z.sheet_id
WHERE ST_Intersects(z.geom, {place})"""


#: A plan's row as an answer shows it, with the newest plan that replaces it and since when (its
#: validity start or decision date); the caller adds the WHERE clause.
_PLAN_ROWS = """
SELECT p.id, p.name, p.kind, p.status, p.scale_denominator, p.decision_number,
  p.decision_date, p.approving_body, p.organisation, p.valid_from, p.valid_to, p.supersedes_id,
  p.is_fictional, sup.id AS superseded_by, sup.since AS superseded_since
FROM plans p
LEFT JOIN LATERAL (
  SELECT q.id, coalesce(q.valid_from, q.decision_date) AS since FROM plans q
  WHERE q.supersedes_id = p.id AND q.status IN ('approved', 'amended')
  ORDER BY since DESC NULLS LAST, q.id DESC LIMIT 1) AS sup ON TRUE"""


def _plans_at(place: str, zone_plan_ids: str) -> str:
    """Plans whose outline covers a place, plus the plans of the zones found there."""
    return f"""{_PLAN_ROWS}
WHERE ST_Intersects(p.geom, {place}) OR p.id = ANY({zone_plan_ids})"""


def plans_at_sql(place: str, zone_plan_ids: str) -> str:
    """The plans statement for a place, as the look-up reads them (the exchange routes a
    citizen's question with it, so that "the governing plan" means the same everywhere)."""
    return _plans_at(place, zone_plan_ids)


#: Zones cut by a plot, with the area of each piece in m² (EPSG:5897 is metric).
PLOT_ZONES_SQL = text(_zones_at(PLOT, f",\n  ST_Area(ST_Intersection(z.geom, {PLOT})) AS share_m2"))
PLOT_PLANS_SQL = text(_plans_at(PLOT, ":zone_plan_ids"))

#: A plan's first documents in its own order (decision, regulation, report, drawings: the order
#: ``plan_documents.sort_order`` gives them), at most ``:per_plan``, each row with the plan's
#: document count. A detailed plan in the city holds up to 126 documents and a point lies in up
#: to 36 plans: listing them all made a point's answer 210 KB (871 KB at worst) for a panel that
#: shows a handful; the rest is one link away (``documents_href``, the library by plan).
def _documents_of(plan_ids: str) -> str:
    return f"""
SELECT pd.plan_id, pd.sort_order, d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title,
       d.file_name, d.page_count, n.total
FROM unnest({plan_ids}) AS pl(id)
CROSS JOIN LATERAL (SELECT count(*) AS total FROM plan_documents c WHERE c.plan_id = pl.id) n
CROSS JOIN LATERAL (
  SELECT x.plan_id, x.document_id, x.sort_order FROM plan_documents x WHERE x.plan_id = pl.id
  ORDER BY x.sort_order, x.document_id LIMIT :per_plan) pd
JOIN documents d ON d.id = pd.document_id"""


DOCUMENTS_SQL = text(_documents_of("CAST(:plan_ids AS integer[])")
                     + "\nORDER BY pd.plan_id, pd.sort_order, d.issued_on NULLS LAST, d.id")


#: A zone's own columns, as a point's answer shows them; its legend entry and its sheet come
#: from the plan register (:class:`PlanRegister`).
_ZONE_COLUMNS = """z.id AS zone_id, z.plan_id, z.label, z.function_code, z.area_m2, z.coverage_pct,
  z.floors_min, z.floors_max, z.far, z.population, z.note, z.sheet_id"""

#: What a point's answer rests on, in one statement (one round trip): the look-up edition, the
#: zones under the point (their own columns) and the plans whose outline covers it. Everything
#: else an answer cites depends on a plan, a sheet or a legend code, not on the point: it is read
#: by id and kept per edition (:class:`PlanRegister`, and each plan's documents by the caller).
#: Joining those rows to every point, with each plan's replacement, cost a fifth more of
#: PostgreSQL's CPU per new city point (0.84-0.92 against 0.67-0.72 ms, in the app).
POINT_ROWS_SQL = text(f"""
SELECT (SELECT edition FROM layer_editions WHERE layer = 'lookup') AS edition,
       (SELECT coalesce(json_agg(zones), '[]') FROM (
          SELECT {_ZONE_COLUMNS} FROM land_use_zones z WHERE ST_Intersects(z.geom, {POINT})
       ) AS zones)::text AS zones,
       ARRAY(SELECT p.id FROM plans p WHERE ST_Intersects(p.geom, {POINT})) AS plan_ids
""")


def _register_sql(sheets_where: str, plans_where: str) -> TextClause:
    """The register's rows, with the edition read in the same statement: every legend entry (a
    handful), and the sheets and plans ``*_where`` admits, each plan with the newest plan that
    replaces it and since when (as :func:`plans_at_sql` gives them)."""
    return text(f"""
SELECT (SELECT edition FROM layer_editions WHERE layer = 'lookup') AS edition,
  (SELECT coalesce(json_agg(l), '[]') FROM (
     SELECT code, name_vi, name_en, color FROM land_use_legend) AS l)::text AS legend,
  (SELECT coalesce(json_agg(s), '[]') FROM (
     SELECT s.id, s.title AS sheet_title, s.method AS sheet_method, s.rmse_m, s.loo_rmse_m,
            s.check_error_m, s.state AS sheet_state
     FROM map_sheets s WHERE {sheets_where}) AS s)::text AS sheets,
  (SELECT coalesce(json_agg(p), '[]') FROM ({_PLAN_ROWS}
     WHERE {plans_where}) AS p)::text AS plans
""")


#: The rows a register lacks, by id.
REGISTER_SQL = _register_sql("s.id = ANY(CAST(:sheet_ids AS integer[]))",
                             "p.id = ANY(CAST(:plan_ids AS integer[]))")
#: Every row, for a register meeting a new edition (the city's: 0.7 MB of JSON, 25-35 ms once
#: per edition and process): read by id, the first few hundred new points of a process each
#: cost one more statement (the cluster's cold pass: 411 new points/s by id, 459 read whole).
REGISTER_ALL_SQL = _register_sql("TRUE", "TRUE")


@dataclass(frozen=True)
class PointRows:
    """The rows a point's answer is made of, with the edition read in the same statement."""

    edition: int | None
    zones: list[Any]
    plans: list[Any]


#: A connection the look-up reads through: SQLAlchemy's, or a plain psycopg one (the API's
#: per-thread connection, ``planning_gis.db.hot_read_connection``). Either way the statements
#: run on psycopg itself, prepared: SQLAlchemy's statement machinery cost more client time than
#: the look-up's own rows, and a prepared statement can run on a generic plan.
Reader = Connection | psycopg.Connection


def _psycopg(statement: TextClause) -> str:
    """A ``text()`` statement as psycopg takes it (``%(name)s`` placeholders)."""
    return str(statement.compile(dialect=psycopg_dialect.dialect()))


def _cursor(conn: Reader) -> psycopg.Cursor:
    raw = conn.connection.driver_connection if isinstance(conn, Connection) else conn
    return raw.cursor(row_factory=namedtuple_row)


_POINT_ROWS = _psycopg(POINT_ROWS_SQL)


_REGISTER = _psycopg(REGISTER_SQL)
_REGISTER_ALL = _psycopg(REGISTER_ALL_SQL)


class PlanRegister:
    """The legend, the map sheets and the plans as one look-up edition has them, read whole when
    a point of a newer edition comes, and kept until the edition changes (one per app and
    database).

    Why: these rows depend on a plan, a sheet or a legend code, not on the point, and a city's
    new points keep citing the same few hundred plans (1,600 plans for 530,000 zones). Reading
    them once per edition instead of joining them to every point cut a fifth of a new point's
    PostgreSQL CPU. Bounded by the tables themselves: every plan, sheet and legend entry of one
    edition (the city's: 0.7 MB of JSON). One thread of a process reads a new edition whole;
    the others asking meanwhile wait for it. Keyed by the edition the register statement read
    in its own snapshot, so rows of two editions never mix in the register; an answer whose
    point rows and register rows come from different editions is marked (``PointRows.edition``
    None) and not kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._filling = threading.Lock()  # one whole read at a time
        self._edition: int | None = None
        self._legend: dict[str, dict] | None = None
        self._sheets: dict[int, dict] = {}
        self._plans: dict[int, SimpleNamespace] = {}
        #: statements run for the register (what a warm register saves is one per new point)
        self.reads = 0

    def rows(self, conn: Reader, edition: int | None, plan_ids: set[int],
             sheet_ids: set[int]) -> tuple[dict, dict, dict, int | None]:
        """The legend by code and the asked sheets and plans by id, with the edition they are
        of (None when the register could not tell: an untracked edition)."""
        with self._lock:
            if self._holds(edition, plan_ids, sheet_ids):
                return self._legend, self._sheets, self._plans, edition
            # a point of an older edition (a replica behind) reads only what it needs
            whole = edition is not None and (self._edition is None or edition > self._edition)
            kept = edition == self._edition
            lacking_plans = [i for i in plan_ids if not kept or i not in self._plans]
            lacking_sheets = [i for i in sheet_ids if not kept or i not in self._sheets]
        if whole:
            with self._filling:
                with self._lock:  # filled by another thread while this one waited?
                    if self._holds(edition, plan_ids, sheet_ids):
                        return self._legend, self._sheets, self._plans, edition
                row = self._read(conn, _REGISTER_ALL, None)
        else:
            row = self._read(conn, _REGISTER, {"plan_ids": lacking_plans,
                                               "sheet_ids": lacking_sheets})
        read = row.edition
        legend = {r["code"]: r for r in orjson.loads(row.legend)}
        sheets = {r.pop("id"): r for r in orjson.loads(row.sheets)}
        plans = {r.id: r for r in _rows(row.plans)}
        with self._lock:
            if read is not None and read == self._edition:
                self._legend = legend
                self._sheets.update(sheets)
                self._plans.update(plans)
            elif read is not None and (self._edition is None or read > self._edition):
                self._edition, self._legend, self._sheets, self._plans = (
                    read, legend, sheets, plans)
            if read is not None and read == self._edition:
                # what this answer needs, from the register of the edition read just now
                sheets = {i: self._sheets[i] for i in sheet_ids if i in self._sheets}
                plans = {i: self._plans[i] for i in plan_ids if i in self._plans}
                return self._legend, sheets, plans, read
        return legend, sheets, plans, read  # of another edition than kept: used, not kept

    def _holds(self, edition: int | None, plan_ids: set[int], sheet_ids: set[int]) -> bool:
        """Everything asked is held for ``edition`` (under ``_lock``)."""
        return (edition is not None and edition == self._edition and self._legend is not None
                and plan_ids <= self._plans.keys() and sheet_ids <= self._sheets.keys())

    def _read(self, conn: Reader, statement: str, params: dict | None) -> Any:
        with _cursor(conn) as cur:
            self.reads += 1
            return cur.execute(statement, params, prepare=True).fetchone()


def point_rows(conn: Reader, easting: float, northing: float,
               register: PlanRegister | None = None) -> PointRows:
    """The zones and plans at an EPSG:5897 point (from the GiST indexes) and the edition; the
    zones with their legend entry and sheet, the plans with their replacement, from
    ``register`` (a new one, kept nowhere, when none is given)."""
    with _cursor(conn) as cur:
        row = cur.execute(_POINT_ROWS, {"e": easting, "n": northing}, prepare=True).fetchone()
    zones = orjson.loads(row.zones)
    plan_ids = set(row.plan_ids) | {z["plan_id"] for z in zones}
    sheet_ids = {z["sheet_id"] for z in zones if z["sheet_id"] is not None}
    legend, sheets, plans, read = (register or PlanRegister()).rows(
        conn, row.edition, plan_ids, sheet_ids)
    for z in zones:
        entry = legend.get(z["function_code"]) or {}
        z["name_vi"], z["name_en"], z["color"] = (
            entry.get("name_vi"), entry.get("name_en"), entry.get("color"))
        z.update(sheets.get(z["sheet_id"]) or _NO_SHEET)
    edition = row.edition if read == row.edition else None
    return PointRows(edition, _rows_of(zones), [plans[i] for i in plan_ids if i in plans])


#: A zone's sheet fields when it was not traced from a sheet held here.
_NO_SHEET = {"sheet_title": None, "sheet_method": None, "rmse_m": None, "loo_rmse_m": None,
             "check_error_m": None, "sheet_state": None}


_DATE_FIELDS = ("decision_date", "valid_from", "valid_to", "superseded_since", "issued_on")
#: double precision columns: PostgreSQL writes 50.0 as 50 in JSON, Python must see a float.
_FLOAT_FIELDS = ("area_m2", "coverage_pct", "far", "rmse_m", "loo_rmse_m", "check_error_m")


def _rows(raw: str) -> list[SimpleNamespace]:
    """JSON rows back into attribute rows, dates as dates (the JSON carries them as ISO text)."""
    return _rows_of(orjson.loads(raw))  # a third of json.loads's time on a city point's rows


def _rows_of(items: list[dict]) -> list[SimpleNamespace]:
    rows = []
    for item in items:
        for k in _DATE_FIELDS:
            if item.get(k) is not None:
                item[k] = dt.date.fromisoformat(item[k])
        for k in _FLOAT_FIELDS:
            if item.get(k) is not None:
                item[k] = float(item[k])
        rows.append(SimpleNamespace(**item))
    return rows


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class PlanState:
    in_force: bool
    superseded: bool
    draft: bool


def plan_state(row: Any, on: dt.date) -> PlanState:
    """Whether a plan was in force on a date, superseded by then, or a draft.

    Dates decide, so that a look-up on a past date finds the plan that governed then: a plan
    whose status is now "superseded" was in force until its end date or its replacement's start.
    """
    ended = row.valid_to is not None and row.valid_to < on
    replaced = row.superseded_by is not None and (
        row.superseded_since is None or row.superseded_since <= on
    )
    undated = row.status == "superseded" and row.valid_to is None and row.superseded_by is None
    superseded = ended or replaced or undated
    started = row.valid_from is None or row.valid_from <= on
    in_force = (
        row.status in (*IN_FORCE_STATUSES, "superseded") and started and not superseded
    )
    return PlanState(in_force=in_force, superseded=superseded, draft=row.status == "draft")


def governing_key(row: Any) -> tuple:
    """Sort key: more detailed kind, then larger scale (smaller denominator), then newer."""
    rank = PLAN_KINDS.get(row.kind, ("", "", 0))[2]
    scale = -(row.scale_denominator or 10**9)
    decided = row.decision_date or dt.date.min
    return (rank, scale, decided, row.id)


def rank_plans(rows: list[Any], today: dt.date) -> list[tuple[Any, PlanState, str]]:
    """Plans ordered for the answer with their role: governing, in_force, draft, superseded."""
    states = {r.id: plan_state(r, today) for r in rows}
    in_force = sorted((r for r in rows if states[r.id].in_force), key=governing_key, reverse=True)
    drafts = sorted((r for r in rows if states[r.id].draft), key=governing_key, reverse=True)
    other = sorted(
        (r for r in rows if not states[r.id].in_force and not states[r.id].draft),
        key=governing_key, reverse=True,
    )
    ordered: list[tuple[Any, PlanState, str]] = []
    for i, r in enumerate(in_force):
        ordered.append((r, states[r.id], "governing" if i == 0 else "in_force"))
    ordered += [(r, states[r.id], "draft") for r in drafts]
    ordered += [(r, states[r.id], "superseded" if states[r.id].superseded else "not_in_force")
                for r in other]
    return ordered


def accuracy(z: Any) -> dict[str, Any]:
    """The positional accuracy of the sheet a zone was traced from, and on what it rests."""
    if z.sheet_id is None:
        return {"sheet_id": None, "basis": "unknown", "error_m": None,
                "note": "not traced from a georeferenced sheet held here",
                "note_vi": "Không vẽ từ tờ bản đồ số hóa nào trong hệ thống"}
    if z.check_error_m is not None:
        basis, err = "check_points", z.check_error_m
    elif z.loo_rmse_m is not None:
        basis, err = "leave_one_out", z.loo_rmse_m
    elif z.rmse_m is not None:
        basis, err = "fit_residual", z.rmse_m
    else:
        basis, err = "unknown", None
    return {
        "sheet_id": z.sheet_id, "sheet_title": z.sheet_title, "sheet_state": z.sheet_state,
        "method": z.sheet_method, "basis": basis, "error_m": err,
        "check_error_m": z.check_error_m, "loo_rmse_m": z.loo_rmse_m, "rmse_m": z.rmse_m,
    }


def _zone_doc(z: Any, base_url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = {
        "id": z.zone_id,
        "label": z.label,
        "function_code": z.function_code,
        "legend": {"code": z.function_code, "name_vi": z.name_vi, "name_en": z.name_en,
                   "color": z.color},
        "indicators": {
            "area_m2": round(z.area_m2, 1) if z.area_m2 is not None else None,
            "coverage_pct": z.coverage_pct, "floors_min": z.floors_min,
            "floors_max": z.floors_max, "far": z.far, "population": z.population,
        },
        "note": z.note,
        "accuracy": accuracy(z),
        "source": {"collection": "zones", "id": z.zone_id,
                   "href": f"{base_url}/ogc/collections/zones/items/{z.zone_id}"},
    }
    if extra:
        doc.update(extra)
    return doc


def _plan_doc(p: Any, state: PlanState, role: str, docs: tuple[list[dict], int], base_url: str,
              zones: list[dict]) -> dict[str, Any]:
    kind_vi, kind_en, rank = PLAN_KINDS.get(p.kind, (p.kind, p.kind, 0))
    status_vi, status_en = PLAN_STATUSES.get(p.status, (p.status, p.status))
    return {
        "id": p.id,
        "name": p.name,
        "role": role,
        "governing": role == "governing",
        "in_force": state.in_force,
        "superseded": state.superseded,
        "superseded_by": p.superseded_by,
        "supersedes": p.supersedes_id,
        "kind": {"code": p.kind, "name_vi": kind_vi, "name_en": kind_en, "rank": rank},
        "status": {"code": p.status, "name_vi": status_vi, "name_en": status_en},
        "scale": f"1:{p.scale_denominator}" if p.scale_denominator else None,
        "decision": {"number": p.decision_number, "date": _iso(p.decision_date),
                     "approving_body": p.approving_body},
        "valid_from": _iso(p.valid_from),
        "valid_to": _iso(p.valid_to),
        "fictional": p.is_fictional,
        "documents": docs[0],
        "documents_total": docs[1],
        "documents_href": f"{base_url}/api/documents?plan={p.id}",
        "documents_page": f"{base_url}/tai-lieu?plan={p.id}",
        "source": {"collection": "plans", "id": p.id,
                   "href": f"{base_url}/ogc/collections/plans/items/{p.id}"},
        "zones": zones,
    }


class PlanDocuments(Protocol):
    """Where each plan's listed documents are kept between answers, as JSON text
    (``layers.editions``'s ``EditionCache`` is one): keys carry the edition."""

    def get(self, key: tuple) -> Any | None: ...

    def put(self, key: tuple, value: Any, size: int) -> None: ...


_DOCUMENTS = _psycopg(DOCUMENTS_SQL)


def _documents(conn: Reader, plan_ids: list[int], url_template: str, base_url: str,
               per_plan: int) -> dict[int, tuple[list[dict], int]]:
    """Each plan's first ``per_plan`` documents and how many it has."""
    out: dict[int, tuple[list[dict], int]] = {pid: ([], 0) for pid in plan_ids}
    if not plan_ids:
        return out
    with _cursor(conn) as cur:
        rows = cur.execute(_DOCUMENTS, {"plan_ids": plan_ids, "per_plan": per_plan},
                           prepare=True).fetchall()
    for d in rows:
        type_vi, type_en = DOCUMENT_TYPES.get(d.doc_type, (d.doc_type, d.doc_type))
        href = url_template.format(id=d.id)
        listed, _ = out[d.plan_id]
        listed.append({
            "id": d.id, "type": d.doc_type, "type_vi": type_vi, "type_en": type_en,
            "number": d.number, "issued_on": _iso(d.issued_on), "issuer": d.issuer,
            "title": d.title, "pages": d.page_count,
            "href": href if href.startswith("http") else base_url + href,
        })
        out[d.plan_id] = (listed, d.total)
    return out


def _zones_by_plan(zones: list[Any], base_url: str, zone_extra=None) -> dict[int, list[dict]]:
    by_plan: dict[int, list[dict]] = {}
    for z in sorted(zones, key=lambda z: (z.plan_id, z.label)):
        extra = zone_extra(z) if zone_extra else None
        by_plan.setdefault(z.plan_id, []).append(_zone_doc(z, base_url, extra))
    return by_plan


def _assemble(conn: Connection, zones: list[Any], plan_rows: list[Any], today: dt.date,
              url_template: str, base_url: str, per_plan: int, zone_extra=None,
              ) -> list[dict[str, Any]]:
    ranked = rank_plans(plan_rows, today)
    docs = _documents(conn, [p.id for p, _, _ in ranked], url_template, base_url, per_plan)
    by_plan = _zones_by_plan(zones, base_url, zone_extra)
    return [_plan_doc(p, st, role, docs[p.id], base_url, by_plan.get(p.id, []))
            for p, st, role in ranked]


def lookup_point(conn: Connection, easting: float, northing: float, *, today: dt.date,
                 url_template: str, base_url: str,
                 documents_per_plan: int = DOCUMENTS_PER_PLAN) -> list[dict[str, Any]]:
    """Every plan covering an EPSG:5897 point, governing first, each with its zones there and
    its first ``documents_per_plan`` documents (with their total and a link to all)."""
    rows = point_rows(conn, easting, northing)
    return _assemble(conn, rows.zones, rows.plans, today, url_template, base_url,
                     documents_per_plan)


#: Stands for a plan's documents in the serialised answer until their kept JSON is put there:
#: a private-use character, a nonce drawn per answer (so that no text held in the data, say a
#: zone's note, can pass for a slot) and the plan's place in the answer.
_SLOT_MARK = "\ue000"
_SLOT = re.compile(f'"{_SLOT_MARK}([0-9a-f]{{16}})[.]([0-9]+){_SLOT_MARK}"'.encode())


def point_answer_json(conn: Reader, rows: PointRows, *, today: dt.date, url_template: str,
                      base_url: str, dumps: Callable[[Any], bytes],
                      documents_per_plan: int = DOCUMENTS_PER_PLAN,
                      documents: PlanDocuments | None = None) -> tuple[bytes, int | None]:
    """:func:`lookup_point`'s plans serialised by ``dumps`` (UTF-8 JSON), and the governing
    plan's id.

    The same JSON as ``dumps(lookup_point(...))``, made for the API's cache misses: each plan's
    documents are serialised once per edition and kept in ``documents`` (a city point lies in
    up to 36 of 1,500 plans, so nearly every plan of a new point was listed for an earlier one;
    the documents were half of the look-up's statement and most of its JSON).
    """
    ranked = rank_plans(rows.plans, today)
    context = (rows.edition, documents_per_plan, url_template, base_url)
    keep = documents is not None and rows.edition is not None
    listed: dict[int, tuple[bytes, int]] = {}
    for p, _, _ in ranked:
        found = documents.get(("plan_documents", p.id, *context)) if keep else None
        if found is not None:
            listed[p.id] = found
    missing = [p.id for p, _, _ in ranked if p.id not in listed]
    for pid, (docs, total) in _documents(conn, missing, url_template, base_url,
                                         documents_per_plan).items():
        listed[pid] = (dumps(docs), total)
        if keep:
            documents.put(("plan_documents", pid, *context), listed[pid],
                          100 + len(listed[pid][0]))
    by_plan = _zones_by_plan(rows.zones, base_url)
    order = [p.id for p, _, _ in ranked]
    nonce = secrets.token_hex(8)
    plans = [_plan_doc(p, st, role, (f"{_SLOT_MARK}{nonce}.{i}{_SLOT_MARK}", listed[p.id][1]),
                       base_url, by_plan.get(p.id, []))
             for i, (p, st, role) in enumerate(ranked)]
    token = nonce.encode()

    def fill(m: re.Match) -> bytes:
        return listed[order[int(m.group(2))]][0] if m.group(1) == token else m.group(0)

    json_ = _SLOT.sub(fill, dumps(plans))
    governing = next((p["id"] for p in plans if p["governing"]), None)
    return json_, governing


def lookup_plot(conn: Connection, wkt: str, plot_area_m2: float, *, today: dt.date,
                url_template: str, base_url: str,
                documents_per_plan: int = DOCUMENTS_PER_PLAN) -> list[dict[str, Any]]:
    """Every plan a plot touches, with each zone's share of the plot in m² and %."""
    zones = conn.execute(PLOT_ZONES_SQL, {"wkt": wkt}).all()
    zones = [z for z in zones if z.share_m2 > 0.005]
    plans = conn.execute(
        PLOT_PLANS_SQL, {"wkt": wkt, "zone_plan_ids": sorted({z.plan_id for z in zones})}
    ).all()

    def share(z: Any) -> dict[str, Any]:
        return {"share_m2": round(z.share_m2, 2),
                "share_pct": round(100.0 * z.share_m2 / plot_area_m2, 2)}

    answer = _assemble(conn, zones, plans, today, url_template, base_url, documents_per_plan,
                       share)
    for plan in answer:
        covered = sum(z["share_m2"] for z in plan["zones"])
        plan["plot_covered_m2"] = round(covered, 2)
        plan["plot_covered_pct"] = round(100.0 * covered / plot_area_m2, 2)
    return answer
