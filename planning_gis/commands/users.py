"""``import_maps.py users``: create staff accounts (admins, planners of an organisation), change a
password, end a user's sessions everywhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import select

from planning_gis.accounts import audit, sessions
from planning_gis.accounts.users import change_password, create_user, find_user
from planning_gis.db import session_scope
from planning_gis.errors import InvalidInput, MissingFile
from planning_gis.models import Organisation, User


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        p = Path(args.password_file)
        if not p.is_file():
            raise MissingFile(f"password file not found: {p}")
        text = p.read_text(encoding="utf-8")
    else:
        text = sys.stdin.readline()
    password = text.rstrip("\r\n")
    if not password:
        raise InvalidInput("no password given: pipe it on stdin or use --password-file")
    return password


def _create(args: argparse.Namespace) -> int:
    password = _password(args)
    with session_scope() as session:
        user = create_user(session, args.email, password, args.role, args.organisation,
                           args.name)
        audit.record(session, None, "user.create", "user", user.id,
                     {"email": user.email, "role": user.role, "by": "command line"})
        org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    print(f"created {user.role} {user.email}" + (f" of {org.name}" if org else ""))
    return 0


def _list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        rows = session.execute(select(User.email, User.role, Organisation.name, User.is_active)
                               .outerjoin(Organisation, Organisation.id == User.organisation_id)
                               .order_by(User.email)).all()
    for email, role, org, active in rows:
        print(f"{email}\t{role}\t{org or ''}\t{'active' if active else 'inactive'}")
    return 0


def _password_change(args: argparse.Namespace) -> int:
    """A new password read like ``create``'s; every session of the user ends with the old one."""
    password = _password(args)
    with session_scope() as session:
        user = find_user(session, args.email)
        ended = change_password(session, user, password)
        audit.record(session, None, "user.password", "user", user.id,
                     {"email": user.email, "sessions_ended": ended, "by": "command line"})
    print(f"changed the password of {user.email}; ended {ended} session(s)")
    return 0


def _signout_all(args: argparse.Namespace) -> int:
    """End every session of a user (a lost phone, a leaked cookie)."""
    with session_scope() as session:
        user = find_user(session, args.email)
        ended = sessions.end_all(session, user.id)
        audit.record(session, None, "user.signout_all", "user", user.id,
                     {"email": user.email, "sessions": ended, "by": "command line"})
    print(f"ended {ended} session(s) of {user.email}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="staff accounts of the planner's workspace")
    usub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    c = usub.add_parser("create", help="create a user; the password is read from stdin")
    c.add_argument("--email", required=True)
    c.add_argument("--role", required=True, choices=("admin", "planner"))
    c.add_argument("--organisation", help="the planner's department or district/commune unit")
    c.add_argument("--name", help="full name")
    c.add_argument("--password-file", help="read the password from this file instead of stdin")
    c.set_defaults(func=_create)
    ls = usub.add_parser("list", help="list users")
    ls.set_defaults(func=_list)
    pw = usub.add_parser("password", help="set a new password (read from stdin); ends every "
                                          "session of the user")
    pw.add_argument("--email", required=True)
    pw.add_argument("--password-file", help="read the password from this file instead of stdin")
    pw.set_defaults(func=_password_change)
    so = usub.add_parser("signout-all", help="end every session of a user")
    so.add_argument("email")
    so.set_defaults(func=_signout_all)
