"""E-mail that is not lost: queued in the event's transaction, sent by the job worker.

A question's row and the e-mail telling the unit about it are written in one transaction, so
either both exist or neither does. The job worker (``import_maps.py jobs run``) calls
:func:`send_due` on every poll: it claims due messages with ``FOR UPDATE SKIP LOCKED`` (two
workers never send the same message), sends each through the configured SMTP server and marks it
sent in the same transaction as the claim. When the server is down the message stays queued and
is tried again after 5 s, 10 s, 20 s ... up to ``mail_retry_max_s``: an outage delays, it never
drops a message. Each message carries a ``Message-ID`` made from its row id, so that the rare
duplicate (the server accepted, then our commit failed) is recognisable by mail clients.

Addresses are personal data: log lines name the message id, never the address.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from planning_gis import db
from planning_gis.models import OutboxMessage
from planning_gis.settings import Settings

log = logging.getLogger(__name__)

FIRST_RETRY_S = 5
#: Messages one call sends at most (the worker comes back at once when there were more).
BATCH = 50


def queue(session: Session, to_addr: str | None, subject: str, body: str, kind: str) -> None:
    """Add a message to the outbox in the caller's transaction (nothing when no address)."""
    if not to_addr:
        return
    session.add(OutboxMessage(to_addr=to_addr, subject=subject[:300], body=body, kind=kind))


def _message(settings: Settings, row: OutboxMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain=domain)
    msg.set_content(row.body or "")
    return msg


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.smtp_timeout_s
    if settings.smtp_tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                              timeout=timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password)
    return smtp


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0


def send_due(settings: Settings, now: dt.datetime | None = None, batch: int = BATCH
             ) -> SendResult:
    """Send the messages that are due; one SMTP connection for the batch."""
    result = SendResult()
    if not settings.smtp_host:
        return result
    with db.session_scope(settings) as session:
        rows = list(session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.to_addr.is_not(None),
                   OutboxMessage.next_attempt_at <= (now or func.now()))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch).with_for_update(skip_locked=True)))
        if not rows:
            return result
        smtp = None
        try:
            smtp = _connect(settings)
        except (OSError, smtplib.SMTPException) as exc:
            _postpone(session, settings, rows, exc)
            result.failed = len(rows)
            return result
        try:
            for row in rows:
                try:
                    smtp.send_message(_message(settings, row))
                except (OSError, smtplib.SMTPException) as exc:
                    _postpone(session, settings, [row], exc)
                    result.failed += 1
                    if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                        rest = rows[rows.index(row) + 1:]
                        _postpone(session, settings, rest, exc)
                        result.failed += len(rest)
                        break
                    continue
                row.sent_at = dt.datetime.now(dt.UTC)
                row.attempts += 1
                row.last_error = None
                result.sent += 1
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return result


def _postpone(session: Session, settings: Settings, rows: list[OutboxMessage],
              exc: BaseException) -> None:
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        row.attempts += 1
        wait = min(settings.mail_retry_max_s, FIRST_RETRY_S * 2 ** min(row.attempts - 1, 16))
        row.next_attempt_at = now + dt.timedelta(seconds=wait)
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if rows:
        log.warning("SMTP unavailable for %d message(s) (ids %s...): %s; retrying", len(rows),
                    rows[0].id, type(exc).__name__)


def counts(session: Session) -> dict[str, int]:
    """Queued and sent messages (for /api/health and the bench)."""
    row = session.execute(text(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL) AS queued,"
        " count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent FROM outbox")).one()
    return {"queued": row.queued, "sent": row.sent}

