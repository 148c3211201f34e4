"""``./run.sh cluster`` itself, as an operator (and bench/cluster.py) runs it: the tiny demo in
a private primary on ports of the test's own, WAL archived, a replica, two nodes, nginx; TERM
at any step stops everything it started, the PostgreSQL servers included (pg_ctl starts them
in a session of their own, out of reach of a signal to the script's process group).

Bounded: the tiny demo, three starts, ~90-150 s on a loaded 2-core machine; 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from planning_gis.settings import PROJECT_ROOT
from tests.ops.conftest import PG_BIN, free_port

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None or not (PG_BIN / "initdb").exists(),
                                reason="nginx or PostgreSQL 15 binaries absent")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class RunSh:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(["bash", str(PROJECT_ROOT / "run.sh"), "cluster", *args],
                                     cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = _ANSI.sub("", raw.rstrip("\n"))
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("run.sh exited:\n" + "\n".join(self.output[-30:]))
            if text in line:
                return
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.output[-30:]))

    def terminate(self, timeout: float = 90) -> int:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        status = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return status


def _servers_running(cluster_dir: Path) -> list[str]:
    return [n for n in ("primary", "replica") if (cluster_dir / n / "postmaster.pid").exists()]


def _wait_streaming(conn: psycopg.Connection, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                       ).fetchone()[0] != 1:
        assert time.monotonic() < deadline, "the replica does not stream from the primary"
        time.sleep(0.5)


def test_run_sh_cluster_comes_up_archives_wal_and_stops_whole():
    work = Path(tempfile.mkdtemp(prefix="planning-run-cluster-"))
    work.chmod(0o755)
    cluster_dir = work / "cluster"
    ports = {"CLUSTER_PG_PORT": free_port(), "CLUSTER_REPLICA_PORT": free_port(),
             "CLUSTER_PORT": free_port()}
    nodes = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLANNING_DATABASE_URL", "PLANNING_READ_DATABASE_URL",
                                "PLANNING_SECRET_KEY"))}
    env.update({k: str(v) for k, v in ports.items()})
    env.update({"CLUSTER_NODE_PORTS": " ".join(map(str, nodes)), "PLANNING_DATA_DIR": str(work),
                "PLANNING_VENV": str(Path(sys.executable).parent.parent),
                "PLANNING_SKIP_SETUP": "1", "WORKERS": "1", "THREADS": "2"})
    try:
        # TERM during initdb, right after it starts: the next start must not trip over what it
        # left (it once refused to: "directory exists but is not empty").
        zero = RunSh(["--size", "tiny"], env)
        zero.wait_for("creating the cluster's PostgreSQL primary", 120)
        assert zero.terminate() == 143
        assert not (cluster_dir / "primary" / "PG_VERSION").exists()

        # TERM while the set-up is under way (the primary started, the demo loading).
        first = RunSh(["--size", "tiny"], env)
        first.wait_for("creating the cluster's PostgreSQL primary", 120)
        deadline = time.monotonic() + 60
        while not _servers_running(cluster_dir):
            assert time.monotonic() < deadline, "the primary did not start"
            time.sleep(0.2)
        assert first.terminate() == 143
        assert _servers_running(cluster_dir) == [], "\n".join(first.output[-20:])

        # Up in full: URLs printed, ready through nginx, the primary archiving its WAL.
        second = RunSh(["--size", "tiny"], env)
        second.wait_for("cluster up:", 300)
        proxy = f"http://127.0.0.1:{ports['CLUSTER_PORT']}"
        with urllib.request.urlopen(f"{proxy}/api/ready", timeout=10) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"{proxy}/pmtiles/zones.json", timeout=10) as resp:
            assert resp.status == 200
        with psycopg.connect(host="127.0.0.1", port=ports["CLUSTER_PG_PORT"], user="postgres",
                             dbname="planning", autocommit=True) as conn:
            assert conn.execute("SHOW archive_mode").fetchone()[0] == "on"
            _wait_streaming(conn)
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
            deadline = time.monotonic() + 30
            while not (cluster_dir / "wal-archive" / segment).is_file():
                assert time.monotonic() < deadline, "segment not archived within 30 s"
                time.sleep(0.2)
        with psycopg.connect(host="127.0.0.1", port=ports["CLUSTER_REPLICA_PORT"],
                             user="postgres", dbname="planning") as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
            assert conn.execute("SELECT count(*) FROM land_use_zones").fetchone()[0] > 0
        assert second.terminate() == 143
        assert _servers_running(cluster_dir) == []
        assert "cluster stopped" in second.output[-1]
        for port in (*nodes, ports["CLUSTER_PORT"]):
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/live", timeout=2)

        # Started again with the primary on another port: the replica made by the second run
        # (its primary_conninfo written by pg_basebackup -R) follows it.
        env["CLUSTER_PG_PORT"] = str(free_port())
        third = RunSh(["--size", "tiny"], env)
        third.wait_for("cluster up:", 300)
        with psycopg.connect(host="127.0.0.1", port=int(env["CLUSTER_PG_PORT"]),
                             user="postgres", dbname="planning", autocommit=True) as conn:
            _wait_streaming(conn)
        assert third.terminate() == 143
        assert _servers_running(cluster_dir) == []
    finally:
        for name in ("replica", "primary"):
            data = cluster_dir / name
            if (data / "postmaster.pid").exists():
                st = data.stat()
                subprocess.run([*(["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}",
                                   "--clear-groups"] if os.geteuid() == 0 else []),
                                str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                "stop"], capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def test_a_failed_step_stops_the_servers_it_started():
    """A backup folder that is no backup: the restore fails after the primary started; run.sh
    exits non-zero with the restore's one-line error and leaves no server running."""
    work = Path(tempfile.mkdtemp(prefix="planning-run-cluster-"))
    work.chmod(0o755)  # the service user reads the backup folder inside it
    bad = work / "not-a-backup"
    bad.mkdir(mode=0o755)
    (bad / "manifest.json").write_text('{"format": 1}')
    (bad / "manifest.json").chmod(0o644)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLANNING_DATABASE_URL", "PLANNING_READ_DATABASE_URL",
                                "PLANNING_SECRET_KEY"))}
    env.update({"CLUSTER_PG_PORT": str(free_port()), "CLUSTER_REPLICA_PORT": str(free_port()),
                "CLUSTER_PORT": str(free_port()),
                "CLUSTER_NODE_PORTS": f"{free_port()} {free_port()}",
                "PLANNING_DATA_DIR": str(work), "PLANNING_SKIP_SETUP": "1",
                "PLANNING_VENV": str(Path(sys.executable).parent.parent)})
    try:
        done = subprocess.run(["bash", str(PROJECT_ROOT / "run.sh"), "cluster", "--restore",
                               str(bad)], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode != 0
        assert "error: " in done.stdout + done.stderr
        assert (work / "cluster" / "primary" / "PG_VERSION").is_file()  # it had started
        assert _servers_running(work / "cluster") == []
    finally:
        data = work / "cluster" / "primary"
        if (data / "postmaster.pid").exists():
            st = data.stat()
            subprocess.run([*(["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}",
                               "--clear-groups"] if os.geteuid() == 0 else []),
                            str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)
