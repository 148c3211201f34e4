"""The information request's inbox statement reads its index; the health check reports the
outbox from its partial index."""

import pytest
from sqlalchemy import text

from planning_gis.exchange import requests
from planning_gis.web.api import OUTBOX_SQL

pytestmark = pytest.mark.db


def test_request_inbox_reads_its_index(session, cau_giay):
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in session.execute(
        text("EXPLAIN " + requests.REQUEST_INBOX_SQL.text),
        {"org": cau_giay[0], "states": ["received"], "limit": 50}))
    # on the test's near-empty table either index on the unit will do; never a scan of all
    assert "Index Scan using ix_info_requests_" in plan and "Seq Scan" not in plan, plan


def test_outbox_health_reads_the_partial_index(session):
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in session.execute(text("EXPLAIN " + OUTBOX_SQL.text)))
    assert "ix_outbox_due" in plan, plan


def test_health_reports_the_outbox(client):
    doc = client.get("/api/health").get_json()
    assert set(doc["outbox"]) == {"queued", "oldest_due_s"}
