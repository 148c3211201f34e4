"""Backups of the service and their restore: the database (``pg_dump -Fc``) and the data folder.

What must survive the loss of the machines is the database and the content-addressed files in
``var/`` (scans, COGs, previews, stored documents): everything else (the search index, the
per-process caches, nginx's cache, the PMTiles of ``publish static``) is rebuilt from them.
The session key is deliberately left out: it belongs in the secret store, not beside the data.

A backup is one folder: ``database.dump`` (custom format, restorable table by table), the
files under ``files/`` at their relative paths, and ``manifest.json`` with the schema revision,
the extensions the dump needs, the row count of every table and the sha256 of every file.
The restore checks the manifest at every step: a file whose bytes are not what the manifest
says is refused, and the restored database must hold the same number of rows in every table.

A restore goes to a *new* empty database (never over a live one): the operator points
``PLANNING_DATABASE_URL`` at it once it is checked. The extensions (PostGIS...) are created
before the dump's objects, so that a service role without superuser can restore into a
database where the superuser (or the template) has made them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from planning_gis.errors import Conflict, InvalidInput, PlanningError, StorageUnavailable
from planning_gis.settings import Settings

#: The folders of the data directory a backup holds (the content-addressed stores).
BACKED_UP_FOLDERS = ("scans", "cogs", "previews", "documents")
MANIFEST = "manifest.json"
DUMP = "database.dump"
FORMAT = 1
_CHUNK = 1 << 20


class BackupFailed(PlanningError):
    """pg_dump/pg_restore failed, or what was restored is not what was backed up."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    tables: int
    rows: int
    files: int
    bytes: int
    seconds: float

    def line(self, verb: str) -> str:
        return (f"{verb} {self.folder}: {self.tables} tables, {self.rows} rows, {self.files} files "
                f"({self.bytes / 1e6:.1f} MB) in {self.seconds:.1f} s")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(database_url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection options and environment for a SQLAlchemy URL (the password
    goes in the environment, not in the command line that ``ps`` shows)."""
    url = make_url(database_url)
    args = ["-d", url.database or ""]
    if url.host:
        args += ["-h", url.host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def run_tool(cmd: list[str], what: str, env: dict[str, str] | None = None,
             timeout: float = 6 * 3600, package: str = "postgresql-client") -> str:
    """A PostgreSQL program's standard output; its last error line as a ``BackupFailed``
    (also for a program missing: ``package`` is the Debian package that brings it)."""
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise BackupFailed(f"{cmd[0]} is not installed (Debian's {package})") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupFailed(f"{what} failed: {detail}")
    return done.stdout


def _quote(conn: Connection, schema: str, table: str) -> str:
    q = conn.dialect.identifier_preparer.quote
    return f"{q(schema)}.{q(table)}"


def row_counts(conn: Connection) -> dict[str, int]:
    """The exact row count of every table outside the system schemas ("schema.table" keys)."""
    tables = conn.execute(text(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2")).all()
    return {f"{s}.{t}": conn.execute(text(f"SELECT count(*) FROM {_quote(conn, s, t)}"))
            .scalar_one() for s, t in tables}


def data_files(data_dir: Path) -> Iterator[Path]:
    """The files a backup holds, relative to the data folder, in a stable order."""
    for folder in BACKED_UP_FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(data_dir)


def create_backup(settings: Settings, dest: Path) -> BackupSummary:
    """Dump the database and copy the data files into ``dest`` (new or empty)."""
    started = time.perf_counter()
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"backup folder {dest} is not empty: give a new folder",
                       message_vi=f"Thư mục sao lưu {dest} không trống")
    dest.mkdir(parents=True, exist_ok=True)
    engine = create_engine(make_url(settings.database_url))
    try:
        # The counts and the dump describe one snapshot: pg_dump exports nothing we could share,
        # so the counts are read in a repeatable-read transaction whose snapshot pg_dump takes.
        with engine.connect() as conn:
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = row_counts(conn)
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            extensions = conn.execute(text(
                "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY oid"
            )).scalars().all()
            args, env = _libpq(settings.database_url)
            run_tool(["pg_dump", "-Fc", "--no-owner", "--no-privileges",
                      f"--snapshot={snapshot}", "-f", str(dest / DUMP), *args], "pg_dump", env)
            conn.rollback()
    finally:
        engine.dispose()
    files: dict[str, dict] = {}
    data_dir = settings.data_path
    total = 0
    for rel in data_files(data_dir):
        target = dest / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / rel, target)
        size = target.stat().st_size
        files[rel.as_posix()] = {"sha256": sha256_file(target), "size": size}
        total += size
    manifest = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "revision": revision,
        "extensions": list(extensions),
        "dump_sha256": sha256_file(dest / DUMP),
        "row_counts": counts,
        "files": files,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                 encoding="utf-8")
    return BackupSummary(dest, len(counts), sum(counts.values()), len(files), total,
                         time.perf_counter() - started)


def read_manifest(src: Path) -> dict:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{src} is not a backup: {MANIFEST} is missing",
                           message_vi=f"{src} không phải bản sao lưu") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{path} is not valid JSON",
                           message_vi=f"{path} không hợp lệ") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path}: unknown backup format",
                           message_vi="Định dạng bản sao lưu không được hỗ trợ")
    return manifest


def _safe_relative(rel: str) -> Path:
    """A manifest's file path, refused when it would leave the data folder."""
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts or \
            path.parts[0] not in BACKED_UP_FOLDERS:
        raise InvalidInput(f"backup names a file outside the data folder: {rel!r}",
                           message_vi="Bản sao lưu có đường dẫn tệp không hợp lệ")
    return path


def _check_empty(conn: Connection) -> None:
    tables = conn.execute(text(
        "SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        " AND table_name <> 'spatial_ref_sys'")).scalar_one()
    if tables:
        raise Conflict("the target database is not empty: restore into a new database",
                       message_vi="Cơ sở dữ liệu đích không trống: hãy khôi phục vào CSDL mới")


def restore_backup(settings: Settings, src: Path) -> BackupSummary:
    """Restore the backup in ``src`` into the (empty) database and data folder of ``settings``,
    then check that every table has the rows and every file the bytes the manifest records."""
    started = time.perf_counter()
    manifest = read_manifest(src)
    dump = src / DUMP
    if not dump.is_file() or sha256_file(dump) != manifest.get("dump_sha256"):
        raise InvalidInput(f"{dump} is missing or not the file the backup made",
                           message_vi="Tệp sao lưu CSDL bị thiếu hoặc bị thay đổi")
    files = {_safe_relative(rel): meta for rel, meta in manifest.get("files", {}).items()}
    engine = create_engine(make_url(settings.database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            _check_empty(conn)
            for ext in manifest.get("extensions", []):
                if not str(ext).replace("_", "").isalnum():
                    raise InvalidInput(f"backup names an odd extension {ext!r}")
                try:
                    conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{ext}"'))
                except Exception as exc:  # noqa: BLE001 - reported as what to do
                    raise BackupFailed(
                        f"extension {ext} is missing in the target database and this role may "
                        f"not create it: CREATE EXTENSION {ext}; as a superuser first") from exc
        # The files first (idempotent: a file already there with its bytes is kept), so that a
        # restore stopped by a missing or damaged file can simply be run again: the database,
        # restored last in one transaction, is what makes the target non-empty.
        total = 0
        data_dir = settings.data_path
        for rel, meta in files.items():
            source = src / "files" / rel
            target = data_dir / rel
            if target.is_file() and sha256_file(target) == meta["sha256"]:
                total += meta["size"]
                continue
            if not source.is_file():
                raise StorageUnavailable(f"backup file {source} is missing")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.restoring")
            shutil.copyfile(source, partial)
            if sha256_file(partial) != meta["sha256"]:
                partial.unlink()
                raise BackupFailed(
                    f"backup file {source} is not the file backed up (sha256 differs)")
            os.replace(partial, target)
            total += meta["size"]
        # The extensions exist: every entry of the dump but theirs is restored, in one
        # transaction (a failure leaves the new database empty).
        args, env = _libpq(settings.database_url)
        listing = run_tool(["pg_restore", "--list", str(dump)], "pg_restore --list", env)
        # PostGIS's own rows of spatial_ref_sys come with the extension; pg_dump also writes
        # them as the table's data, which would collide. Rows of our own there would show
        # in the row counts compared below.
        keep = [line for line in listing.splitlines()
                if " EXTENSION " not in line and " COMMENT - EXTENSION " not in line
                and "TABLE DATA public spatial_ref_sys " not in line]
        with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
            fh.write("\n".join(keep) + "\n")
            list_path = fh.name
        try:
            run_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                      "--single-transaction", "-L", list_path, *args, str(dump)], "pg_restore",
                     env)
        finally:
            os.unlink(list_path)
        with engine.connect() as conn:
            # pg_restore brings no planner statistics: without them the first queries of a
            # restored city (tiles, look-ups) are planned blind until autovacuum gets there.
            conn.execute(text("ANALYZE"))
            counts = row_counts(conn)
    finally:
        engine.dispose()
    expected = manifest.get("row_counts", {})
    wrong = {t: (n, counts.get(t)) for t, n in expected.items() if counts.get(t) != n}
    if wrong:
        raise BackupFailed(f"restored row counts differ (table: backed up, restored): {wrong}")
    return BackupSummary(src, len(counts), sum(counts.values()), len(files), total,
                         time.perf_counter() - started)
