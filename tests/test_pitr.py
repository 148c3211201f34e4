"""Point-in-time recovery (planning_gis/pitr.py, ``import_maps.py backup base|pitr``) and the
WAL archiving script of ``run.sh cluster`` (planning_gis/data/wal-archive.sh).

A private PostgreSQL cluster (tests/ops/conftest.py: its own port on 127.0.0.1, never the
shared one) archives its WAL with the script; rows are written, a base backup is taken, more
rows are written, the time is noted, more rows after it; the backup + the archive are restored
to that time into a new folder, which is started and must hold exactly the rows committed
before it. Bounded: a few MB of WAL, ~15 s.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from planning_gis import pitr
from planning_gis.errors import InvalidInput
from planning_gis.settings import PROJECT_ROOT
from tests.ops.conftest import (
    PrivateCluster,
    free_port,
    new_private_cluster,
    private_folder,
    remove_private_cluster,
)

ARCHIVE_SH = PROJECT_ROOT / "planning_gis" / "data" / "wal-archive.sh"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PLANNING_SECRET_KEY": "k" * 48}
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "import_maps.py"), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def _sql(cluster: PrivateCluster | int, query: str):
    port = cluster if isinstance(cluster, int) else cluster.port
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                         dbname="postgres", autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


def _insert(cluster: PrivateCluster, n: int, phase: str) -> None:
    _sql(cluster, f"INSERT INTO probe (phase) SELECT '{phase}' FROM generate_series(1, {n})")


def test_wal_archive_script_never_overwrites(tmp_path):
    seg = tmp_path / "000000010000000000000001"
    seg.write_bytes(os.urandom(1024))
    archive = tmp_path / "archive"
    archive.mkdir()
    run = [str(ARCHIVE_SH), str(seg), str(archive / seg.name)]
    assert subprocess.run(run, capture_output=True).returncode == 0
    assert (archive / seg.name).read_bytes() == seg.read_bytes()
    # Again with the same bytes (PostgreSQL retrying after a crash): archived, success.
    assert subprocess.run(run, capture_output=True).returncode == 0
    # Other bytes under the same name: refused, the archived copy kept.
    kept = seg.read_bytes()
    seg.write_bytes(os.urandom(1024))
    done = subprocess.run(run, capture_output=True, text=True)
    assert done.returncode != 0 and "not overwritten" in done.stderr
    assert (archive / seg.name).read_bytes() == kept
    assert sorted(p.name for p in archive.iterdir()) == [seg.name]  # no temporary left


@pytest.fixture
def archiving_cluster():
    archive = private_folder("planning-wal-")
    command = f'"{ARCHIVE_SH}" "%p" "{archive}/%f"'
    cluster = new_private_cluster(f"-c archive_mode=on -c archive_command='{command}'",
                                  prefix="planning-pg-pitr-")
    try:
        yield cluster, archive
    finally:
        remove_private_cluster(cluster)
        subprocess.run(["rm", "-rf", str(archive)], check=False)


def test_restore_to_a_point_in_time(archiving_cluster):
    cluster, archive = archiving_cluster
    work = private_folder("planning-pitr-")
    restored = None
    try:
        _sql(cluster, "CREATE TABLE probe (id serial PRIMARY KEY, phase text NOT NULL,"
                      " at timestamptz NOT NULL DEFAULT clock_timestamp())")
        _insert(cluster, 1000, "before the base backup")
        base = work / "base"
        made = _cli("backup", "base", str(base), "--server-url", cluster.url("postgres"),
                    "--user", "postgres")
        assert made.returncode == 0, made.stderr
        print("\n" + made.stdout.strip())
        assert (base / "backup_manifest").is_file()
        _insert(cluster, 500, "after the backup, before the target")
        time.sleep(0.3)
        target = _sql(cluster, "SELECT clock_timestamp()")[0][0]
        time.sleep(0.3)
        _insert(cluster, 200, "after the target")
        # The segment holding the last writes is finished and archived (archive_timeout would
        # do it within minutes on the cluster).
        segment = _sql(cluster, "SELECT pg_walfile_name(pg_switch_wal())")[0][0]
        deadline = time.monotonic() + 30
        while _sql(cluster, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"
                   )[0][0] < segment:
            assert time.monotonic() < deadline, "WAL not archived within 30 s"
            time.sleep(0.2)
        assert (archive / segment).is_file()
        live = dict(_sql(cluster, "SELECT phase, count(*) FROM probe GROUP BY phase"))
        assert sum(live.values()) == 1700

        into = work / "restored"
        done = _cli("backup", "pitr", str(base), "--wal-archive", str(archive), "--time",
                    target.isoformat(), "--into", str(into))
        assert done.returncode == 0, done.stderr
        print(done.stdout.strip())
        assert "recovery stopping before commit" in done.stdout
        restored = free_port()
        # The restored folder is a cluster of its own, started like any other.
        subprocess.run([*(["setpriv", f"--reuid={into.stat().st_uid}",
                           f"--regid={into.stat().st_gid}", "--clear-groups"]
                          if os.geteuid() == 0 else []),
                        "/usr/lib/postgresql/15/bin/pg_ctl", "-D", str(into), "-l",
                        str(work / "restored.log"), "-w", "-o",
                        f"-p {restored} -k {work} -c listen_addresses=127.0.0.1",
                        "start"], check=True, capture_output=True, timeout=120)
        counts = dict(_sql(restored, "SELECT phase, count(*) FROM probe GROUP BY phase"))
        print(f"live {live}\nrestored to {target.isoformat()}: {counts}")
        assert counts == {"before the base backup": 1000,
                          "after the backup, before the target": 500}
        assert _sql(restored, "SELECT pg_is_in_recovery()")[0][0] is False
        assert _sql(restored, "SHOW archive_mode")[0][0] == "off"  # never into the archive read
        assert _sql(restored, "SELECT max(at) FROM probe")[0][0] < target
    finally:
        if restored is not None:
            subprocess.run([*(["setpriv", f"--reuid={work.stat().st_uid}",
                               f"--regid={work.stat().st_gid}", "--clear-groups"]
                              if os.geteuid() == 0 else []),
                            "/usr/lib/postgresql/15/bin/pg_ctl", "-D", str(work / "restored"),
                            "-m", "immediate", "stop"], capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_refusals_are_one_line(tmp_path):
    with pytest.raises(InvalidInput):
        pitr.parse_target("2026-11-30 15:00")  # no offset: which time zone?
    assert pitr.parse_target("2026-11-30T15:00:00Z") == dt.datetime(2026, 11, 30, 15,
                                                                     tzinfo=dt.UTC)
    not_empty = tmp_path / "busy"
    not_empty.mkdir()
    (not_empty / "x").write_text("x")
    base = tmp_path / "base"
    base.mkdir()
    for args in (["pitr", str(tmp_path), "--wal-archive", str(tmp_path), "--time", "yesterday",
                  "--into", str(tmp_path / "new")],
                 ["pitr", str(tmp_path), "--wal-archive", str(tmp_path), "--time",
                  "2026-11-30T15:00:00+07:00", "--into", str(tmp_path / "new")],
                 ["base", str(not_empty), "--server-url",
                  "postgresql+psycopg://u:p@127.0.0.1:1/x"]):
        done = _cli("backup", *args)
        assert done.returncode == 2 and done.stderr.startswith("error: "), (args, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
    assert not Path(tmp_path / "new").exists()
