"""Users and organisations: creation, sign-in with lock-out, and the plan-editing rule."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planning_gis.accounts import BadCredentials
from planning_gis.accounts.passwords import hash_password, needs_rehash, verify_password
from planning_gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from planning_gis.models import USER_ROLES, Organisation, Plan, User
from planning_gis.settings import Settings, get_settings

#: What the dummy hash is of (see :func:`dummy_hash`).
_DUMMY_PASSWORD = "not-a-real-password"

#: The one answer to every refused sign-in (unknown e-mail, wrong password, locked or inactive
#: account): telling them apart would let anyone probe which addresses have accounts.
REFUSAL_EN = ("wrong e-mail or password, or the account is locked for a while after too many"
              " failed sign-ins")
REFUSAL_VI = ("Sai địa chỉ thư điện tử hoặc mật khẩu, hoặc tài khoản đang tạm khóa do đăng nhập"
              " sai quá nhiều lần.")


@functools.cache
def dummy_hash() -> str:
    """An argon2 hash of no one's password, made once per process (``init_app`` warms it)."""
    return hash_password(_DUMMY_PASSWORD)


def _refused() -> BadCredentials:
    return BadCredentials(REFUSAL_EN, message_vi=REFUSAL_VI)


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
    """The user whose e-mail and password match, or BadCredentials.

    Each failure counts; ``login_max_failures`` failures in a row lock the account for
    ``login_lockout_minutes`` (a correct password during the lock is refused too). Every refusal
    is the same BadCredentials after one argon2 verification, whether the e-mail is unknown, the
    password wrong or the account locked, so neither the answer nor its time tells them apart.
    The caller commits, so the counter survives the refusal.
    """
    settings = settings or get_settings()
    now = now or _now()
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    user = session.scalars(select(User).where(User.email == email).with_for_update()).one_or_none()
    if user is None or not user.is_active:
        verify_password(dummy_hash(), password or "")
        raise _refused()
    matches = verify_password(user.password_hash, password or "")
    if user.locked_until is not None and user.locked_until > now:
        raise _refused()
    if not matches:
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        raise _refused()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(session: Session, user: User, new_password: str) -> int:
    """Set a new password and end every session of the user (a stolen cookie dies with the old
    password); returns how many sessions were ended. The caller commits."""
    from planning_gis.accounts import sessions

    user.password_hash = hash_password(new_password)
    user.failed_logins = 0
    user.locked_until = None
    return sessions.end_all(session, user.id)


def find_user(session: Session, email: str) -> User:
    """The user with this e-mail, or NotFound."""
    address = normalise_email(email)
    user = session.scalars(select(User).where(User.email == address)).one_or_none()
    if user is None:
        raise NotFound(f"no user with e-mail {address}",
                       message_vi=f"Không có người dùng với thư điện tử {address}.")
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
