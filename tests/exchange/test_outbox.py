"""E-mail through a real SMTP server (aiosmtpd): a message arrives once, and an SMTP outage
delays messages without losing any."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
from sqlalchemy import text

from planning_gis import db
from planning_gis.exchange import outbox, questions
from tests.exchange.conftest import start_smtp

pytestmark = pytest.mark.db


def _ask(settings, point, email: str) -> str:
    with db.session_scope(settings) as s:
        return questions.ask(s, settings, body="Hỏi về chỉ giới đường đỏ", email=email,
                             point=point).question.code


def _drain(settings, until, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not until() and time.monotonic() < end:
        outbox.send_due(settings)
        time.sleep(0.2)


def test_message_arrives_once(mail_settings, smtp, cau_giay):
    _port, inbox, _c = smtp
    email = f"a-{uuid.uuid4().hex[:6]}@example.vn"
    code = _ask(mail_settings, cau_giay[3:], email)
    _drain(mail_settings, lambda: inbox.to(email))
    outbox.send_due(mail_settings)  # a second pass sends nothing again
    msgs = inbox.to(email)
    assert len(msgs) == 1
    from email import message_from_bytes, policy

    msg = message_from_bytes(msgs[0], policy=policy.default)
    assert code in msg["Subject"] or code in msg.get_content()
    assert code in msg.get_content() and str(msg["Message-ID"]).strip().startswith("<"), msg["Message-ID"]
    with db.session_scope(mail_settings) as s:
        sent, queued = s.execute(text(
            "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),"
            " count(*) FILTER (WHERE sent_at IS NULL) FROM outbox WHERE to_addr = :a"),
            {"a": email}).one()
    assert (sent, queued) == (1, 0)


def test_smtp_outage_delays_but_loses_nothing(demo, smtp, cau_giay):
    port, inbox, controller = smtp
    settings = dataclasses.replace(demo, smtp_host="127.0.0.1", smtp_port=port,
                                   mail_retry_max_s=1)
    controller.stop()
    addresses = [f"o{i}-{uuid.uuid4().hex[:6]}@example.vn" for i in range(3)]
    for a in addresses:
        _ask(settings, cau_giay[3:], a)
    result = outbox.send_due(settings)
    assert result.sent == 0 and result.failed >= 3
    with db.session_scope(settings) as s:
        rows = s.execute(text("SELECT attempts, last_error FROM outbox WHERE to_addr = ANY(:a)"),
                         {"a": addresses}).all()
    assert len(rows) == 3 and all(r.attempts == 1 and r.last_error for r in rows)
    restarted = start_smtp(port, inbox)
    try:
        _drain(settings, lambda: all(inbox.to(a) for a in addresses))
    finally:
        restarted.stop()
    assert [len(inbox.to(a)) for a in addresses] == [1, 1, 1]


def test_no_smtp_host_keeps_messages_queued(demo, cau_giay):
    email = f"q-{uuid.uuid4().hex[:6]}@example.vn"
    _ask(demo, cau_giay[3:], email)
    assert outbox.send_due(dataclasses.replace(demo, smtp_host="")).sent == 0
    with db.session_scope(demo) as s:
        assert s.execute(text("SELECT count(*) FROM outbox WHERE to_addr = :a AND sent_at IS"
                              " NULL"), {"a": email}).scalar() == 1


def test_a_failed_event_queues_no_mail(demo, cau_giay):
    email = f"f-{uuid.uuid4().hex[:6]}@example.vn"
    with pytest.raises(Exception), db.session_scope(demo) as s:  # noqa: B017
        questions.ask(s, demo, body="Hỏi", email=email, point=cau_giay[3:])
        raise RuntimeError("the transaction fails after the question")
    with db.session_scope(demo) as s:
        assert s.execute(text("SELECT count(*) FROM outbox WHERE to_addr = :a"),
                         {"a": email}).scalar() == 0
