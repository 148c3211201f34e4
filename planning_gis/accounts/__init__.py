"""Accounts of the city's staff: argon2 passwords, lock-out, roles, organisations, audit log.

Citizens never sign in: everything public is read-only and anonymous. Staff are ``admin``
(every plan, the audit log, users) or ``planner`` (the plans of one organisation: a department
or a district/commune unit). The errors below subclass the project's domain errors, so the HTTP
layer and the CLI already know how to answer them.
"""

from __future__ import annotations

from planning_gis.errors import Forbidden, Unauthorized


class BadCredentials(Unauthorized):
    """Unknown e-mail, wrong password or locked account (one answer for all: no probing)."""

    code = "bad_credentials"


class AccountLocked(Forbidden):
    """Too many failed sign-ins in a row: the account waits before it accepts another try.

    Sign-in does not raise it (a locked account is refused like a wrong password); it stays for
    callers that must say why, such as an admin's tools."""

    code = "account_locked"


class CsrfFailure(Forbidden):
    """A state-changing request without the session's CSRF token."""

    code = "csrf_failed"
