"""The document store: files by sha256 (never twice, never overwritten), rows all or nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

import pytest
from sqlalchemy import func, select, text

from planning_gis import db
from planning_gis.documents import DuplicateDocument, EncryptedPdf, InvalidPdf
from planning_gis.documents.store import DocumentMetadata
from planning_gis.errors import InvalidInput, MissingFile
from planning_gis.models import DocumentPage, PlanDocument
from tests.documents.conftest import stored_files

pytestmark = pytest.mark.db


def meta(**kw) -> DocumentMetadata:
    base = dict(doc_type="quyet_dinh", title="Quyết định phê duyệt quy hoạch phân khu Láng Hạ",
                number="1234/QĐ-UBND", issued_on=dt.date(2020, 3, 12),
                issuer="UBND Thành phố Hà Nội")
    base.update(kw)
    return DocumentMetadata(**base)


def test_put_stores_by_sha256_once_and_never_overwrites(store, make_pdf):
    path = make_pdf()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    got, size, created = store.put(path)
    target = store.root / sha[:2] / f"{sha}.pdf"
    assert (got, size, created) == (sha, path.stat().st_size, True)
    assert target.read_bytes() == path.read_bytes()
    inode = target.stat().st_ino
    again = store.put(path)
    assert again == (sha, size, False)
    assert target.stat().st_ino == inode
    assert not [p for p in target.parent.parent.rglob(".incoming-*")]
    store.remove(sha)


def test_put_of_a_missing_file_is_a_clear_error(store, tmp_path):
    with pytest.raises(MissingFile):
        store.put(tmp_path / "khong-co.pdf")


def test_add_document_writes_rows_pages_links_and_the_file(session, store, make_pdf, plan):
    path = make_pdf(scanned=(("Quy định quản lý kiến trúc khu Láng Hạ",),))
    title = unicodedata.normalize("NFD", "Quyết định   phê duyệt quy hoạch Láng Hạ ")
    doc = store.add_document(session, path, meta(title=title), [plan.id])
    session.flush()
    assert doc.title == "Quyết định phê duyệt quy hoạch Láng Hạ"  # NFC, spaces squeezed
    assert doc.page_count == 2 and doc.file_name == path.name
    assert [p.source for p in doc.pages] == ["text", "ocr"]
    assert "Láng Hạ" in doc.pages[1].text and "Láng Hạ" in doc.text
    assert [p.id for p in doc.plans] == [plan.id]
    assert store.path_for(doc.file_sha256).is_file()
    tsv = session.execute(text("SELECT search_tsv::text FROM documents WHERE id = :id"),
                          {"id": doc.id}).scalar()
    assert "'lang'" in tsv and "'ha'" in tsv and "'qd'" in tsv


def test_metadata_accepts_the_vietnamese_type_name(session, store, make_pdf):
    doc = store.add_document(session, make_pdf(), meta(doc_type="Thuyết minh", number=None))
    assert doc.doc_type == "thuyet_minh"


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"doc_type": "cong_van"}, "Loại văn bản không hợp lệ"),
        ({"title": "   "}, "trích yếu"),
        ({"number": "so 1234 QD"}, "không đúng dạng 1234/QĐ-UBND"),
        ({"issued_on": dt.date(1890, 1, 1)}, "Ngày ban hành"),
        ({"issued_on": dt.date.today() + dt.timedelta(days=30)}, "Ngày ban hành"),
    ],
)
def test_bad_metadata_writes_nothing(session, store, make_pdf, changes, words):
    before = stored_files(store)
    with pytest.raises(InvalidInput) as err:
        store.add_document(session, make_pdf(), meta(**changes))
    assert words in err.value.message_vi
    assert stored_files(store) == before


def test_unknown_plan_writes_nothing(session, store, make_pdf):
    before = stored_files(store)
    with pytest.raises(InvalidInput, match="unknown plan id"):
        store.add_document(session, make_pdf(), meta(), [2_000_000_000])
    assert stored_files(store) == before


@pytest.mark.parametrize("damage", ["truncate", "not_pdf", "encrypted"])
def test_bad_pdfs_leave_no_row_and_no_file(session, store, make_pdf, damage):
    path = make_pdf(password="x" if damage == "encrypted" else None)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "not_pdf":
        path.write_text("Đây không phải PDF", encoding="utf-8")
    count = session.scalar(select(func.count()).select_from(PlanDocument))
    before = stored_files(store)
    with pytest.raises(EncryptedPdf if damage == "encrypted" else InvalidPdf):
        store.add_document(session, path, meta())
    assert session.scalar(select(func.count()).select_from(PlanDocument)) == count
    assert stored_files(store) == before


def test_the_same_file_twice_is_a_duplicate(session, store, make_pdf, tmp_path):
    path = make_pdf()
    first = store.add_document(session, path, meta())
    copy = tmp_path / "ban-sao.pdf"
    copy.write_bytes(path.read_bytes())
    before = stored_files(store)
    with pytest.raises(DuplicateDocument) as err:
        store.add_document(session, copy, meta(title="Bản sao"))
    assert err.value.existing_id == first.id
    assert "đã có trong thư viện" in err.value.message_vi
    assert stored_files(store) == before


def test_rollback_removes_the_file_and_commit_keeps_it(settings, store, make_pdf):
    path = make_pdf()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(RuntimeError):
        with db.session_scope(settings) as s:
            store.add_document(s, path, meta())
            assert store.path_for(sha).is_file()
            raise RuntimeError("something later in the same transaction failed")
    assert not store.path_for(sha).exists()
    with db.session_scope(settings) as s:
        assert store.find_by_sha(s, sha) is None
        doc_id = store.add_document(s, path, meta()).id
    assert store.path_for(sha).is_file()
    with db.session_scope(settings) as s:  # clean up the committed row (the store keeps files)
        s.execute(text("DELETE FROM documents WHERE id = :id"), {"id": doc_id})
    store.remove(sha)


def test_a_rolled_back_savepoint_removes_only_its_own_file(session, store, make_pdf):
    kept = store.add_document(session, make_pdf("a.pdf"), meta())
    path_b = make_pdf("b.pdf")
    nested = session.begin_nested()
    dropped = store.add_document(session, path_b, meta(title="Bị hủy"))
    sha_b = dropped.file_sha256
    nested.rollback()
    assert not store.path_for(sha_b).exists()
    assert store.path_for(kept.file_sha256).is_file()


def test_demo_documents_went_through_the_store(demo):
    with db.session_scope(demo) as s:
        docs = s.scalars(select(PlanDocument).where(PlanDocument.is_fictional)).all()
        assert len(docs) >= 6
        sources = {p.source for d in docs for p in d.pages}
        assert sources >= {"text", "ocr"}
        assert all(d.page_count == len(d.pages) and d.text for d in docs)
        pages = s.scalar(select(func.count()).select_from(DocumentPage))
    assert pages >= len(docs)
