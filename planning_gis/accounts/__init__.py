"""Accounts of the city's staff: argon2 passwords, lock-out, roles, organisations, audit log.

Citizens never sign in: everything public is read-only and anonymous. Staff are ``admin``
(every plan, the audit log, users) or ``planner`` (the plans of one organisation: a department
or a district/commune unit). The errors below subclass the project's domain errors, so the HTTP
layer and the CLI already know how to answer them.
"""

from __future__ import annotations

from planning_gis.errors import Forbidden, Unauthorized


class BadCredentials(Unauthorized):
    """Unknown e-mail or wrong password (one message for both: no account probing)."""

    code = "bad_credentials"


class AccountLocked(Forbidden):
    """Too many failed sign-ins in a row: the account waits before it accepts another try."""

    code = "account_locked"


class CsrfFailure(Forbidden):
    """A state-changing request without the session's CSRF token."""

    code = "csrf_failed"
