"""Loading the demo into the real database: counts, idempotence, readable Vietnamese PDFs."""

import os
import unicodedata

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text

from planning_gis import db
from planning_gis.demo import load_demo
from planning_gis.models import LandUseZone, Plan, PlanDocument

pytestmark = pytest.mark.db


def test_demo_is_loaded_and_a_second_load_adds_nothing(demo):
    with db.session_scope(demo) as s:
        plans = s.scalar(select(func.count()).select_from(Plan))
        zones = s.scalar(select(func.count()).select_from(LandUseZone))
    assert plans >= 5 and zones >= 50
    summary = load_demo(demo)
    assert summary.loaded is False
    with db.session_scope(demo) as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == plans
        assert s.scalar(select(func.count()).select_from(LandUseZone)) == zones


def test_superseded_master_plan_points_back(demo):
    with db.session_scope(demo) as s:
        new = s.scalars(select(Plan).where(Plan.supersedes_id.is_not(None))).one()
        old = s.get(Plan, new.supersedes_id)
        assert old.status == "superseded" and old.valid_to is not None


def test_zone_areas_agree_with_postgis(demo):
    with db.session_scope(demo) as s:
        worst = s.execute(text(
            "SELECT max(abs(area_m2 - ST_Area(geom))) FROM land_use_zones")).scalar()
    assert worst < 0.1


def test_documents_are_vietnamese_pdfs_stored_by_hash(demo):
    with db.session_scope(demo) as s:
        docs = s.scalars(select(PlanDocument)).all()
        assert len(docs) >= 6
        assert {d.doc_type for d in docs} >= {"quyet_dinh", "thuyet_minh", "quy_dinh"}
        text_doc = next(d for d in docs if d.doc_type == "quyet_dinh" and d.number == "6631/QĐ-UBND")
        path = demo.documents_dir / text_doc.file_sha256[:2] / f"{text_doc.file_sha256}.pdf"
    content = unicodedata.normalize("NFC", PdfReader(path).pages[0].extract_text())
    assert "Quyết định phê duyệt" in content
    assert "6631/QĐ-UBND" in content


def test_failed_load_leaves_no_rows_and_no_files(settings, tmp_path, monkeypatch):
    """A failure in the middle (here: a broken document renderer) rolls everything back."""
    from planning_gis import legend, migrate
    from planning_gis.demo import documents as demo_docs
    from planning_gis.settings import Settings
    from tests.conftest import create_database, drop_database

    name = f"planning_demo_fail_{os.getpid()}"  # checkouts test side by side
    url = create_database(name)
    try:
        s = Settings.from_env(database_url=url, data_dir=str(tmp_path))
        migrate.upgrade("head", s)
        with db.session_scope(s) as session:
            legend.load_legend(session)
        calls = {"n": 0}
        real = demo_docs.render_pdf

        def flaky(doc, settings_):
            calls["n"] += 1
            if calls["n"] == 4:
                raise OSError("disk full")
            return real(doc, settings_)

        monkeypatch.setattr("planning_gis.demo.render_pdf", flaky)
        with pytest.raises(OSError):
            load_demo(s, size="tiny")
        with db.session_scope(s) as session:
            assert session.scalar(select(func.count()).select_from(Plan)) == 0
            assert session.scalar(select(func.count()).select_from(LandUseZone)) == 0
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    finally:
        drop_database(name)
