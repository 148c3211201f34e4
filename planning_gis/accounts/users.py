"""Users and organisations: creation, sign-in with lock-out, and the plan-editing rule."""

from __future__ import annotations

import datetime as dt
import unicodedata

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planning_gis.accounts import AccountLocked, BadCredentials
from planning_gis.accounts.passwords import hash_password, needs_rehash, verify_password
from planning_gis.errors import Conflict, Forbidden, InvalidInput
from planning_gis.models import USER_ROLES, Organisation, Plan, User
from planning_gis.settings import Settings, get_settings

# A fixed hash to verify against when the e-mail is unknown, so that a wrong e-mail takes as
# long as a wrong password (no account probing by timing).
_DUMMY_HASH: str | None = None


def normalise_email(email: str) -> str:
    value = unicodedata.normalize("NFC", (email or "").strip()).lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise InvalidInput(f"not an e-mail address: {email!r}",
                           message_vi=f"Địa chỉ thư điện tử không hợp lệ: {email!r}")
    return value


def ensure_organisation(session: Session, name: str) -> Organisation:
    """The organisation with this name (NFC, spaces collapsed), created when missing; plans
    that carry the same organisation name are linked to it."""
    clean = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not clean:
        raise InvalidInput("an organisation needs a name", message_vi="Tổ chức phải có tên.")
    org = session.scalars(select(Organisation).where(Organisation.name == clean)).one_or_none()
    if org is None:
        org = Organisation(name=clean)
        session.add(org)
        session.flush()
    session.execute(
        text("UPDATE plans SET organisation_id = :id WHERE organisation = :name"
             " AND organisation_id IS DISTINCT FROM :id"),
        {"id": org.id, "name": clean},
    )
    return org


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    organisation: str | None = None,
    full_name: str | None = None,
) -> User:
    """A new active user; planners must name their organisation (created when missing)."""
    email = normalise_email(email)
    if role not in USER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(USER_ROLES)}, not {role!r}",
                           message_vi="Vai trò phải là admin hoặc planner.")
    if role == "planner" and not organisation:
        raise InvalidInput("a planner belongs to an organisation: give --organisation",
                           message_vi="Cán bộ quy hoạch phải thuộc một tổ chức.")
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with e-mail {email} already exists",
                       message_vi=f"Đã có người dùng với thư điện tử {email}.")
    org = ensure_organisation(session, organisation) if organisation else None
    user = User(email=email, password_hash=hash_password(password), role=role,
                organisation_id=org.id if org else None, is_active=True, failed_logins=0,
                full_name=unicodedata.normalize("NFC", full_name.strip()) if full_name else None)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"the user {email} could not be created: {exc.orig}") from exc
    return user


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def authenticate(session: Session, email: str, password: str,
                 settings: Settings | None = None, now: dt.datetime | None = None) -> User:
    """The user whose e-mail and password match, or BadCredentials / AccountLocked.

    Each failure counts; ``login_max_failures`` failures in a row lock the account for
    ``login_lockout_minutes`` (a correct password during the lock is refused too). The caller
    commits, so the counter survives the refusal.
    """
    global _DUMMY_HASH
    settings = settings or get_settings()
    now = now or _now()
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    user = session.scalars(select(User).where(User.email == email).with_for_update()).one_or_none()
    if user is None or not user.is_active:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password("not-a-real-password")
        verify_password(_DUMMY_HASH, password or "")
        raise BadCredentials("wrong e-mail or password",
                             message_vi="Sai địa chỉ thư điện tử hoặc mật khẩu.")
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AccountLocked(
            f"too many failed sign-ins: the account is locked for {minutes} more minute(s)",
            message_vi=f"Đăng nhập sai quá nhiều lần: tài khoản bị khóa thêm {minutes} phút.",
        )
    if not verify_password(user.password_hash, password or ""):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        raise BadCredentials("wrong e-mail or password",
                             message_vi="Sai địa chỉ thư điện tử hoặc mật khẩu.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def can_edit_plan(user: User | None, plan: Plan) -> bool:
    """Admins edit every plan; a planner only the plans of their own organisation."""
    if user is None or not user.is_active:
        return False
    if user.role == "admin":
        return True
    return user.organisation_id is not None and plan.organisation_id == user.organisation_id


def require_plan_editor(user: User | None, plan: Plan) -> None:
    """Forbidden unless ``user`` may edit ``plan`` (see :func:`can_edit_plan`)."""
    if not can_edit_plan(user, plan):
        raise Forbidden(
            f"plan {plan.id} belongs to another organisation ({plan.organisation or 'none'})",
            message_vi=f"Đồ án {plan.id} thuộc đơn vị khác ({plan.organisation or 'không rõ'}):"
                       " bạn không có quyền sửa.",
        )
