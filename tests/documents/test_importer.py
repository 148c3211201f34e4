"""Bulk import: good rows imported, every bad row reported with its reason, nothing half-done,
and a second run resumes (skips what is already there)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from planning_gis import db
from planning_gis.documents.importer import import_documents, read_metadata
from planning_gis.errors import InvalidInput, MissingFile
from planning_gis.models import DocumentPage, PlanDocument
from tests.documents.conftest import stored_files

pytestmark = pytest.mark.db

HEADER = ["file", "doc_type", "number", "issued_on", "issuer", "title", "plan_ids"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _cleanup(settings, store, report) -> None:
    ids = [r.document_id for r in report.results if r.status == "imported"]
    with db.session_scope(settings) as s:
        shas = s.scalars(select(PlanDocument.file_sha256).where(PlanDocument.id.in_(ids))).all()
        s.execute(text("DELETE FROM documents WHERE id = ANY(:ids)"), {"ids": ids})
    for sha in shas:
        store.remove(sha)


@pytest.fixture
def folder(tmp_path, make_pdf, demo):
    """A folder with good PDFs and every kind of bad input, and its metadata CSV."""
    d = tmp_path / "kho"
    make_pdf("qd-1.pdf", folder=d)
    make_pdf("tm-2.pdf", folder=d / "thuyet-minh", number=None,
             scanned=(("Thuyết minh: hồ điều hòa và công viên cây xanh.",),))
    make_pdf("qd-3.pdf", folder=d, number="77/QĐ-UBND")
    make_pdf("qd-4.pdf", folder=d, number="78/QĐ-UBND")
    (d / "ban-sao.pdf").write_bytes((d / "qd-1.pdf").read_bytes())
    bad = make_pdf("hong.pdf", folder=d)
    bad.write_bytes(bad.read_bytes()[:400])
    make_pdf("mat-khau.pdf", folder=d, password="bi-mat")
    (d / "ghi-chu.pdf").write_text("Đây là văn bản Word đổi đuôi", encoding="utf-8")
    with db.session_scope(demo) as s:
        plan_id = s.scalar(text("SELECT min(id) FROM plans"))
    rows = [
        ["qd-1.pdf", "quyet_dinh", "1234/QĐ-UBND", "12/03/2020", "UBND Thành phố Hà Nội",
         "Quyết định phê duyệt (nhập hàng loạt)", str(plan_id)],
        ["thuyet-minh/tm-2.pdf", "Thuyết minh", "", "2020-03-12", "Viện Quy hoạch xây dựng Hà Nội",
         "Thuyết minh tổng hợp (nhập hàng loạt)", f"{plan_id};{plan_id}"],
        ["qd-3.pdf", "quyet_dinh", "77/QĐ-UBND", "", "", "Quyết định 77", ""],
        ["ban-sao.pdf", "quyet_dinh", "1234/QĐ-UBND", "", "", "Bản sao trùng", ""],
        ["hong.pdf", "quyet_dinh", "", "", "", "Tệp hỏng", ""],
        ["mat-khau.pdf", "quyet_dinh", "", "", "", "Tệp có mật khẩu", ""],
        ["ghi-chu.pdf", "quyet_dinh", "", "", "", "Không phải PDF", ""],
        ["khong-co.pdf", "quyet_dinh", "", "", "", "Tệp không tồn tại", ""],
        ["qd-3.pdf", "cong_van", "", "", "", "Loại sai", ""],
        ["qd-3.pdf", "quyet_dinh", "", "31/02/2020", "", "Ngày sai", ""],
        ["qd-4.pdf", "quyet_dinh", "", "", "", "Đồ án không có", "999999999"],
        ["../ngoai.pdf", "quyet_dinh", "", "", "", "Ngoài thư mục", ""],
    ]
    return d, write_csv(tmp_path / "metadata.csv", rows)


EXPECTED = {
    2: ("imported", "ok"), 3: ("imported", "ok"), 4: ("imported", "ok"),
    5: ("failed", "duplicate_document"), 6: ("failed", "invalid_pdf"),
    7: ("failed", "encrypted_pdf"), 8: ("failed", "invalid_pdf"), 9: ("failed", "missing_file"),
    10: ("failed", "invalid_input"), 11: ("failed", "invalid_input"),
    12: ("failed", "invalid_input"), 13: ("failed", "invalid_input"),
}


def test_import_reports_every_row_and_resumes(folder, demo, store, tmp_path):
    directory, csv_path = folder
    before = stored_files(store)
    report_path = tmp_path / "bao-cao.csv"
    report = import_documents(directory, csv_path, settings=demo, report_path=report_path,
                              progress=False, jobs=2)
    try:
        got = {r.row: (r.status, r.code) for r in report.results}
        assert got == EXPECTED
        by_row = {r.row: r for r in report.results}
        assert "row 2" in by_row[5].message  # the duplicate names the row it repeats
        assert "mật khẩu" in by_row[7].message_vi
        assert "không có trong thư mục" in by_row[9].message_vi
        assert by_row[3].ocr_pages == 1
        imported = [r.document_id for r in report.results if r.status == "imported"]
        with db.session_scope(demo) as s:
            docs = s.scalars(select(PlanDocument).where(PlanDocument.id.in_(imported))).all()
            assert sorted(d.file_name for d in docs) == ["qd-1.pdf", "qd-3.pdf", "tm-2.pdf"]
            tm = next(d for d in docs if d.file_name == "tm-2.pdf")
            assert tm.doc_type == "thuyet_minh" and len(tm.plans) == 1
            assert [p.source for p in s.scalars(select(DocumentPage).where(
                DocumentPage.document_id == tm.id).order_by(DocumentPage.page_no))] == [
                "text", "ocr"]
        new_files = stored_files(store) - before
        assert len(new_files) == 3 and all(p.suffix == ".pdf" for p in new_files)
        rows = list(csv.DictReader(report_path.open(encoding="utf-8")))
        assert [int(r["row"]) for r in rows] == sorted(EXPECTED)
        assert "1 imported" not in report.summary() and "3 imported" in report.summary()

        again = import_documents(directory, csv_path, settings=demo, progress=False, jobs=1,
                                 report_path=tmp_path / "lan-2.json")
        statuses = {r.row: r.status for r in again.results}
        assert [statuses[n] for n in (2, 3, 4)] == ["skipped"] * 3
        assert again.count("imported") == 0
        assert stored_files(store) - before == new_files
        doc = json.loads((tmp_path / "lan-2.json").read_text(encoding="utf-8"))
        assert "0 imported, 3 skipped" in doc["summary"] and len(doc["rows"]) == 12
    finally:
        _cleanup(demo, store, report)


def test_metadata_file_problems_stop_the_run_clearly(tmp_path):
    with pytest.raises(MissingFile):
        read_metadata(tmp_path / "khong-co.csv")
    with pytest.raises(InvalidInput, match="missing column"):
        read_metadata(write_csv(tmp_path / "a.csv", [["x.pdf"]], header=["file"]))
    with pytest.raises(InvalidInput, match="unknown column"):
        read_metadata(write_csv(tmp_path / "b.csv", [], header=HEADER + ["ghi_chu"]))
    with pytest.raises(InvalidInput, match="no rows"):
        read_metadata(write_csv(tmp_path / "c.csv", []))
    latin1 = tmp_path / "d.csv"
    latin1.write_bytes("file,doc_type,title\nx.pdf,quyet_dinh,Quy\xe9t\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        read_metadata(latin1)


def test_missing_folder_is_an_error(tmp_path, settings):
    csv_path = write_csv(tmp_path / "m.csv", [["a.pdf", "quyet_dinh", "", "", "", "A", ""]])
    with pytest.raises(MissingFile):
        import_documents(tmp_path / "khong-co", csv_path, settings=settings, progress=False)
