"""Routing of questions, their inbox statement's index, and what a published answer hides."""

from __future__ import annotations

import datetime as dt

import pytest
from shapely.geometry import box
from sqlalchemy import text

from planning_gis.exchange import questions
from planning_gis.exchange.text import redact
from planning_gis.models import Organisation, Question

pytestmark = pytest.mark.db


def test_routed_to_the_governing_plans_unit(session, cau_giay):
    org, _lon, _lat, e, n = cau_giay
    route = questions.route_point(session.connection(), e, n, dt.date.today())
    assert (route.organisation_id, route.routed_by) == (org, "plan")


def test_routed_to_the_administrative_unit_where_no_plan_governs(session, demo):
    # a point of a current unit outside every plan, and an organisation answering for it
    unit_id, e, n = session.execute(text("""
        SELECT u.id, ST_X(p), ST_Y(p) FROM admin_units u,
          LATERAL (SELECT ST_PointOnSurface(ST_Difference(u.geom,
                   (SELECT ST_Union(geom) FROM plans WHERE geom IS NOT NULL))) AS p) x
        WHERE u.valid_to IS NULL AND u.level <> 'thanh_pho' AND NOT ST_IsEmpty(p)
        ORDER BY u.id LIMIT 1""")).one()
    org = Organisation(name="UBND phường thử nghiệm định tuyến", admin_unit_id=unit_id)
    session.add(org)
    session.flush()
    route = questions.route_point(session.connection(), e, n, dt.date.today())
    assert (route.organisation_id, route.admin_unit_id, route.routed_by) == (org.id, unit_id,
                                                                            "unit")


def test_no_unit_goes_to_the_admins(session):
    route = questions.route_point(session.connection(), 500000.0, 2200000.0, dt.date.today())
    assert route.organisation_id is None and route.routed_by == "none"


def test_inbox_reads_its_index(session, cau_giay):
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in session.execute(
        text("EXPLAIN " + questions.INBOX_SQL.text),
        {"org": cau_giay[0], "states": ["received"], "limit": 50}))
    assert "ix_questions_inbox" in plan, plan


def test_redact_removes_contacts_and_the_name():
    out = redact("Tôi là Lê Thị Mai, số 0912.345.678 hoặc +84 912 345 678, mai.le@gmail.com",
                 "Lê Thị Mai")
    assert "0912" not in out and "912 345" not in out and "gmail" not in out
    assert "Lê Thị Mai" not in out and "[số điện thoại đã ẩn]" in out


def test_question_needs_a_place_or_plan(session, demo):
    from planning_gis.errors import InvalidInput

    with pytest.raises(InvalidInput):
        questions.ask(session, demo, body="Hỏi", email="a@b.vn")
    assert session.execute(text("SELECT count(*) FROM questions WHERE body = 'Hỏi' AND"
                                " contact_email = 'a@b.vn'")).scalar() == 0


def test_retention_erases_contacts(session, demo, cau_giay):
    from planning_gis.exchange.retention import erase_contacts

    asked = questions.ask(session, demo, body="Cũ", name="Phạm Văn An", email="an@x.vn",
                          point=cau_giay[3:])
    session.execute(text("UPDATE questions SET created_at = now() - interval '30 months'"
                         " WHERE id = :id"), {"id": asked.question.id})
    session.execute(text("UPDATE outbox SET created_at = now() - interval '30 months'"
                         " WHERE to_addr = 'an@x.vn'"))
    erased = erase_contacts(session, 24)
    assert erased.questions >= 1 and erased.emails >= 1
    q = session.get(Question, asked.question.id)
    session.refresh(q)
    assert (q.asker_name, q.contact_email, q.contact_phone) == (None, None, None)
    assert q.contact_erased_at is not None
    assert session.execute(text("SELECT count(*) FROM outbox WHERE to_addr = 'an@x.vn'"
                                )).scalar() == 0


def test_erase_command(demo):
    import subprocess
    import sys

    from planning_gis.settings import PROJECT_ROOT

    out = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "exchange",
                          "erase-contacts", "--months", "24"], capture_output=True, text=True,
                         cwd=PROJECT_ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "contact data erased" in out.stdout
    bad = subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "exchange",
                          "erase-contacts", "--months", "0"], capture_output=True, text=True,
                         cwd=PROJECT_ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_question_on_a_plot_stores_it_as_a_multipolygon(session, demo, cau_giay):
    """A plot drawn as one polygon goes into the MultiPolygon column, the question at its point
    routed like a point's."""
    org, _lon, _lat, e, n = cau_giay
    q = questions.ask(session, demo, body="Thửa đất này có bị ảnh hưởng không?",
                      email="a@b.vn", plot=box(e - 10, n - 10, e + 10, n + 10)).question
    kind, area, srid = session.execute(text(
        "SELECT GeometryType(plot), ST_Area(plot), ST_SRID(plot) FROM questions WHERE id = :i"),
        {"i": q.id}).one()
    assert (kind, round(area), srid, q.organisation_id) == ("MULTIPOLYGON", 400, 5897, org)
