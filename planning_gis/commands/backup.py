"""``import_maps.py backup``: back up the database and the data folder, and restore a backup."""

from __future__ import annotations

import argparse
from pathlib import Path

from planning_gis import backup
from planning_gis.settings import get_settings


def _create(args: argparse.Namespace) -> int:
    print(backup.create_backup(get_settings(), Path(args.folder)).line("backed up into"))
    return 0


def _restore(args: argparse.Namespace) -> int:
    summary = backup.restore_backup(get_settings(), Path(args.folder))
    print(summary.line("restored from") + "; row counts and file sha256 match the backup")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="backups: pg_dump -Fc of the database + the data files")
    bsub = p.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    create = bsub.add_parser("create", help="write a backup into a new (or empty) folder")
    create.add_argument("folder")
    create.set_defaults(func=_create)
    restore = bsub.add_parser(
        "restore", help="restore a backup into the EMPTY database of PLANNING_DATABASE_URL and "
                        "the data folder PLANNING_DATA_DIR, checking row counts and sha256")
    restore.add_argument("folder")
    restore.set_defaults(func=_restore)
