"""A PostgreSQL cluster of the test's own, which a test may restart.

The shared cluster (15/main) serves every engineer's tests and must never be restarted; a test
of what a restart does to the service gets a private cluster: ``initdb`` into a temporary
folder (as the ``postgres`` user when we are root), its own port, PostGIS from the installed
packages, ``fsync=off`` (nothing here needs to survive a crash).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from planning_gis import db, legend, migrate
from planning_gis.settings import PROJECT_ROOT, Settings

PG_BIN = Path(os.environ.get("PLANNING_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PrivateCluster:
    root: Path
    port: int
    #: ``pg_ctl start -o`` options (kept to start a stopped server again as it was).
    start_options: str = ""

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.datadir),
                        "-l", str(self.root / "server.log"), *args],
                       check=True, capture_output=True, timeout=timeout)

    def stop(self) -> None:
        """Stop at once (as a crash or a pulled cable: sessions are cut)."""
        self.pg_ctl("stop", "-m", "immediate")

    def start(self) -> None:
        self.pg_ctl("start", "-w", "-o", self.start_options)

    def restart(self) -> None:
        """Stop (fast: every session is terminated, as a package upgrade does) and start again;
        returns once the server accepts connections."""
        self.pg_ctl("restart", "-w", "-m", "fast")

    def url(self, database: str, user: str = "planning", password: str = "planning") -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"


def private_folder(prefix: str) -> Path:
    """A temporary folder the PostgreSQL programs may write (``postgres``'s when we are root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    return root


def new_private_cluster(extra_options: str = "", prefix: str = "planning-pg-") -> PrivateCluster:
    """initdb + start of a cluster of the caller's own (``extra_options``: more ``-c``)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries absent ({PG_BIN}/initdb): ./run.sh setup installs them")
    root = private_folder(prefix)
    cluster = PrivateCluster(root, free_port())
    cluster.start_options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1"
                             " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                             f" {extra_options}")
    subprocess.run([*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(cluster.datadir),
                    "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                    "--locale", "C.UTF-8"], check=True, capture_output=True, timeout=120)
    cluster.pg_ctl("start", "-w", "-o", cluster.start_options)
    return cluster


def remove_private_cluster(cluster: PrivateCluster) -> None:
    try:
        cluster.pg_ctl("stop", "-m", "immediate")
    except subprocess.CalledProcessError:
        pass  # stopped already
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = new_private_cluster()
    try:
        yield cluster
    finally:
        remove_private_cluster(cluster)


@pytest.fixture(scope="module")
def private_settings(private_cluster: PrivateCluster, tmp_path_factory) -> Settings:
    """A migrated database with the tiny demo in the private cluster, and a data folder."""
    import psycopg

    admin = private_cluster.url("postgres", user="postgres", password="")
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE ROLE planning LOGIN PASSWORD 'planning' CREATEDB")
        conn.execute("CREATE DATABASE planning OWNER planning")
    # The extensions are the superuser's to create (the service role is no superuser).
    with psycopg.connect(private_cluster.url("planning", user="postgres", password="")
                         .replace("+psycopg", ""), autocommit=True) as conn:
        for ext in ("postgis", "unaccent", "pg_trgm"):
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
    data = tmp_path_factory.mktemp("restart-data")
    s = Settings.from_env(database_url=private_cluster.url("planning"), data_dir=str(data),
                          demo_size="tiny", secret_key=secrets.token_urlsafe(48))
    migrate.upgrade("head", s)
    with db.session_scope(s) as session:
        legend.load_legend(session)
    from planning_gis.demo import load_demo

    load_demo(s)
    return s


def service_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "PLANNING_DATABASE_URL": settings.database_url,
            "PLANNING_DATA_DIR": settings.data_dir, "PLANNING_SECRET_KEY": settings.secret_key,
            "PLANNING_DEMO_SIZE": settings.demo_size, "PYTHONPATH": str(PROJECT_ROOT)}


def start_gunicorn(settings: Settings, port: int, workers: int = 2, threads: int = 4,
                   new_session: bool = False, **extra_env: str) -> subprocess.Popen:
    """gunicorn as run.sh and the live-server fixture start it; returns once the port opens.

    ``new_session``: its own process group, so that a test can kill the node (master and
    workers) at once with ``os.killpg``."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config", "--workers",
         str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "server:create_app()"],
        cwd=PROJECT_ROOT, env={**service_env(settings), **extra_env},
        start_new_session=new_session)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def start_worker(settings: Settings) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "import_maps.py"), "jobs",
                             "run", "--poll", "0.2"], cwd=PROJECT_ROOT,
                            env=service_env(settings))


def make_replica(primary: PrivateCluster, prefix: str = "planning-pg-replica-") -> PrivateCluster:
    """A streaming replica of ``primary`` made as an operator makes one: ``pg_basebackup -R``
    (which writes ``standby.signal`` and the ``primary_conninfo``), started on its own port."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    replica = PrivateCluster(root, free_port())
    subprocess.run([*_as_postgres(), str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                    str(primary.port), "-U", "postgres", "-D", str(replica.datadir), "-R",
                    "-X", "stream", "--no-sync", "-c", "fast"],
                   check=True, capture_output=True, timeout=300)
    replica.start_options = (f"-p {replica.port} -k {root} -c listen_addresses=127.0.0.1"
                             " -c fsync=off -c hot_standby_feedback=on")
    replica.pg_ctl("start", "-w", "-o", replica.start_options)
    return replica


@pytest.fixture(scope="module")
def private_replica(private_cluster: PrivateCluster, private_settings: Settings
                    ) -> Iterator[PrivateCluster]:
    """A streaming replica of the private cluster, with the tiny demo already loaded."""
    replica = make_replica(private_cluster)
    try:
        yield replica
    finally:
        try:
            replica.pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass  # a test left it stopped
        finally:
            shutil.rmtree(replica.root, ignore_errors=True)
