"""Fixtures for the document library: real PDFs (reportlab + DejaVu), a plan with an outline."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box

from planning_gis.documents.samples import write_pdf
from planning_gis.documents.store import DocumentStore
from planning_gis.models import Plan

E0, N0 = 585000.0, 2326000.0


@pytest.fixture
def make_pdf(tmp_path: Path):
    """Write a unique Vietnamese PDF (a fresh token makes its sha256 new in the shared DB)."""

    def _make(name: str = "van-ban.pdf", *, title: str = "Quyết định phê duyệt quy hoạch",
              number: str | None = "1234/QĐ-UBND", paragraphs: tuple[str, ...] = (),
              scanned: tuple[tuple[str, ...], ...] = (), password: str | None = None,
              folder: Path | None = None) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        body = paragraphs or (
            "Căn cứ Luật Quy hoạch đô thị ngày 17 tháng 6 năm 2009;",
            "Điều 1. Phê duyệt quy hoạch phân khu đô thị quận Đống Đa, phường Láng Hạ.",
        )
        return write_pdf(path, title=title, number=number, issuer="UBND Thành phố Hà Nội",
                         date_text="Hà Nội, ngày 12 tháng 3 năm 2020",
                         paragraphs=(*body, f"Mã kiểm tra {token}"), scanned_pages=scanned,
                         password=password)

    return _make


@pytest.fixture
def store(settings) -> DocumentStore:
    return DocumentStore.from_settings(settings)


def stored_files(store: DocumentStore) -> set[Path]:
    """Every file in the store, temporary ones included (to prove nothing is left behind)."""
    if not store.root.exists():
        return set()
    return {p for p in store.root.rglob("*") if p.is_file()}


@pytest.fixture
def plan(session) -> Plan:
    """A plan with a 400 m square outline near Đống Đa, inside the rolled-back test transaction."""
    row = Plan(
        name="Quy hoạch phân khu thử nghiệm Láng Hạ (kiểm thử)", kind="phan_khu",
        decision_number="4321/QĐ-UBND", approving_body="UBND Thành phố Hà Nội",
        is_fictional=True,
        geom=from_shape(MultiPolygon([box(E0, N0, E0 + 400, N0 + 400)]), srid=5897),
    )
    session.add(row)
    session.flush()
    return row
