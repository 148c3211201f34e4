"""Point-in-time recovery: a base backup (``pg_basebackup``) plus the WAL archive.

The nightly ``pg_dump`` (planning_gis/backup.py) restores the database as it was at night; a
mistake at 15:00 (a plan deleted, a bad import) would cost the day's writes. With WAL archiving
on the primary (``archive_mode=on``, ``archive_command`` = planning_gis/data/wal-archive.sh,
as ``./run.sh cluster`` sets it) every WAL segment is kept, and a base backup + the segments
since restore the whole PostgreSQL cluster to any moment after the backup:

* :func:`base_backup`: ``pg_basebackup`` in plain format with the WAL it needs to be
  consistent (``-X stream``), checked at once with ``pg_verifybackup`` against the manifest
  it writes;
* :func:`restore_to_time`: a copy of the base backup in a NEW data folder, told to fetch the
  archived segments (``restore_command``), to stop at ``recovery_target_time`` and to promote
  there; the server is started on a private port until the recovery is done, then stopped:
  the folder is a cluster ready to start (``pg_ctl -D FOLDER start``), never the live one.

The restored copy does not archive (``archive_mode=off``): its new timeline must not mix with
the primary's segments in the archive it reads. PostgreSQL refuses to run as root, so as root
its programs run as the owner of the folder given (the service user or ``postgres``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from planning_gis.backup import BackupFailed, _libpq, run_tool
from planning_gis.errors import Conflict, InvalidInput

PG_BIN = Path(os.environ.get("PLANNING_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass(frozen=True)
class BaseBackup:
    folder: Path
    bytes: int
    seconds: float
    start_wal: str

    def line(self) -> str:
        return (f"base backup in {self.folder}: {self.bytes / 1e6:.1f} MB, verified, "
                f"starting at WAL {self.start_wal}, in {self.seconds:.1f} s")


@dataclass(frozen=True)
class Recovered:
    folder: Path
    stopped: str  # PostgreSQL's own words on where the recovery stopped
    seconds: float

    def line(self) -> str:
        return (f"restored into {self.folder} in {self.seconds:.1f} s: {self.stopped}; "
                f"start it with pg_ctl -D {self.folder} start")


def _as_owner(path: Path) -> list[str]:
    """The command prefix that runs a PostgreSQL program as ``path``'s owner when we are root."""
    if os.geteuid() != 0:
        return []
    st = path.stat()
    if st.st_uid == 0:
        raise InvalidInput(f"{path} belongs to root: PostgreSQL will not run as root; give the "
                           "folder to the database's user (chown postgres or the service user)",
                           message_vi=f"{path} thuộc root: PostgreSQL không chạy dưới root")
    return ["setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}", "--clear-groups"]


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None,
         timeout: float = 6 * 3600) -> str:
    """backup.run_tool for the server programs (pg_basebackup, pg_ctl: Debian's postgresql-15)."""
    return run_tool(cmd, what, env, timeout, package="postgresql-15")


def _empty_target(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise Conflict(f"{folder} is not empty: give a new folder",
                       message_vi=f"Thư mục {folder} không trống: hãy chọn thư mục mới")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def base_backup(server_url: str, dest: Path, user: str | None = None) -> BaseBackup:
    """``pg_basebackup`` of the server of ``server_url`` (a role with REPLICATION: ``user``,
    default the URL's) into ``dest`` (new or empty; its parent's owner runs it as root)."""
    started = time.perf_counter()
    dest = dest.resolve()
    _empty_target(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    prefix = _as_owner(dest.parent)
    args, env = _libpq(server_url)
    args = [a for i, a in enumerate(args) if not (a == "-d" or (i and args[i - 1] == "-d"))]
    if user:
        args = [a for i, a in enumerate(args) if not (a == "-U" or (i and args[i - 1] == "-U"))]
        args += ["-U", user]
    _run([*prefix, str(PG_BIN / "pg_basebackup"), *args, "-D", str(dest), "-F", "p", "-X",
          "stream", "-c", "fast", "--no-password", "-l", "planning base backup"],
         "pg_basebackup", env)
    _run([*prefix, str(PG_BIN / "pg_verifybackup"), str(dest)], "pg_verifybackup")
    label = (dest / "backup_label").read_text(encoding="utf-8")
    m = re.search(r"file (\w+)\)", label)
    return BaseBackup(dest, _size(dest), time.perf_counter() - started, m.group(1) if m else "?")


def parse_target(value: str) -> dt.datetime:
    """A recovery target time: ISO 8601 with its UTC offset (a time without one would be read
    in the server's time zone, which a restoring operator may not know)."""
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"--time {value!r} is not an ISO 8601 time "
                           "(e.g. 2026-11-30T15:00:00+07:00)",
                           message_vi="Thời điểm không hợp lệ (ISO 8601)") from None
    if when.tzinfo is None:
        raise InvalidInput(f"--time {value!r} needs its UTC offset (+07:00 or Z)",
                           message_vi="Thời điểm cần có múi giờ (+07:00 hoặc Z)")
    return when


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def restore_to_time(base: Path, wal_archive: Path, target: dt.datetime, into: Path,
                    port: int | None = None, timeout: float = 3600) -> Recovered:
    """Restore the base backup ``base`` + the segments of ``wal_archive`` into the new folder
    ``into``, as the cluster was at ``target``; ``into`` is left stopped, ready to start."""
    started = time.perf_counter()
    base, wal_archive, into = base.resolve(), wal_archive.resolve(), into.resolve()
    if not (base / "backup_label").is_file() or not (base / "PG_VERSION").is_file():
        raise InvalidInput(f"{base} is not a base backup (no backup_label): see backup base",
                           message_vi=f"{base} không phải bản sao lưu gốc")
    if not wal_archive.is_dir():
        raise InvalidInput(f"{wal_archive} is not a folder of archived WAL",
                           message_vi=f"{wal_archive} không phải thư mục WAL")
    _empty_target(into)
    prefix = _as_owner(base)
    # The copy keeps the owner and modes (PostgreSQL wants its folder 0700 and its own).
    if into.exists():
        into.rmdir()
    _run(["cp", "-a", str(base), str(into)], "copying the base backup")
    into.chmod(0o700)
    for leftover in ("standby.signal", "postmaster.pid", "backup_manifest"):
        (into / leftover).unlink(missing_ok=True)
    restore_command = f'cp "{wal_archive}/%f" "%p"'
    with open(into / "postgresql.auto.conf", "a", encoding="utf-8") as fh:
        fh.write("\n# Written by import_maps.py backup pitr (planning_gis/pitr.py).\n"
                 f"restore_command = {_conf_quote(restore_command)}\n"
                 f"recovery_target_time = {_conf_quote(target.isoformat())}\n"
                 "recovery_target_action = 'promote'\n"
                 "archive_mode = off\n"
                 "primary_conninfo = ''\n")
    (into / "recovery.signal").touch()
    if prefix:
        st = base.stat()
        for p in (into / "postgresql.auto.conf", into / "recovery.signal"):
            os.chown(p, st.st_uid, st.st_gid)
    log = into.parent / f"{into.name}.recovery.log"
    log.unlink(missing_ok=True)
    if prefix:
        log.touch()
        os.chown(log, base.stat().st_uid, base.stat().st_gid)
    port = port or _free_port()
    pg_ctl = [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(into)]
    try:
        _run([*pg_ctl, "-l", str(log), "-w", "-t", str(int(timeout)), "-o",
              f"-p {port} -c listen_addresses=127.0.0.1 -k {into}", "start"],
             "starting the restored server")
        # Promoted at the target: PostgreSQL removes recovery.signal. A target it cannot reach
        # (no archived commit after it) ends the server with a FATAL in the log.
        deadline = time.monotonic() + timeout
        while (into / "recovery.signal").exists():
            if subprocess.run([*pg_ctl, "status"], capture_output=True).returncode != 0:
                break
            if time.monotonic() > deadline:
                raise BackupFailed(f"recovery not finished after {timeout:.0f} s (see {log})")
            time.sleep(0.2)
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=300)
    text = log.read_text(encoding="utf-8", errors="replace")
    if (into / "recovery.signal").exists():
        fatal = [ln for ln in text.splitlines() if "FATAL" in ln] or ["see " + str(log)]
        raise BackupFailed(f"recovery to {target.isoformat()} failed: "
                           f"{fatal[-1].split('FATAL:', 1)[-1].strip()}")
    stops = [ln.split("LOG:", 1)[-1].strip() for ln in text.splitlines()
             if "recovery stopping" in ln or "last completed transaction" in ln]
    return Recovered(into, "; ".join(stops) or "recovered to the end of the archive",
                     time.perf_counter() - started)
