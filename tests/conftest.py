"""Shared fixtures: a real PostGIS database per test session, isolated tests, a real server.

Each pytest process makes its own database (``planning_test_<pid>``) from the migrations, so two
checkouts can test side by side on one PostgreSQL; every test that writes runs inside a
transaction that is rolled back. The tiny demo city is loaded once and committed, for the tests
that read through the HTTP server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from planning_gis import db as planning_db
from planning_gis import migrate
from planning_gis.settings import PROJECT_ROOT, Settings, reset_settings

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


# The service database's URL, read before the session fixture points the environment elsewhere:
# its role creates and drops the test databases.
_ADMIN_URL = os.environ.get("PLANNING_DATABASE_URL", Settings().database_url)


def _admin_url() -> str:
    return _ADMIN_URL


def create_database(name: str) -> str:
    """Create an empty database owned by the service role and return its URL."""
    admin = make_url(_admin_url())
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    planning_db.dispose_engines()
    engine = create_engine(make_url(_admin_url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a fresh, migrated test database and a temporary data folder."""
    name = f"planning_test_{os.getpid()}"
    url = create_database(name)
    data_dir = tmp_path_factory.mktemp("data")
    # A random session key per test run (there is no default key; create_app refuses without).
    key = secrets.token_urlsafe(48)
    s = Settings.from_env(database_url=url, data_dir=str(data_dir), demo_size="tiny",
                          secret_key=key)
    os.environ["PLANNING_SECRET_KEY"] = key
    os.environ["PLANNING_DATABASE_URL"] = url
    os.environ["PLANNING_DATA_DIR"] = str(data_dir)
    os.environ["PLANNING_DEMO_SIZE"] = "tiny"
    reset_settings()
    migrate.upgrade("head", s)
    from planning_gis import legend

    with planning_db.session_scope(s) as session:
        legend.load_legend(session)
    yield s
    drop_database(name)


@pytest.fixture(scope="session")
def engine(settings: Settings):
    return planning_db.get_engine(settings)


@pytest.fixture
def conn(engine) -> Iterator:
    """A connection inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    trans = connection.begin()
    try:
        yield connection
    finally:
        trans.rollback()
        connection.close()


@pytest.fixture
def session(conn) -> Iterator[Session]:
    """An ORM session whose commits become savepoints of the rolled-back test transaction."""
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def demo(settings: Settings) -> Settings:
    """The tiny demo city, generated and committed once for the session."""
    from planning_gis.demo import load_demo

    load_demo(settings)
    return settings


@contextlib.contextmanager
def scratch_plan(settings: Settings, name: str, status: str = "draft") -> Iterator[int]:
    """A committed plan of its own (a detailed plan without outline or zones) for the ``with``
    block, then deleted with what the test put in it: for imports that commit."""
    with planning_db.session_scope(settings) as s:
        plan_id = s.execute(text(
            "INSERT INTO plans (name, kind, status, is_fictional) VALUES "
            "(:name, 'chi_tiet', :status, false) RETURNING id"),
            {"name": name, "status": status}).scalar()
    try:
        yield plan_id
    finally:
        with planning_db.session_scope(settings) as s:
            s.execute(text("DELETE FROM plans WHERE id = :id"), {"id": plan_id})


@pytest.fixture(scope="session")
def city(demo: Settings):
    """The serving tests' synthetic city, loaded after the demo (tests/serving_data.py)."""
    from tests.serving_data import load_sample_city

    return load_sample_city(demo)


@pytest.fixture
def city_client(demo: Settings, city):
    from server import create_app

    application = create_app(demo)
    application.config["TESTING"] = True
    return application.test_client()


@pytest.fixture
def app(demo: Settings):
    from server import create_app

    application = create_app(demo)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(demo: Settings) -> Iterator[str]:
    """The real WSGI server (gunicorn) on a free loopback port, serving the test database, with
    the job worker (``import_maps.py jobs run``) beside it, as ``run.sh demo`` starts them."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        PLANNING_DATABASE_URL=demo.database_url,
        PLANNING_DATA_DIR=demo.data_dir,
        PLANNING_SECRET_KEY=demo.secret_key,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config", "--workers", "2",
         "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "server:create_app()"],
        cwd=PROJECT_ROOT, env=env,
    )
    worker = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "import_maps.py"), "jobs", "run", "--poll", "0.5"],
        cwd=PROJECT_ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up") from None
            time.sleep(0.2)
    else:
        proc.kill()
        worker.kill()
        raise RuntimeError("gunicorn did not start")
    yield base
    proc.terminate()
    worker.terminate()
    proc.wait(timeout=10)
    worker.wait(timeout=30)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    for candidate in (os.environ.get("PLANNING_CHROMIUM", ""), "/usr/lib/chromium/chromium",
                      "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Debian's chromium is not installed (./run.sh installs it)")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (Playwright's own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def open_watched_page(browser, **context_options):
    """A page in a new context that records console errors and blocks, and records, every request
    that would leave 127.0.0.1 (pages must work offline)."""
    context = browser.new_context(locale="vi-VN", **context_options)
    pg = context.new_page()
    pg.console_errors = []
    pg.foreign_requests = []
    pg.csp_violations = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    # Chromium reports a blocked script, style or image on the console: every page must work
    # under our Content-Security-Policy (see planning_gis/web/security_headers.py).
    pg.on("console", lambda m: pg.csp_violations.append(m.text)
          if "Content Security Policy" in m.text else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))

    def _route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            return route.continue_()
        pg.foreign_requests.append(url)
        return route.abort()

    pg.route("**/*", _route)
    return pg


#: axe-core, installed from npm by ``frontend/`` (``frontend/build.sh`` copies it beside Leaflet).
AXE_PATH = "/static/vendor/axe-core/axe.min.js"
#: The issue's bar: no violation of these impacts on any page (moderate and minor are reported).
AXE_BLOCKING = ("critical", "serious")


def axe_violations(pg, context: str | None = None, *, name: str = "page",
                   blocking: tuple[str, ...] = AXE_BLOCKING) -> list[str]:
    """Run axe-core in the page as it is now and return its blocking violations, one line each
    (rule, impact, the first nodes' selectors), so that an assertion names what to fix.

    axe is loaded as a script from our own server (CSP allows 'self', never inline code), only
    into the page under test. ``context`` is a CSS selector to audit one part (an open dialog);
    every violation, blocking or not, is written to ``test-artifacts/axe-NAME.txt``."""
    if not (PROJECT_ROOT / "planning_gis" / AXE_PATH.lstrip("/")).is_file():
        raise RuntimeError("axe-core is not in planning_gis/static/vendor: ./run.sh setup installs it"
                           " (frontend/package.json, frontend/build.sh)")
    if not pg.evaluate("typeof window.axe === 'object'"):
        pg.add_script_tag(url=AXE_PATH)
        pg.wait_for_function("typeof window.axe === 'object'")
    result = pg.evaluate(
        """async (ctx) => {
            const r = await axe.run(ctx ? document.querySelector(ctx) : document,
                                    {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '')
                                       .replace(/\\s+/g, ' ').slice(0, 200))}));
        }""", context)
    lines = [f"{v['id']} [{v['impact']}] {v['help']}: " + " | ".join(v["nodes"][:4])
             for v in result]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [line for v, line in zip(result, lines, strict=True) if v["impact"] in blocking]


@pytest.fixture
def page(browser, live_server):
    """A desktop page (1280 × 800), watched by :func:`open_watched_page`."""
    pg = open_watched_page(browser, viewport={"width": 1280, "height": 800})
    yield pg
    pg.context.close()
    assert pg.csp_violations == []


@pytest.fixture
def phone(browser, live_server):
    """A 390 × 844 touch phone, watched like the page fixture."""
    pg = open_watched_page(browser, viewport={"width": 390, "height": 844},
                           device_scale_factor=2, is_mobile=True, has_touch=True)
    yield pg
    pg.context.close()
    assert pg.csp_violations == []


@pytest.fixture
def small_phone(browser, live_server):
    """A 360 × 740 touch phone (the narrowest the issue asks for), watched like the page fixture."""
    pg = open_watched_page(browser, viewport={"width": 360, "height": 740},
                           device_scale_factor=2, is_mobile=True, has_touch=True)
    yield pg
    pg.context.close()
    assert pg.csp_violations == []
