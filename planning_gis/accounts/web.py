"""Sign-in for the workspace: session cookies, CSRF tokens, ``login_required``/``role_required``.

The session is Flask's signed cookie holding only the user id and the CSRF token; the user row
is read again on every request, so deactivating a user ends their sessions at once. Every
state-changing request to a staff blueprint must carry the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``), compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.orm import Session, sessionmaker

from planning_gis import db
from planning_gis.accounts import AccountLocked, BadCredentials, CsrfFailure, audit
from planning_gis.accounts.users import authenticate
from planning_gis.errors import Forbidden, Unauthorized
from planning_gis.models import User

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

bp = Blueprint("accounts", __name__, url_prefix="/quan-tri")


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies over HTTPS; ``session_cookie_secure`` = always/never overrides."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config["SETTINGS"].session_cookie_secure
        if mode == "always":
            return True
        if mode == "never":
            return False
        return request.is_secure


def get_session() -> Session:
    """The request's ORM session (committed by the view that changes something)."""
    if "orm_session" not in g:
        engine = db.get_engine(current_app.config["SETTINGS"])
        g.orm_session = sessionmaker(bind=engine, expire_on_commit=False)()
    return g.orm_session


def _close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("orm_session", None)
    if s is not None:
        s.rollback()
        s.close()


def current_user() -> User | None:
    """The signed-in, active user of this request, or None."""
    if "user" not in g:
        user = None
        uid = session.get("uid")
        if isinstance(uid, int):
            user = get_session().get(User, uid)
            if user is not None and not user.is_active:
                user = None
        g.user = user
    return g.user


def csrf_token() -> str:
    """The session's CSRF token (made on first use; templates put it in every form)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse a state-changing request whose token is missing or not the session's."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get("csrf")
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CsrfFailure(
            "the form has no valid CSRF token: reload the page and try again",
            message_vi="Biểu mẫu thiếu mã bảo mật (CSRF) hợp lệ: hãy tải lại trang rồi thử lại.",
        )


def login_required(view: F) -> F:
    """Staff only: anonymous pages are sent to sign in, anonymous API calls get a 401."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if request.path.startswith("/quan-tri/api/") or request.method not in SAFE_METHODS:
                raise Unauthorized("sign in first", message_vi="Hãy đăng nhập trước.")
            return redirect(url_for("accounts.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def role_required(*roles: str) -> Callable[[F], F]:
    """Signed in with one of ``roles``; otherwise 403."""

    def deco(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None or user.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}",
                                message_vi="Bạn không có quyền truy cập chức năng này.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def client_ip() -> str | None:
    return request.remote_addr


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("workspace.home")


@bp.route("/dang-nhap", methods=["GET", "POST"])
def login():
    """The sign-in form; failures are counted and committed before the refusal is shown."""
    error = None
    status = 200
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        s = get_session()
        try:
            user = authenticate(s, email, request.form.get("password", ""),
                                current_app.config["SETTINGS"])
        except (BadCredentials, AccountLocked) as exc:
            s.commit()  # keep the failure count and the lock
            error = exc.message_vi
            status = 403 if isinstance(exc, AccountLocked) else 401
        else:
            audit.record(s, user, "user.login", "user", user.id, ip=client_ip())
            s.commit()
            session.clear()
            session.permanent = True
            session["uid"] = user.id
            session["csrf"] = secrets.token_urlsafe(32)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("workspace/login.html", error=error, email=email), status


@bp.post("/dang-xuat")
def logout():
    user = current_user()
    if user is not None:
        s = get_session()
        audit.record(s, user, "user.logout", "user", user.id, ip=client_ip())
        s.commit()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.before_request
def _csrf() -> None:
    check_csrf()


@bp.after_request
def _no_store(resp):  # noqa: ANN001
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask) -> None:
    """Session cookie settings, the ORM session teardown, the template helpers, the views."""
    settings = app.config["SETTINGS"]
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="qh_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
    )
    app.teardown_appcontext(_close_session)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.register_blueprint(bp)
