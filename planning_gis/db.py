"""Database access: one SQLAlchemy engine (a psycopg 3 pool) per process, a connection per request.

No Flask here: the request's connection (``get_conn``, ``init_app``) is in
``planning_gis/web/db.py``; scripts, services and tests call :func:`get_engine` or
:func:`session_scope` directly.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from planning_gis import replicas
from planning_gis.replicas import ReadRouter
from planning_gis.settings import Settings, get_settings

_engines: dict[str, Engine] = {}

#: Set on every connection at start-up (no round trip).
#: * ``jit=off``: PostgreSQL's JIT compiles a statement whose estimated cost passes
#:   ``jit_above_cost``: a city tile's statement carries its live fallback branch (never run
#:   while the coverage is current, but costed), and compiling it took 888 of a z12 tile's
#:   1,150 ms. The service's statements are short; none gains from JIT.
#: * ``random_page_cost=1.1`` (PostgreSQL's default, 4, prices a spinning disk): the serving
#:   tables are read from memory or SSD. At 4 the planner read a z12 tile's 222,000 coverage
#:   rows in sequence (detoasting each geometry for its box) rather than the 52,000 the GiST
#:   index finds: 179 against 52 ms.
SESSION_OPTIONS = "-c jit=off -c random_page_cost=1.1"
#: The hot connections run a few prepared statements, each written for its index and tested on
#: its generic plan (tests/layers/test_lookup.py): planning a city look-up's statement anew for
#: every point (PostgreSQL's "auto" mode never chose the generic plan for it) doubled its cost
#: (1.6 against 0.8 ms of server time).
HOT_SESSION_OPTIONS = " -c plan_cache_mode=force_generic_plan"


def get_engine(settings: Settings | None = None, url: str | None = None) -> Engine:
    """The shared engine for a database URL (created once per URL): the primary's by default,
    a replica's when ``url`` names one (see :func:`read_url`)."""
    settings = settings or get_settings()
    url = url or settings.database_url
    engine = _engines.get(url)
    if engine is None:
        # After a PostgreSQL restart every pooled connection is dead; unchecked, each one failed
        # the request that took it (a 503 per pooled connection, in every gunicorn worker and the
        # job worker). SQLAlchemy's pool_pre_ping would ping on every checkout: one more round
        # trip per request, which cost the look-up and rendered tiles 8-9 % of their throughput.
        # So a connection is checked at checkout without a round trip (see _ping_when_idle).
        # pool_recycle retires connections before idle timeouts bite. Reset on return stays
        # "rollback" (a no-op round trip on an autocommit read connection).
        engine = create_engine(
            url,
            connect_args={"options": SESSION_OPTIONS},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_recycle=1800,
            pool_reset_on_return="rollback",
            future=True,
        )
        _ping_when_idle(engine)
        _engines[url] = engine
    return engine


#: A pooled connection idle for longer than this is also pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 30.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a connection at checkout without a round trip; ping it when it was idle long.

    When PostgreSQL stops or restarts it ends every backend: each sends its client a FATAL
    message and closes the socket, so an idle pooled connection whose socket has something to
    read is dead (an idle healthy one has nothing to read). A ``select`` with no timeout tells,
    for the cost of a system call, where ``pool_pre_ping`` paid a round trip on every request.
    A connection idle for long is pinged as well (a peer gone without a word).
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None:
            return  # just connected
        try:
            if select.select([dbapi_conn.fileno()], [], [], 0)[0]:
                raise sa_exc.DisconnectionError("the server closed this pooled connection")
            if time.monotonic() - since >= PING_AFTER_IDLE_SECONDS:
                engine.dialect.do_ping(dbapi_conn)
        except sa_exc.DisconnectionError:
            raise
        except Exception as err:  # the pool then connects afresh (up to three times)
            raise sa_exc.DisconnectionError(f"stale pooled connection: {err}") from err


def read_router(settings: Settings) -> ReadRouter | None:
    """This process's replica router, or None when PLANNING_READ_DATABASE_URL is unset."""
    return replicas.router_for(settings.database_url, settings.read_database_urls,
                               float(settings.read_max_lag_seconds),
                               settings.read_check_ms / 1000)


def read_url(settings: Settings) -> str:
    """Where a public read goes now: a replica that answers and is current, or the primary.

    One request reads all its statements from the URL chosen once (see planning_gis/replicas.py
    for why edition-keyed caches need that).
    """
    router = read_router(settings)
    return router.read_url() if router is not None else settings.database_url


def dispose_engines() -> None:
    """Close every pool and every hot-path connection (tests drop their databases afterwards)."""
    replicas.close_routers()
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    with _hot_lock:
        for conn in _hot_all:
            conn.close()
        _hot_all.clear()


_hot = threading.local()
_hot_all: list[psycopg.Connection] = []
_hot_lock = threading.Lock()


def hot_read_connection(settings: Settings, url: str | None = None) -> psycopg.Connection:
    """This thread's own autocommit psycopg connection, for one-row reads on the hottest paths.

    Why not the engine: checking a connection out of SQLAlchemy's pool, switching it to
    autocommit and back, and running a text() statement cost 210 µs for a one-row read that
    takes 97 µs on a plain prepared psycopg statement; on a cached vector tile that difference is
    a fifth of the whole answer. Each thread of a server worker keeps one such connection (they
    are made after the fork); a connection that fails is closed by the caller with
    :func:`drop_hot_connection` and made again on next use.
    """
    if getattr(_hot, "pid", None) != os.getpid():
        _hot.pid, _hot.conns = os.getpid(), {}
    url = replicas.libpq_url(url or settings.database_url)
    conn = _hot.conns.get(url)
    if conn is None or conn.closed:
        conn = psycopg.connect(url, autocommit=True, prepare_threshold=0,
                               options=SESSION_OPTIONS + HOT_SESSION_OPTIONS)
        _hot.conns[url] = conn
        with _hot_lock:
            _hot_all.append(conn)
    return conn


def drop_hot_connection(settings: Settings, url: str | None = None) -> None:
    """Forget (and close) this thread's hot-path connection after an error on it."""
    conns = getattr(_hot, "conns", {})
    conn = conns.pop(replicas.libpq_url(url or settings.database_url), None)
    if conn is not None:
        conn.close()
        with _hot_lock:
            if conn in _hot_all:
                _hot_all.remove(conn)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back everything on any error."""
    factory = sessionmaker(bind=get_engine(settings), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def versions(conn: Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions, for the health check."""
    row = conn.execute(
        text("SELECT current_setting('server_version') AS pg, postgis_lib_version() AS postgis,"
             " postgis_geos_version() AS geos, postgis_proj_version() AS proj")
    ).one()
    return {"postgresql": row.pg, "postgis": row.postgis, "geos": row.geos, "proj": row.proj}
