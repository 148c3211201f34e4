"""Demo accounts: one admin and one planner per demo organisation.

DEMO ONLY. The passwords are fixed and published in the README so that a reviewer can sign in
to a fresh demo; a real deployment creates its users with ``import_maps.py users create`` and
never loads the demo.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from planning_gis.accounts.users import create_user, ensure_organisation
from planning_gis.models import Plan, User

DEMO_DOMAIN = "quyhoach.demo"
DEMO_ADMIN = ("admin@quyhoach.demo", "demo-quantri-2025")
DEMO_PLANNER_PASSWORD = "demo-quyhoach-2025"


def slug(name: str) -> str:
    """"UBND quận Cầu Giấy" -> "ubnd-quan-cau-giay" (ASCII, for e-mail addresses)."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_ = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_).split())


def planner_email(organisation: str) -> str:
    return f"{slug(organisation)}@{DEMO_DOMAIN}"


def load_accounts(session: Session) -> list[str]:
    """Create the demo admin and planners that are missing; returns the e-mails created."""
    created = []
    existing = set(session.scalars(select(User.email)))
    if DEMO_ADMIN[0] not in existing:
        create_user(session, DEMO_ADMIN[0], DEMO_ADMIN[1], "admin", full_name="Quản trị (minh họa)")
        created.append(DEMO_ADMIN[0])
    names = sorted(set(session.scalars(
        select(Plan.organisation).where(Plan.is_fictional, Plan.organisation.is_not(None)))))
    for name in names:
        ensure_organisation(session, name)
        email = planner_email(name)
        if email not in existing:
            create_user(session, email, DEMO_PLANNER_PASSWORD, "planner", organisation=name,
                        full_name=f"Cán bộ quy hoạch – {name} (minh họa)")
            created.append(email)
    link_units(session)
    return created


def link_units(session: Session) -> int:
    """Each "UBND <unit>" organisation answers for the current administrative unit of that name
    (questions where no plan governs are routed to it); returns how many were linked."""
    from sqlalchemy import text

    return session.execute(text("""
        UPDATE organisations o SET admin_unit_id = u.id
        FROM admin_units u
        WHERE o.admin_unit_id IS NULL AND o.name ILIKE 'UBND %'
          AND lower(u.name) LIKE lower(substr(o.name, 6)) || '%'
          AND (u.valid_to IS NULL OR u.valid_to >= CURRENT_DATE)""")).rowcount
