"""The request's database connection: the Flask half of ``planning_gis.db``.

The tutorial's pattern (``init_app`` registers the teardown): a blueprint asks for
:func:`get_conn`, the connection is opened on first use and returned to the pool when the app
context ends. Services never call this: they take a connection or a session as an argument.

Where it reads (PLANNING_READ_DATABASE_URL): a public request reads from a replica chosen once
per request (the same server the cached-tile fast path read the edition from, see
planning_gis/replicas.py); a request that carries the session cookie (a planner, signed in or
signing in) reads from the primary, so a planner sees their own edit at once; writes never go
through this connection (the workspace's ORM session is on the primary).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from layers.editions import EDITION_PSYCOPG
from planning_gis import db
from planning_gis.db import drop_hot_connection, get_engine, hot_read_connection
from planning_gis.settings import Settings

T = TypeVar("T")

#: WSGI environ key: the database URL this request reads from, once chosen.
READ_URL_KEY = "planning.read_url"


def pinned_to_primary(environ: dict, cookie_name: str) -> bool:
    """Whether a request must read from the primary: it carries our session cookie (a planner's
    browser), so what it wrote a moment ago must be visible to it."""
    return f"{cookie_name}=" in environ.get("HTTP_COOKIE", "")


def choose_read_url(environ: dict, settings, cookie_name: str) -> str:
    """The URL this request reads from: chosen once and kept in the environ."""
    url = environ.get(READ_URL_KEY)
    if url is None:
        url = (settings.database_url if pinned_to_primary(environ, cookie_name)
               else db.read_url(settings))
        environ[READ_URL_KEY] = url
    return url


def get_conn() -> Connection:
    """The request's read connection, opened on first use and returned to the pool at teardown.

    It runs in autocommit: requests only read through it (writes go through
    :func:`session_scope`), so there is no BEGIN/ROLLBACK round trip around each statement.
    Under READ COMMITTED every statement had its own snapshot anyway.

    A replica that refuses the connection is left out (until its check finds it well again) and
    the request reads from the primary instead.
    """
    if "db_conn" not in g:
        settings = current_app.config["SETTINGS"]
        url = settings.database_url
        if has_request_context():
            url = choose_read_url(request.environ, settings,
                                  current_app.config["SESSION_COOKIE_NAME"])
        try:
            conn = get_engine(settings, url).connect()
        except sa_exc.OperationalError as err:
            router = db.read_router(settings)
            if url == settings.database_url or router is None:
                raise
            router.mark_failed(url, str(err.orig or err).strip().split("\n")[0])
            url = settings.database_url
            if has_request_context():
                request.environ[READ_URL_KEY] = url
            conn = get_engine(settings, url).connect()
        g.db_conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return g.db_conn


class RecentEditions:
    """The layer editions one app read lately, by read URL and layer, for its public requests.

    Reading an edition (a round trip on the thread's hot connection) cost a third of a kept
    answer's CPU, client and server together (0.55 of 1.5 ms for a city look-up), so a public
    request reuses the one read less than ``PLANNING_EDITION_CHECK_MS`` ago. One per app
    (``app.extensions``), shared by its threads: a dict's get and set are atomic.
    """

    def __init__(self, check_ms: int) -> None:
        self.check_s = check_ms / 1000
        self._seen: dict[tuple[str, str], tuple[int | None, float]] = {}

    def fresh(self, url: str, layer: str) -> tuple[bool, int | None]:
        """(True, edition) when one was read less than the interval ago, else (False, None)."""
        seen = self._seen.get((url, layer))
        if seen is not None and time.monotonic() - seen[1] < self.check_s:
            return True, seen[0]
        return False, None

    def note(self, url: str, layer: str, edition: int | None) -> None:
        if self.check_s > 0:
            self._seen[(url, layer)] = (edition, time.monotonic())

    def forget(self, url: str) -> None:
        # list(): a copy of the keys taken at once, while other threads may be noting editions
        for key in [k for k in list(self._seen) if k[0] == url]:
            self._seen.pop(key, None)


def recent_editions(app: Flask) -> RecentEditions:
    """The app's :class:`RecentEditions` (made on first use)."""
    return app.extensions.setdefault(
        "recent_editions", RecentEditions(app.config["SETTINGS"].edition_check_ms))


def hot_edition(environ: dict, settings: Settings, cookie_name: str, layer: str,
                recent: RecentEditions | None = None) -> int | None:
    """A layer's edition on the server this request reads from, for the fast paths in front of
    Flask; None when it cannot be read (the fast path then steps aside and Flask answers, an
    unreachable database with its 503).

    With ``recent``, a public request reuses an edition read less than its interval ago; a
    planner's request (session cookie) reads it afresh every time, so their own edit is never
    hidden behind it, and what it reads is noted for the public requests after it.
    """
    url = choose_read_url(environ, settings, cookie_name)
    if recent is not None and not pinned_to_primary(environ, cookie_name):
        known, edition = recent.fresh(url, layer)
        if known:
            return edition
    try:
        row = hot_read_connection(settings, url).execute(EDITION_PSYCOPG, (layer,)).fetchone()
    except psycopg.Error as err:
        drop_hot_connection(settings, url)
        if recent is not None:
            recent.forget(url)
        router = db.read_router(settings)
        if router is not None and url != settings.database_url:
            router.mark_failed(url, str(err).strip().split("\n")[0])
            environ.pop(READ_URL_KEY, None)  # Flask chooses again
        return None
    edition = row[0] if row else None
    if recent is not None:
        recent.note(url, layer, edition)
    return edition


def read_on_hot_connection(work: Callable[[psycopg.Connection], T]) -> T:
    """``work`` run on this thread's hot connection to the server this request reads from, for
    the hottest read paths (the point look-up): :func:`on_hot_connection` for a Flask view."""
    return on_hot_connection(request.environ, current_app.config["SETTINGS"],
                             current_app.config["SESSION_COOKIE_NAME"], work)


def on_hot_connection(environ: dict, settings: Settings, cookie_name: str,
                      work: Callable[[psycopg.Connection], T]) -> T:
    """``work`` run on this thread's hot connection (``planning_gis.db.hot_read_connection``)
    to the server the request of ``environ`` reads from; also in front of Flask (the look-up's
    fast path), so that a new point's maker retries while the requests waiting for it wait.

    ``work`` only reads, so it may run twice: a connection that fails (a restarted server, a
    replica gone, or one the server cut while it sat idle) is dropped, a failed replica is left
    out, and ``work`` runs once more on a new connection to the primary. A second failure is
    raised: errors.py answers 503.
    """
    url = choose_read_url(environ, settings, cookie_name)
    try:
        return work(hot_read_connection(settings, url))
    except psycopg.OperationalError as err:
        drop_hot_connection(settings, url)
        router = db.read_router(settings)
        if router is not None and url != settings.database_url:
            router.mark_failed(url, str(err).strip().split("\n")[0])
            url = environ[READ_URL_KEY] = settings.database_url
    try:
        return work(hot_read_connection(settings, url))
    except psycopg.OperationalError:
        drop_hot_connection(settings, url)
        raise


def _close_conn(_exc: BaseException | None = None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_conn)
