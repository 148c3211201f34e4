"""Sign-in for the workspace: session cookies, CSRF tokens, ``login_required``/``role_required``.

The session is Flask's signed cookie holding a random session token and the CSRF token; the
token names a server-side record (``accounts/sessions.py``), read with the user row on every
request, so sign-out, a password change, "sign out everywhere" and deactivating a user end the
session at once, for every copy of the cookie. Every
state-changing request to a staff blueprint must carry the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``), compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from planning_gis import db
from planning_gis.accounts import BadCredentials, CsrfFailure, audit, sessions
from planning_gis.accounts.users import authenticate, dummy_hash
from planning_gis.errors import Forbidden, NotFound, Unauthorized
from planning_gis.models import User, UserSession
from planning_gis.web import params
from planning_gis.web.limits import SIGNED_IN

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

    def open_session(self, app: Flask, req: Request) -> SecureCookieSession | None:
        """An empty session, without building the cookie signer, for a request that carries no
        session cookie (every public request: the signer cost about 0.1 ms of each look-up);
        one that carries a cookie is read and checked as Flask does."""
        if app.secret_key and self.get_cookie_name(app) not in req.cookies:
            return self.session_class()
        return super().open_session(app, req)


def get_session() -> Session:
    """The request's ORM session (committed by the view that changes something)."""
    if "orm_session" not in g:
        engine = db.get_engine(current_app.config["SETTINGS"])
        g.orm_session = sessionmaker(bind=engine, expire_on_commit=False)()
    return g.orm_session


def _close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("orm_session", None)
    if s is not None:
        try:
            s.rollback()
        except sa_exc.DBAPIError:
            # The server went away under the request (a restart): the connection is already
            # invalidated and nothing is left open. Raising here would escape Flask's error
            # handlers and turn the view's answer (a 503 with Retry-After) into a bare 500.
            pass
        finally:
            s.close()


def current_user() -> User | None:
    """The active user of this request's live server-side session, or None."""
    if "user" not in g:
        g.user = sessions.user_of(get_session(), session.get("sid"))
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


def _looks_local(path: str) -> bool:
    """One leading "/", then no second "/" or "\\" and no scheme or host when parsed."""
    if not path.startswith("/") or path.startswith(("//", "/\\")) or "\\" in path:
        return False
    parts = urllib.parse.urlsplit(path)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site, else the workspace home.

    Browsers drop tabs and newlines inside a URL and read "\\" as "/", so ``/<TAB>/evil`` and
    ``/\\evil`` lead off-site; the target is refused when it, with control characters and
    spaces stripped, or its percent-decoded form is not a plain local path.
    """
    if not target:
        return url_for("workspace.home")
    stripped = "".join(ch for ch in target if ch.isprintable() and not ch.isspace())
    decoded = "".join(ch for ch in urllib.parse.unquote(stripped)
                      if ch.isprintable() and not ch.isspace())
    if stripped != target or not _looks_local(stripped) or not _looks_local(decoded):
        return url_for("workspace.home")
    return target


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
        except BadCredentials as exc:
            s.commit()  # keep the failure count and the lock
            error = exc.message_vi
            status = 401
        else:
            audit.record(s, user, "user.login", "user", user.id, ip=client_ip())
            old = session.get("sid")
            if old:
                sessions.end(s, old)
            token = sessions.start(s, user, current_app.permanent_session_lifetime)
            s.commit()
            session.clear()
            session.permanent = True
            session["sid"] = token
            session["csrf"] = secrets.token_urlsafe(32)
            return redirect(safe_next(request.args.get("next")))
    return render_template("workspace/login.html", error=error, email=email), status


@bp.post("/dang-xuat")
def logout():
    """End this session on the server (a copy of the cookie is refused from now on)."""
    user = current_user()
    s = get_session()
    sessions.end(s, session.get("sid"))
    if user is not None:
        audit.record(s, user, "user.logout", "user", user.id, ip=client_ip())
    s.commit()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.get("/nguoi-dung")
@role_required("admin")
def users_page():
    """Admins: every account, its live sessions, and "sign out everywhere"."""
    s = get_session()
    now = dt.datetime.now(dt.UTC)
    live = (select(UserSession.user_id, func.count().label("n"))
            .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now)
            .group_by(UserSession.user_id).subquery())
    rows = s.execute(select(User, func.coalesce(live.c.n, 0))
                     .outerjoin(live, live.c.user_id == User.id).order_by(User.email)).all()
    return render_template("workspace/users.html", rows=rows)


@bp.post("/nguoi-dung/<user_id>/dang-xuat-moi-noi")
@role_required("admin")
def sign_out_everywhere(user_id: str):
    """Admins: end every session of a user (a lost phone, a leaked cookie)."""
    s = get_session()
    target = s.get(User, params.id_arg(user_id, "user"))
    if target is None:
        raise NotFound(f"no user {user_id!r}", message_vi=f"Không có người dùng {user_id!r}.")
    ended = sessions.end_all(s, target.id)
    audit.record(s, current_user(), "user.signout_all", "user", target.id,
                 {"email": target.email, "sessions": ended}, ip=client_ip())
    s.commit()
    flash(f"Đã đăng xuất {target.email} khỏi {ended} phiên.")
    return redirect(url_for("accounts.users_page"), code=303)


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def staff_blueprint(bp: Blueprint) -> Blueprint:
    """What every blueprint under ``/quan-tri`` does: the session's CSRF token checked before a
    state-changing request, and no answer kept by a cache (it shows one user's data)."""
    bp.before_request(check_csrf)
    bp.after_request(_no_store)
    return bp


staff_blueprint(bp)


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
    dummy_hash()  # made now, not during the first sign-in with an unknown e-mail
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    # The request limits give the big upload limit only to a signed-in planner's uploads.
    app.extensions[SIGNED_IN] = lambda: current_user() is not None
    app.register_blueprint(bp)
