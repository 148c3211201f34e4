"""Erasing contact data after the retention period (``contact_retention_months``).

A citizen gives a name, an e-mail or a phone for one reply; keeping them for ever would turn
the service into a register of who asked about which plot. After N months (counted from when
the item was posted) the name and contact of questions, comments and requests are set to NULL
(``contact_erased_at`` says when), and the addresses and bodies of sent e-mails are erased.
The public record is unaffected: it counts rows, which stay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from planning_gis.accounts import audit


@dataclass(frozen=True)
class Erased:
    questions: int
    comments: int
    requests: int
    emails: int


def cutoff(months: int, now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    y, m = now.year, now.month - months
    while m <= 0:
        m += 12
        y -= 1
    day = min(now.day, 28)
    return now.replace(year=y, month=m, day=day)


def erase_contacts(session: Session, months: int, now: dt.datetime | None = None) -> Erased:
    """Erase what is older than ``months`` months; returns how many rows of each kind."""
    if months < 1:
        raise ValueError("months must be at least 1")
    before = cutoff(months, now)
    p = {"before": before}
    q = session.execute(text(
        "UPDATE questions SET asker_name = NULL, contact_email = NULL, contact_phone = NULL,"
        " contact_erased_at = now() WHERE created_at < :before AND contact_erased_at IS NULL"),
        p).rowcount
    c = session.execute(text(
        "UPDATE consultation_comments SET author_name = NULL, contact_email = NULL,"
        " contact_phone = NULL, contact_erased_at = now()"
        " WHERE created_at < :before AND contact_erased_at IS NULL"), p).rowcount
    r = session.execute(text(
        "UPDATE info_requests SET applicant_name = NULL, contact_email = NULL,"
        " contact_phone = NULL, contact_erased_at = now()"
        " WHERE received_at < :before AND contact_erased_at IS NULL"), p).rowcount
    e = session.execute(text(
        "UPDATE outbox SET to_addr = NULL, body = NULL"
        " WHERE created_at < :before AND to_addr IS NOT NULL"), p).rowcount
    audit.record(session, None, "exchange.erase_contacts", None, None,
                 {"before": before.isoformat(), "questions": q, "comments": c, "requests": r,
                  "emails": e})
    return Erased(q, c, r, e)
