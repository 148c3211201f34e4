"""Plans' metadata and their documents, as the workspace's forms edit them.

PDFs go through one function, :func:`attach_pdf`, which hands them to the document library's
content-addressed store (``planning_gis.documents.store``): switching the store is one edit here.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, insert, select, true
from sqlalchemy.orm import Session

from planning_gis.accounts import audit
from planning_gis.accounts.users import ensure_organisation, require_plan_editor
from planning_gis.dates import parse_date
from planning_gis.errors import Forbidden, InvalidInput, NotFound
from planning_gis.models import (
    DOCUMENT_TYPES,
    PLAN_KINDS,
    PLAN_STATUSES,
    Organisation,
    Plan,
    PlanDocument,
    User,
    plan_documents,
)
from planning_gis.settings import Settings

__all__ = ["DOCUMENT_TYPES", "attach_pdf", "save_plan"]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    clean = " ".join(unicodedata.normalize("NFC", str(value)).split())
    return clean or None


def _date(value: Any, what: str) -> dt.date | None:
    return parse_date(_text(value), what)


def save_plan(session: Session, user: User, form: dict[str, Any], plan: Plan | None = None) -> Plan:
    """Create a plan (``plan`` None) or edit one, from form fields; all checks before writing."""
    name = _text(form.get("name"))
    if not name:
        raise InvalidInput("a plan needs a name", message_vi="Đồ án phải có tên.")
    kind = _text(form.get("kind")) or ""
    if kind not in PLAN_KINDS:
        raise InvalidInput(f"unknown kind of plan {kind!r}", message_vi="Loại quy hoạch không hợp lệ.")
    status = _text(form.get("status")) or "draft"
    if status not in PLAN_STATUSES:
        raise InvalidInput(f"unknown status {status!r}", message_vi="Trạng thái không hợp lệ.")
    scale = _text(form.get("scale_denominator"))
    try:
        scale_n = int(scale.replace(" ", "").replace(".", "").removeprefix("1:")) if scale else None
    except ValueError as exc:
        raise InvalidInput("the scale must be a whole number such as 2000",
                           message_vi="Tỷ lệ phải là số nguyên, ví dụ 2000.") from exc
    if scale_n is not None and scale_n <= 0:
        raise InvalidInput("the scale must be positive", message_vi="Tỷ lệ phải dương.")
    valid_from = _date(form.get("valid_from"), "valid_from")
    valid_to = _date(form.get("valid_to"), "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidInput("valid_to is before valid_from",
                           message_vi="Ngày hết hiệu lực trước ngày có hiệu lực.")
    if user.role == "admin":
        org_name = _text(form.get("organisation")) or (plan.organisation if plan else None)
    else:
        org = session.get(Organisation, user.organisation_id)
        org_name = org.name if org else None
    values = dict(
        name=name, kind=kind, status=status, scale_denominator=scale_n,
        decision_number=_text(form.get("decision_number")),
        decision_date=_date(form.get("decision_date"), "decision_date"),
        approving_body=_text(form.get("approving_body")), valid_from=valid_from,
        valid_to=valid_to, description=_text(form.get("description")),
    )
    if plan is None:
        plan = Plan(**values)
        session.add(plan)
        action = "plan.create"
    else:
        require_plan_editor(user, plan)
        for k, v in values.items():
            setattr(plan, k, v)
        action = "plan.update"
    if org_name:
        org = ensure_organisation(session, org_name)
        plan.organisation, plan.organisation_id = org.name, org.id
    session.flush()
    audit.record(session, user, action, "plan", plan.id, {"name": name, "kind": kind})
    return plan


def documents_of(session: Session, plan: Plan) -> list[PlanDocument]:
    return list(session.scalars(
        select(PlanDocument).join(plan_documents).where(plan_documents.c.plan_id == plan.id)
        .order_by(plan_documents.c.sort_order, PlanDocument.id)))


def _linkable_by(user: User | None):
    """SQL condition: documents ``user``'s organisation may link to its plans.

    Admins link any document. A planner links the library's documents that belong to no plan
    (city-wide decisions, regulations) and those already linked to a plan of their own
    organisation; a document only another organisation's plans hold is that organisation's
    record to link, not theirs.
    """
    if user is not None and user.role == "admin":
        return None
    org = user.organisation_id if user is not None else None
    # One correlated scalar per document (NULL when no plan holds it), answered from
    # ix_plan_documents_document_id for the few documents the newest-first scan visits. Written
    # as "no plan OR an own plan" with two EXISTS, PostgreSQL hashed all of plan_documents
    # first (it prices the subplans for every document, not for the LIMIT's few): 0.5 s on the
    # city-size bench database.
    own_or_none = (select(func.bool_or(Plan.organisation_id.is_not_distinct_from(org)))
                   .select_from(plan_documents.join(Plan, Plan.id == plan_documents.c.plan_id))
                   .where(plan_documents.c.document_id == PlanDocument.id)
                   .scalar_subquery())
    return func.coalesce(own_or_none, true())


def linkable_query(plan: Plan, user: User | None = None, limit: int = 200) -> Select:
    """The query of :func:`linkable_documents` (its test reads its plan with EXPLAIN): newest
    first by ``ix_documents_issued_on``, each document's plans by
    ``ix_plan_documents_document_id``."""
    linked = select(plan_documents.c.document_id).where(plan_documents.c.plan_id == plan.id)
    query = select(PlanDocument).where(PlanDocument.id.not_in(linked))
    allowed = _linkable_by(user)
    if allowed is not None:
        query = query.where(allowed)
    return query.order_by(PlanDocument.issued_on.desc().nulls_last()).limit(limit)


def linkable_documents(session: Session, plan: Plan, user: User | None = None,
                       limit: int = 200) -> list[PlanDocument]:
    """Documents ``user`` may link to ``plan`` that are not linked to it yet, newest first."""
    return list(session.scalars(linkable_query(plan, user, limit)))


def attach_pdf(session: Session, user: User, plan: Plan, path: Path, form: dict[str, Any],
               settings: Settings) -> PlanDocument:
    """Store a PDF in the document library and link it to ``plan`` (the one switch point)."""
    from planning_gis.documents.store import DocumentMetadata, DocumentStore

    require_plan_editor(user, plan)
    meta = DocumentMetadata(
        doc_type=_text(form.get("doc_type")) or "", title=_text(form.get("title")) or "",
        number=_text(form.get("number")), issued_on=_date(form.get("issued_on"), "issued_on"),
        issuer=_text(form.get("issuer")), file_name=_text(form.get("file_name")))
    doc = DocumentStore.from_settings(settings).add_document(session, path, meta, [plan.id],
                                                             ocr=False)
    audit.record(session, user, "document.attach", "plan", plan.id,
                 {"document": doc.id, "sha256": doc.file_sha256, "title": doc.title})
    return doc


def link_document(session: Session, user: User, plan: Plan, document_id: int) -> None:
    require_plan_editor(user, plan)
    doc = session.get(PlanDocument, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id}", message_vi="Không có văn bản này.")
    allowed = _linkable_by(user)
    if allowed is not None and not session.scalar(
            select(PlanDocument.id).where(PlanDocument.id == doc.id, allowed)):
        raise Forbidden(
            f"document {doc.id} belongs to another organisation's plans",
            message_vi="Văn bản này thuộc hồ sơ đồ án của đơn vị khác: bạn không thể liên kết.")
    exists = session.execute(select(plan_documents).where(
        plan_documents.c.plan_id == plan.id, plan_documents.c.document_id == doc.id)).first()
    if exists is None:
        session.execute(insert(plan_documents).values(plan_id=plan.id, document_id=doc.id))
    audit.record(session, user, "document.link", "plan", plan.id, {"document": doc.id})
