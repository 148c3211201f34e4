"""``import_maps.py backup``: back up the database and the data folder, and restore a backup."""

from __future__ import annotations

import argparse
from pathlib import Path

from planning_gis import backup, pitr
from planning_gis.settings import get_settings


def _create(args: argparse.Namespace) -> int:
    print(backup.create_backup(get_settings(), Path(args.folder)).line("backed up into"))
    return 0


def _restore(args: argparse.Namespace) -> int:
    summary = backup.restore_backup(get_settings(), Path(args.folder))
    print(summary.line("restored from") + "; row counts and file sha256 match the backup")
    return 0


def _base(args: argparse.Namespace) -> int:
    url = args.server_url or get_settings().database_url
    print(pitr.base_backup(url, Path(args.folder), user=args.user).line())
    return 0


def _pitr(args: argparse.Namespace) -> int:
    target = pitr.parse_target(args.time)
    done = pitr.restore_to_time(Path(args.base), Path(args.wal_archive), target, Path(args.into),
                                port=args.port)
    print(done.line())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="backups: pg_dump -Fc of the database + the data files; "
                                      "base backups and point-in-time recovery")
    bsub = p.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    create = bsub.add_parser("create", help="write a backup into a new (or empty) folder")
    create.add_argument("folder")
    create.set_defaults(func=_create)
    restore = bsub.add_parser(
        "restore", help="restore a backup into the EMPTY database of PLANNING_DATABASE_URL and "
                        "the data folder PLANNING_DATA_DIR, checking row counts and sha256")
    restore.add_argument("folder")
    restore.set_defaults(func=_restore)
    base = bsub.add_parser(
        "base", help="pg_basebackup of the whole PostgreSQL cluster into a NEW folder, checked "
                     "with pg_verifybackup (with the WAL archive: point-in-time recovery)")
    base.add_argument("folder")
    base.add_argument("--server-url", default=None,
                      help="the server to copy (default: PLANNING_DATABASE_URL's)")
    base.add_argument("--user", default=None,
                      help="a role with REPLICATION (default: the URL's; the cluster's: postgres)")
    base.set_defaults(func=_base)
    p_pitr = bsub.add_parser(
        "pitr", help="restore a base backup + archived WAL into a NEW data folder, as the "
                     "database was at --time; the folder is left stopped, ready to start")
    p_pitr.add_argument("base", help="a folder of backup base")
    p_pitr.add_argument("--wal-archive", required=True,
                        help="the archive_command's folder (run.sh cluster: var/cluster/wal-archive)")
    p_pitr.add_argument("--time", required=True,
                        help="ISO 8601 with its offset, e.g. 2026-11-30T15:00:00+07:00")
    p_pitr.add_argument("--into", required=True, help="the new data folder (new or empty)")
    p_pitr.add_argument("--port", type=int, default=None,
                        help="the private port the recovery runs on (default: a free one)")
    p_pitr.set_defaults(func=_pitr)
