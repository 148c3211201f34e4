"""Plans and documents in the workspace: create, edit, attach a PDF, link a document.

These forms commit to the session's demo database, so each test removes what it made.
"""

import datetime as dt
import io

import pytest
from sqlalchemy import select, text

from planning_gis import db
from planning_gis.demo.documents import DemoDocument, render_pdf
from planning_gis.documents.store import DocumentStore
from planning_gis.models import Plan, PlanDocument
from tests.workspace.conftest import CAU_GIAY, HOAI_DUC, plan_of

pytestmark = pytest.mark.db

NAME = "Quy hoạch chi tiết kiểm thử biểu mẫu"


@pytest.fixture
def cleanup(demo):
    made: dict[str, list[int]] = {"plans": [], "documents": []}
    yield made
    store = DocumentStore.from_settings(demo)
    with db.session_scope(demo) as s:
        for doc_id in made["documents"]:
            doc = s.get(PlanDocument, doc_id)
            if doc is not None:
                sha = doc.file_sha256
                s.delete(doc)
                s.flush()
                store.remove(sha)
        s.execute(text("DELETE FROM plans WHERE name LIKE :n"), {"n": NAME + "%"})


def _create(client, **fields):
    data = {"csrf_token": client.csrf, "name": NAME, "kind": "chi_tiet", "status": "draft",
            "scale_denominator": "1:500", "decision_number": "", "decision_date": "",
            "approving_body": "UBND Thành phố Hà Nội", "valid_from": "", "valid_to": "",
            "description": "biểu mẫu"}
    data.update(fields)
    return client.post("/quan-tri/do-an/moi", data=data, headers={"Accept": "text/html"})


def test_planner_creates_and_edits_a_plan_of_their_organisation(planner_client, demo, cleanup):
    resp = _create(planner_client)
    assert resp.status_code == 303
    plan_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    cleanup["plans"].append(plan_id)
    page = planner_client.get(f"/quan-tri/do-an/{plan_id}").get_data(as_text=True)
    assert NAME in page
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/sua", data={
        "csrf_token": planner_client.csrf, "name": NAME + " (sửa)", "kind": "chi_tiet",
        "status": "approved", "scale_denominator": "500", "decision_number": "9999/QĐ-UBND",
        "decision_date": "15/03/2024", "valid_from": "2024-03-15", "valid_to": ""})
    assert resp.status_code == 303
    with db.session_scope(demo) as s:
        plan = s.get(Plan, plan_id)
        assert plan.organisation == CAU_GIAY
        assert plan.decision_number == "9999/QĐ-UBND"
        assert plan.decision_date == dt.date(2024, 3, 15) and plan.scale_denominator == 500
        audit = s.execute(text("SELECT action FROM audit_log WHERE object_type='plan' AND "
                               "object_id=:i ORDER BY id"), {"i": str(plan_id)}).scalars().all()
    assert audit == ["plan.create", "plan.update"]


@pytest.mark.parametrize("fields,expect", [
    ({"name": " "}, "Đồ án phải có tên"),
    ({"kind": "vung"}, "Loại quy hoạch không hợp lệ"),
    ({"scale_denominator": "hai nghìn"}, "Tỷ lệ phải là số nguyên"),
    ({"valid_from": "2024-05-01", "valid_to": "2023-01-01"}, "Ngày hết hiệu lực"),
    ({"decision_date": "31/02/2024"}, "phải là ngày"),
])
def test_bad_plan_forms_are_refused_in_vietnamese_and_write_nothing(
        planner_client, demo, cleanup, fields, expect):
    resp = _create(planner_client, **fields)
    assert resp.status_code == 400
    assert expect in resp.get_data(as_text=True)
    with db.session_scope(demo) as s:
        assert s.scalar(select(Plan.id).where(Plan.name.like(NAME + "%"))) is None


def test_attach_a_pdf_then_link_an_existing_document(planner_client, demo, cleanup):
    plan_id = plan_of(demo, CAU_GIAY)
    title = "Văn bản điều chỉnh kiểm thử biểu mẫu"
    pdf = render_pdf(DemoDocument("dieu_chinh", "77/QĐ-UBND", dt.date(2024, 1, 2),
                                  "UBND quận Cầu Giấy", title, [title, "Điều 1. Kiểm thử."], []),
                     demo)
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/van-ban", data={
        "csrf_token": planner_client.csrf, "doc_type": "dieu_chinh", "title": title,
        "number": "77/QĐ-UBND", "issued_on": "02/01/2024", "issuer": "UBND quận Cầu Giấy",
        "pdf": (io.BytesIO(pdf), "điều chỉnh.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with db.session_scope(demo) as s:
        doc = s.scalars(select(PlanDocument).where(PlanDocument.title == title)).one()
        cleanup["documents"].append(doc.id)
        assert doc.number == "77/QĐ-UBND" and plan_id in [p.id for p in doc.plans]
        assert "Kiểm thử" in doc.text
        # a library document on no plan (a city-wide text): any organisation may link it
        other = s.scalars(select(PlanDocument).where(~PlanDocument.plans.any(Plan.id == plan_id))
                          .order_by(PlanDocument.id)).first()
        held_by = [r[0] for r in s.execute(text(
            "DELETE FROM plan_documents WHERE document_id=:d RETURNING plan_id"), {"d": other.id})]
    assert DocumentStore.from_settings(demo).path_for(doc.file_sha256).exists()
    page = planner_client.get(f"/quan-tri/do-an/{plan_id}").get_data(as_text=True)
    assert title in page
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/lien-ket", data={
        "csrf_token": planner_client.csrf, "document_id": str(other.id)})
    assert resp.status_code == 303
    with db.session_scope(demo) as s:
        linked = s.execute(text("SELECT 1 FROM plan_documents WHERE plan_id=:p AND "
                                "document_id=:d"), {"p": plan_id, "d": other.id}).first()
        assert linked is not None
        s.execute(text("DELETE FROM plan_documents WHERE plan_id=:p AND document_id=:d"),
                  {"p": plan_id, "d": other.id})
        for p in held_by:
            s.execute(text("INSERT INTO plan_documents (plan_id, document_id) VALUES (:p, :d)"),
                      {"p": p, "d": other.id})


def test_attaching_a_file_that_is_not_a_pdf_leaves_nothing(planner_client, demo):
    plan_id = plan_of(demo, CAU_GIAY)
    with db.session_scope(demo) as s:
        before = s.scalar(text("SELECT count(*) FROM documents"))
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/van-ban", data={
        "csrf_token": planner_client.csrf, "doc_type": "quyet_dinh", "title": "Không phải PDF",
        "pdf": (io.BytesIO(b"GIF89a not a pdf"), "anh.pdf")}, content_type="multipart/form-data",
        headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["detail_vi"]
    with db.session_scope(demo) as s:
        assert s.scalar(text("SELECT count(*) FROM documents")) == before


def test_a_planner_cannot_edit_another_organisations_plan(planner_client, demo):
    other = plan_of(demo, HOAI_DUC)
    resp = planner_client.post(f"/quan-tri/do-an/{other}/sua", data={
        "csrf_token": planner_client.csrf, "name": "chiếm quyền", "kind": "chi_tiet"},
        headers={"Accept": "application/json"})
    assert resp.status_code == 403
    with db.session_scope(demo) as s:
        assert s.get(Plan, other).name != "chiếm quyền"


def test_only_documents_of_the_planners_organisation_can_be_linked(planner_client, demo):
    """A document held only by another organisation's plans is neither listed nor linkable."""
    plan_id = plan_of(demo, CAU_GIAY)
    with db.session_scope(demo) as s:
        org = s.get(Plan, plan_id).organisation_id
        foreign = s.scalars(select(PlanDocument).where(
            PlanDocument.plans.any(), ~PlanDocument.plans.any(Plan.organisation_id == org))
            .order_by(PlanDocument.id)).first()
        assert foreign is not None, "the demo should hold another organisation's document"
        foreign_id, foreign_title = foreign.id, foreign.title
    page = planner_client.get(f"/quan-tri/do-an/{plan_id}").get_data(as_text=True)
    assert f'value="{foreign_id}"' not in page
    resp = planner_client.post(f"/quan-tri/do-an/{plan_id}/lien-ket", data={
        "csrf_token": planner_client.csrf, "document_id": str(foreign_id)},
        headers={"Accept": "application/json"})
    assert resp.status_code == 403, foreign_title
    assert "đơn vị khác" in resp.get_json()["detail_vi"]
    with db.session_scope(demo) as s:
        assert s.execute(text("SELECT 1 FROM plan_documents WHERE plan_id=:p AND "
                              "document_id=:d"), {"p": plan_id, "d": foreign_id}).first() is None


def test_the_linkable_list_reads_its_indexes(demo):
    """The "link an existing document" list, limited to the planner's organisation, is read
    newest first from ``ix_documents_issued_on`` (no sort of the whole library) and each
    document's plans from ``ix_plan_documents_document_id`` (sequential scans priced out: the
    demo's tables are tiny)."""
    from sqlalchemy.dialects import postgresql

    from planning_gis.models import User
    from planning_gis.workspace.plans import linkable_query
    from tests.workspace.conftest import planner_email

    plan_id = plan_of(demo, CAU_GIAY)
    with db.session_scope(demo) as s:
        plan = s.get(Plan, plan_id)
        planner = s.scalars(select(User).where(User.email == planner_email(CAU_GIAY))).one()
        assert planner.role != "admin" and planner.organisation_id == plan.organisation_id
        sql = str(linkable_query(plan, planner).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        s.execute(text("SET LOCAL enable_seqscan = off"))
        s.execute(text("SET LOCAL enable_sort = off"))
        plan_text = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
    assert "ix_documents_issued_on" in plan_text, plan_text
    assert "ix_plan_documents_document_id" in plan_text, plan_text
    assert "Seq Scan" not in plan_text, plan_text
